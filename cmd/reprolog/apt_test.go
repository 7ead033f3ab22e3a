package main

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reprolog/reprolog/client"
	"github.com/reprolog/reprolog/internal/debtest"
	"github.com/reprolog/reprolog/internal/nettest"
	"github.com/reprolog/reprolog/internal/testbin"
	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/pgp/pgptest"
	"github.com/reprolog/reprolog/proofs/prooftest"
)

// aptEnv is a real log, rebuilders, a local apt repository and a
// throwaway root in which the real apt-get runs reprolog's hooks.
type aptEnv struct {
	t       *testing.T
	dir     string
	bin     string
	log     *logtest.Log
	signers map[string]*pgptest.Signer
	repo    *debtest.Repo
	root    *debtest.Root
	policy  string
}

func newAptEnv(t *testing.T) *aptEnv {
	debtest.Need(t, "apt-get", "dpkg", "dpkg-deb", "dpkg-scanpackages")
	e := &aptEnv{t: t, dir: t.TempDir(), bin: testbin.Build(t, "reprolog"), log: logtest.Start(t),
		signers: map[string]*pgptest.Signer{}, repo: debtest.NewRepo(t)}
	for _, name := range []string{"alice", "bob", "carol"} {
		s := pgptest.NewSigner(t, name)
		e.signers[name] = s
		e.log.Register(t, s.PublicArmored())
		if err := os.WriteFile(filepath.Join(e.dir, name+".asc"), s.PublicArmored(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.policy = filepath.Join(e.dir, "policy")
	e.setLog(e.log.URL)
	e.root = debtest.NewRoot(t, e.repo)
	return e
}

// setLog writes the policy (K=2 of alice, bob, carol) naming url.
func (e *aptEnv) setLog(url string) {
	text := "Log-URL: " + url + "\nLog-Key: " + e.log.VKey + "\nState-Dir: state\nTimeout: 2s\n"
	for _, name := range []string{"alice", "bob", "carol"} {
		text += "\nBuilder: " + name + "\nKey-File: " + name + ".asc\n"
	}
	if err := os.WriteFile(e.policy, []byte(text), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// add builds a package into the repository.
func (e *aptEnv) add(name, version, content string) debtest.Deb {
	return e.repo.Add(e.t, debtest.Package{Name: name, Version: version, Content: content})
}

// rebuilt has a rebuilder submit a build of d's source listing d.
func (e *aptEnv) rebuilt(who string, d debtest.Deb) {
	e.log.Submit(e.t, prooftest.Record(e.t, e.signers[who], prooftest.Build{Source: d.Name, Version: d.Version,
		Debs: []prooftest.Deb{{Package: d.Name, Arch: d.Arch, SHA256: d.SHA256, Size: d.Size}}}))
}

func (e *aptEnv) aptGet(args ...string) (string, int) {
	e.t.Helper()
	return e.root.AptGet(e.t, args...)
}

func (e *aptEnv) installed(pkg string) bool {
	status, err := os.ReadFile(e.root.Status())
	if err != nil {
		e.t.Fatal(err)
	}
	return strings.Contains(string(status), "Package: "+pkg+"\nStatus: install ok installed\n")
}

func (e *aptEnv) check(args ...string) (string, string, int) {
	e.t.Helper()
	return testbin.Run(e.t, e.bin, append([]string{"check", "--policy", e.policy, "--status", e.root.Status(),
		"--lists", e.root.Lists()}, args...)...)
}

func TestAptInstall(t *testing.T) {
	e := newAptEnv(t)
	arch := debtest.Arch()
	hello := e.add("hello", "2.10-3", "hello")
	e.add("lone", "1.0-1", "lone")
	evil := e.add("evil", "1:2.0-1", "evil")
	extra := e.add("extra", "1.0-1", "extra")
	e.repo.Index(t)
	lone := debtest.Build(t, t.TempDir(), debtest.Package{Name: "lone", Version: "1.0-1", Content: "lone"})
	evilRebuilt := debtest.Build(t, t.TempDir(), debtest.Package{Name: "evil", Version: "1:2.0-1", Content: "as its source builds it"})
	helloOther := debtest.Build(t, t.TempDir(), debtest.Package{Name: "hello", Version: "2.10-3", Content: "other"})
	helloNew := debtest.Build(t, t.TempDir(), debtest.Package{Name: "hello", Version: "2.10-3", Content: "newer toolchain"})
	for _, who := range []string{"alice", "bob"} {
		e.rebuilt(who, hello)
		e.rebuilt(who, extra)
		e.rebuilt(who, evilRebuilt)
	}
	e.rebuilt("alice", lone)
	e.rebuilt("carol", evil)

	proofs := filepath.Join(e.dir, "proofs")
	if _, stderr, code := testbin.Run(t, e.bin, "install-hooks", "--root", e.root.Dir, "--policy", e.policy, "--bin", e.bin,
		"--status", e.root.Status(), "--lists", e.root.Lists(), "--proofs", proofs); code != 0 {
		t.Fatalf("install-hooks: %d %s", code, stderr)
	}
	if out, code := e.aptGet("update"); code != 0 || strings.Contains(out, "reprolog") {
		t.Fatalf("apt-get update: %d\n%s", code, out)
	}

	// A reproduced, an insufficient and a conflicting package in one call:
	// one message per refused package, and apt stops before dpkg unpacks
	// any of them, the reproduced one included.
	out, code := e.aptGet("install", "hello", "lone", "evil")
	if code == 0 || e.installed("hello") || e.installed("lone") || e.installed("evil") || strings.Contains(out, "Unpacking") ||
		strings.Count(out, "reprolog: refusing ") != 2 || strings.Contains(out, "reprolog: cannot decide") ||
		!strings.Contains(out, "reprolog: refusing lone 1.0-1 ("+arch+"): not enough rebuilders yet: only alice reproduced it so far (1 of the 2 needed)") ||
		!strings.Contains(out, "add lone to Allow in "+e.policy) ||
		!strings.Contains(out, "reprolog: refusing evil 1:2.0-1 ("+arch+"): rebuilders disagree: alice, bob built a different binary") ||
		!strings.Contains(out, "reprolog: 2 of 3 packages refused: apt stops before installing anything\n") ||
		strings.Count(out, " (removed from apt's cache)\n") != 2 {
		t.Fatalf("install hello lone evil: %d\n%s", code, out)
	}
	// The refused files are gone from apt's cache; the reproduced one stays.
	archives := filepath.Join(e.root.Dir, "var/cache/apt/archives")
	for name, want := range map[string]int{"hello": 1, "lone": 0, "evil": 0} {
		if m, _ := filepath.Glob(filepath.Join(archives, name+"_*.deb")); len(m) != want {
			t.Errorf("%s in apt's cache: %v", name, m)
		}
	}

	// Reproduced by two of three: installs, and the hook says nothing.
	out, code = e.aptGet("install", "hello")
	if code != 0 || strings.Contains(out, "reprolog") || !e.installed("hello") {
		t.Fatalf("install hello: %d\n%s", code, out)
	}

	// A user's own .deb is refused too, and left where it is.
	mine := debtest.Build(t, t.TempDir(), debtest.Package{Name: "mine", Version: "1.0-1", Content: "mine"})
	e.rebuilt("alice", mine)
	out, code = e.aptGet("install", mine.Path)
	if code == 0 || e.installed("mine") || !strings.Contains(out, "reprolog: refusing mine 1.0-1 ("+arch+"): not enough rebuilders yet") ||
		!strings.Contains(out, "  file: "+mine.Path+"\n") {
		t.Fatalf("install %s: %d\n%s", mine.Path, code, out)
	}
	if _, err := os.Stat(mine.Path); err != nil {
		t.Errorf("the user's own .deb was removed: %v", err)
	}

	// Every decision is journaled, refused ones too, and none of the
	// refused packages as passing.
	journal, err := os.ReadFile(filepath.Join(e.dir, "state", "decisions.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	verdicts := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSuffix(string(journal), "\n"), "\n") {
		var r struct{ Package, SHA256, Verdict string }
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("journal line %q: %v", line, err)
		}
		verdicts[r.Package] = append(verdicts[r.Package], r.Verdict)
	}
	if want := map[string][]string{"hello": {"reproducible", "reproducible"}, "lone": {"insufficient"}, "evil": {"conflict"},
		"mine": {"insufficient"}}; !maps.EqualFunc(verdicts, want, slices.Equal) {
		t.Errorf("journal: %v\n%s", verdicts, journal)
	}

	stdout, stderr, code := e.check()
	if code != 0 || !strings.Contains(stdout, "1 installed packages") || !strings.Contains(stdout, "reproducible       1") {
		t.Fatalf("check: %d\n%s%s", code, stdout, stderr)
	}
	var health struct {
		Packages []struct{ Package, Health string }
	}
	stdout, _, _ = e.check("--json")
	if err := json.Unmarshal([]byte(stdout), &health); err != nil || len(health.Packages) != 1 ||
		health.Packages[0].Package != "hello" || health.Packages[0].Health != "reproducible" {
		t.Errorf("check --json: %v\n%s", err, stdout)
	}

	// carol rebuilds hello with a newer toolchain into another binary: still
	// reproducible, a rebuild is due. The next apt update says so once, and
	// check lists it, with exit 0.
	e.log.Submit(t, prooftest.Record(t, e.signers["carol"], prooftest.Build{Source: "hello", Version: "2.10-3",
		Toolchain: "14.2.0-19", Debs: []prooftest.Deb{{Package: "hello", Arch: helloNew.Arch, SHA256: helloNew.SHA256, Size: helloNew.Size}}}))
	drift := "  hello 2.10-3 (" + arch + "): reproduced by alice, bob (2 of the 2 needed); toolchain drift: carol built another binary from newer build inputs, a rebuild is due\n"
	out, code = e.aptGet("update")
	if code != 0 || !strings.Contains(out, "reprolog: notice: a rebuild is due for 1 installed packages (toolchain drift; they are still reproducible):\n"+drift) ||
		strings.Contains(out, "reprolog: warning") {
		t.Fatalf("apt-get update after drift: %d\n%s", code, out)
	}
	if out, code = e.aptGet("update"); code != 0 || strings.Contains(out, "reprolog") {
		t.Errorf("apt-get update again: %d\n%s", code, out)
	}
	stdout, stderr, code = e.check()
	if code != 0 || !strings.Contains(stdout, "  drift              1\n") ||
		!strings.Contains(stdout, "\nrebuild due (1): still reproducible, but rebuilt from newer build inputs into another binary since install:\n"+drift) {
		t.Fatalf("check after drift: %d\n%s%s", code, stdout, stderr)
	}

	// bob contradicts himself on hello: the installed package degrades.
	e.log.Submit(t, prooftest.Record(t, e.signers["bob"], prooftest.Build{Source: "hello", Version: "2.10-3",
		Debs: []prooftest.Deb{{Package: "hello", Arch: helloOther.Arch, SHA256: helloOther.SHA256, Size: helloOther.Size}}}))
	stdout, stderr, code = e.check()
	if code != 1 || !strings.Contains(stdout, "degraded since install (1):\n  hello 2.10-3 ("+arch+"): reproducible, now conflict: bob contradicted itself") {
		t.Fatalf("check after dissent: %d\n%s%s", code, stdout, stderr)
	}
	stdout, _, code = e.check("--json")
	var rep struct {
		Degraded []struct {
			Package, Baseline, Health string
		}
	}
	if err := json.Unmarshal([]byte(stdout), &rep); code != 1 || err != nil || len(rep.Degraded) != 1 ||
		rep.Degraded[0].Package != "hello" || rep.Degraded[0].Baseline != "reproducible" || rep.Degraded[0].Health != "conflict" {
		t.Errorf("check --json: %d %v\n%s", code, err, stdout)
	}

	// apt update warns about it, at every run, and still succeeds.
	for range 2 {
		out, code = e.aptGet("update")
		if code != 0 || !strings.Contains(out, "reprolog: warning: 1 installed packages are no longer what enough rebuilders reproduced:\n"+
			"  hello 2.10-3 ("+arch+"): reproducible, now conflict: bob contradicted itself") {
			t.Fatalf("apt-get update after dissent: %d\n%s", code, out)
		}
	}

	// The next dpkg run warns about it, and still succeeds.
	out, code = e.aptGet("install", "extra")
	if code != 0 || !e.installed("extra") ||
		!strings.Contains(out, "reprolog: warning: 1 installed packages are no longer what enough rebuilders reproduced") {
		t.Fatalf("install extra: %d\n%s", code, out)
	}

	// Removing needs no decision; with hello gone, nothing is degraded.
	out, code = e.aptGet("remove", "hello")
	if code != 0 || e.installed("hello") || strings.Contains(out, "reprolog") {
		t.Fatalf("remove hello: %d\n%s", code, out)
	}
	if stdout, stderr, code := e.check(); code != 0 || !strings.Contains(stdout, "1 installed packages") {
		t.Fatalf("check after removal: %d\n%s%s", code, stdout, stderr)
	}
}

func TestAptLogUnreachable(t *testing.T) {
	e := newAptEnv(t)
	offline := e.add("offline", "1.0-1", "offline")
	stuck := e.add("stuck", "1.0-1", "stuck")
	e.repo.Index(t)
	for _, who := range []string{"alice", "bob"} {
		e.rebuilt(who, offline)
		e.rebuilt(who, stuck)
	}
	proofs := filepath.Join(e.dir, "proofs")
	os.Mkdir(proofs, 0o755)
	p, err := client.LoadPolicy(e.policy)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := (&client.Verifier{Policy: p}).Fetch(context.Background(),
		[]client.Target{{Package: "offline", Version: "1.0-1", Arch: offline.Arch, SHA256: offline.SHA256}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proofs, offline.FileName()+".proof"), bs[0].Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := testbin.Run(t, e.bin, "install-hooks", "--root", e.root.Dir, "--policy", e.policy, "--bin", e.bin,
		"--status", e.root.Status(), "--lists", e.root.Lists(), "--proofs", proofs); code != 0 {
		t.Fatalf("install-hooks: %d %s", code, stderr)
	}
	if out, code := e.aptGet("update"); code != 0 {
		t.Fatalf("apt-get update: %d\n%s", code, out)
	}

	for name, url := range map[string]string{"refused": nettest.RefusedURL(t), "silent": nettest.SilentURL(t)} {
		e.setLog(url)
		out, code := e.aptGet("install", "stuck")
		if code == 0 || e.installed("stuck") ||
			!strings.Contains(out, "reprolog: cannot decide about stuck 1.0-1 ("+stuck.Arch+"): the log could not be reached") ||
			!strings.Contains(out, "put a fresh proof "+stuck.FileName()+".proof") {
			t.Fatalf("%s: install stuck: %d\n%s", name, code, out)
		}
		// An offline proof at hand lets the package install.
		if name == "refused" {
			out, code = e.aptGet("install", "offline")
			if code != 0 || !e.installed("offline") || strings.Contains(out, "reprolog") {
				t.Fatalf("install offline with a proof: %d\n%s", code, out)
			}
		}
	}

	// Each refusal is journaled as undecided, with why.
	journal, err := os.ReadFile(filepath.Join(e.dir, "state", "decisions.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var stuckRecords []string
	for _, line := range strings.Split(strings.TrimSuffix(string(journal), "\n"), "\n") {
		var r struct{ Package, Verdict, Reason string }
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("journal line %q: %v", line, err)
		}
		if r.Package == "stuck" {
			stuckRecords = append(stuckRecords, r.Verdict)
			if r.Verdict != "undecided" || !strings.Contains(r.Reason, "/checkpoint") {
				t.Errorf("journal: %s", line)
			}
		}
	}
	if len(stuckRecords) != 2 {
		t.Errorf("journal: %v\n%s", stuckRecords, journal)
	}
}
