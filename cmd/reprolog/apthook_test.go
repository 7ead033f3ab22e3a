package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/reprolog/reprolog/client"
	"github.com/reprolog/reprolog/internal/debtest"
	"github.com/reprolog/reprolog/internal/nettest"
	"github.com/reprolog/reprolog/internal/testbin"
	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/pgp/pgptest"
	"github.com/reprolog/reprolog/proofs/prooftest"
)

// hookEnv is a real log with rebuilders alice, bob and carol, real .debs
// and the reprolog binary, which it runs as apt runs its
// DPkg::Pre-Install-Pkgs hook.
type hookEnv struct {
	t       *testing.T
	dir     string
	bin     string
	log     *logtest.Log
	signers map[string]*pgptest.Signer
	// root is apt's Dir in the configuration the hook is sent.
	root string
}

func newHookEnv(t *testing.T) *hookEnv {
	debtest.Need(t, "dpkg-deb")
	e := &hookEnv{t: t, dir: t.TempDir(), bin: testbin.Build(t, "reprolog"), log: logtest.Start(t),
		signers: map[string]*pgptest.Signer{}, root: t.TempDir()}
	for _, name := range []string{"alice", "bob", "carol"} {
		s := pgptest.NewSigner(t, name)
		e.signers[name] = s
		e.log.Register(t, s.PublicArmored())
		if err := os.WriteFile(filepath.Join(e.dir, name+".asc"), s.PublicArmored(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// deb builds a .deb in a directory of its own.
func (e *hookEnv) deb(name, version, content string) debtest.Deb {
	return debtest.Build(e.t, filepath.Join(e.dir, "debs-"+content), debtest.Package{Name: name, Version: version, Content: content})
}

// rebuilt has a rebuilder submit to l a build of d's source listing d.
func (e *hookEnv) rebuilt(l *logtest.Log, who string, d debtest.Deb) {
	l.Submit(e.t, prooftest.Record(e.t, e.signers[who], prooftest.Build{Source: d.Name, Version: d.Version,
		Debs: []prooftest.Deb{{Package: d.Name, Arch: d.Arch, SHA256: d.SHA256, Size: d.Size}}}))
}

// policy writes the policy (K=2 of alice, bob, carol, Timeout 2s) for the
// log at url, with its key, and returns its path.
func (e *hookEnv) policy(url string) string {
	text := "Log-URL: " + url + "\nLog-Key: " + e.log.VKey + "\nState-Dir: state\nTimeout: 2s\n"
	for _, name := range []string{"alice", "bob", "carol"} {
		text += "\nBuilder: " + name + "\nKey-File: " + name + ".asc\n"
	}
	path := filepath.Join(e.dir, "policy")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// hook runs `reprolog apt-hook --policy policy args...` with apt's input
// for installing debs on its standard input.
func (e *hookEnv) hook(policy string, debs []debtest.Deb, args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	cmd := exec.Command(e.bin, append([]string{"apt-hook", "--policy", policy}, args...)...)
	cmd.Stdin = strings.NewReader(hookStdin(e.root, e.bin, debs...))
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

// hookStdin is what apt 2.6 writes to a DPkg::Pre-Install-Pkgs command
// whose DPkg::Tools::Options::CMD::Version is 3: its configuration
// (abridged; %-encoded, lists as "key::=value", Dir relative to its
// parent), a blank line, then one line per package to unpack and one per
// package to configure.
func hookStdin(root, bin string, debs ...debtest.Deb) string {
	var b strings.Builder
	names := make([]string, len(debs))
	for i, d := range debs {
		names[i] = d.Name
	}
	fmt.Fprintf(&b, `VERSION 3
APT::Architecture=%[3]s
APT::Build-Essential::=build-essential
APT::Install-Recommends=1
APT::Sandbox::User=root
Dir=%[1]s/
Dir::State=var/lib/apt
Dir::State::lists=lists/
Dir::State::status=%[1]s/var/lib/dpkg/status
Dir::Cache=var/cache/apt
Dir::Cache::archives=archives/
Dir::Cache::pkgcache=pkgcache.bin
Dir::Etc=etc/apt
Dir::Bin::dpkg=/usr/bin/dpkg
Dir::Ignore-Files-Silently::=~$
Dir::Ignore-Files-Silently::=\.dpkg-[a-z]+$
Acquire::IndexTargets::deb::Packages::Description=$(RELEASE)/$(COMPONENT)%%20$(ARCHITECTURE)%%20Packages
DPkg::Options::=--root=%[1]s
DPkg::Pre-Install-Pkgs::=%[2]s%%20apt-hook%%20--policy%%20/etc/reprolog/policy
DPkg::Tools::Options::%[2]s::Version=3
DPkg::Post-Invoke::=%[2]s%%20check%%20--hook
Debug::NoLocking=true
Binary=apt-get
CommandLine::AsString=apt-get%%20install%%20%[4]s

`, root, bin, debtest.Arch(), url.PathEscape(strings.Join(names, " ")))
	for _, d := range debs {
		fmt.Fprintf(&b, "%s - - none < %s %s none %s\n", d.Name, d.Version, d.Arch, d.Path)
	}
	for _, d := range debs {
		fmt.Fprintf(&b, "%s - - none < %s %s none **CONFIGURE**\n", d.Name, d.Version, d.Arch)
	}
	return b.String()
}

func TestAptHookCommand(t *testing.T) {
	e := newHookEnv(t)
	arch := debtest.Arch()
	hello := e.deb("hello", "2.10-3", "hello")
	lone := e.deb("lone", "1:1.0-1", "lone")
	tool := e.deb("tool", "3.0-1", "tool")
	toolOther := e.deb("tool", "3.0-1", "tool-other")
	for _, who := range []string{"alice", "bob"} {
		e.rebuilt(e.log, who, hello)
	}
	e.rebuilt(e.log, "alice", lone)
	e.rebuilt(e.log, "alice", tool)
	e.rebuilt(e.log, "carol", tool)
	e.rebuilt(e.log, "carol", toolOther)
	policy := e.policy(e.log.URL)

	// Reproduced: silence, exit 0.
	if stdout, stderr, code := e.hook(policy, []debtest.Deb{hello}); code != exitPass || stdout != "" || stderr != "" {
		t.Errorf("hello: %d %q %q", code, stdout, stderr)
	}
	// Nothing to unpack (a removal): nothing to decide.
	if stdout, stderr, code := e.hook(policy, nil); code != exitPass || stdout+stderr != "" {
		t.Errorf("no .deb: %d %q %q", code, stdout, stderr)
	}

	// One rebuilder so far: refused, exit 1, one message and the summary.
	stdout, stderr, code := e.hook(policy, []debtest.Deb{lone})
	if code != exitFail || stdout != "" ||
		!strings.HasPrefix(stderr, "reprolog: refusing lone 1:1.0-1 ("+arch+"): not enough rebuilders yet: only alice reproduced it so far (1 of the 2 needed)\n"+
			"  what to do: wait until more rebuilders have reproduced it, or, to install it anyway, add lone to Allow in "+policy+"\n"+
			"  file: "+lone.Path+"\n") ||
		!strings.HasSuffix(stderr, "\nreprolog: 1 of 1 packages refused: apt stops before installing anything\n") {
		t.Errorf("lone: %d %q\n%s", code, stdout, stderr)
	}

	// The same file in apt's cache (Dir::Cache::archives, in Dir) is
	// removed when refused; outside it, it stays.
	cached := lone
	cached.Path = filepath.Join(e.root, "var/cache/apt/archives", lone.FileName())
	data, err := os.ReadFile(lone.Path)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(cached.Path), 0o755)
	if err := os.WriteFile(cached.Path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = e.hook(policy, []debtest.Deb{cached})
	if code != exitFail || !strings.Contains(stderr, "\n  file: "+cached.Path+" (removed from apt's cache)\n") {
		t.Errorf("lone in apt's cache: %d\n%s", code, stderr)
	}
	if _, err := os.Stat(cached.Path); !os.IsNotExist(err) {
		t.Errorf("the refused file is still in apt's cache: %v", err)
	}
	if _, err := os.Stat(lone.Path); err != nil {
		t.Errorf("the refused file outside apt's cache: %v", err)
	}

	// A file that is not a .deb: exit 3, and what to check.
	notDeb := filepath.Join(e.dir, "truncated_1.0_all.deb")
	if err := os.WriteFile(notDeb, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = e.hook(policy, []debtest.Deb{{Package: debtest.Package{Name: "truncated", Version: "1.0", Arch: "all"}, Path: notDeb}})
	if code != exitLog || !strings.HasPrefix(stderr, "reprolog: cannot decide about "+notDeb+": ") ||
		!strings.Contains(stderr, "what to do: check that the file is a .deb apt downloaded whole") {
		t.Errorf("not a .deb: %d\n%s", code, stderr)
	}

	// carol built two binaries from the same inputs.
	_, stderr, code = e.hook(policy, []debtest.Deb{hello, tool})
	if code != exitFail || strings.Count(stderr, "reprolog: refusing") != 1 ||
		!strings.Contains(stderr, "reprolog: refusing tool 3.0-1 ("+arch+"): a rebuilder contradicts itself: carol contradicted itself") ||
		!strings.Contains(stderr, "what to do: report it to the operator of carol") ||
		!strings.HasSuffix(stderr, "reprolog: 1 of 2 packages refused: apt stops before installing anything\n") {
		t.Errorf("tool: %d\n%s", code, stderr)
	}
}

// When the log cannot be reached, apt stops with exit 3 unless an
// offline proof decides; when it answers wrongly or forks, apt stops with
// exit 3 whatever proofs are at hand.
func TestAptHookLogFailures(t *testing.T) {
	e := newHookEnv(t)
	arch := debtest.Arch()
	hello := e.deb("hello", "2.10-3", "hello")
	lone := e.deb("lone", "1.0-1", "lone")
	for _, who := range []string{"alice", "bob"} {
		e.rebuilt(e.log, who, hello)
	}
	e.rebuilt(e.log, "alice", lone)
	online := e.policy(e.log.URL)
	proofs := filepath.Join(e.dir, "proofs")
	if err := os.Mkdir(proofs, 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := client.LoadPolicy(online)
	if err != nil {
		t.Fatal(err)
	}
	bundles, err := (&client.Verifier{Policy: p}).Fetch(context.Background(), []client.Target{
		{Package: "hello", Version: "2.10-3", Arch: hello.Arch, SHA256: hello.SHA256},
		{Package: "lone", Version: "1.0-1", Arch: lone.Arch, SHA256: lone.SHA256}})
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range []debtest.Deb{hello, lone} {
		if err := os.WriteFile(filepath.Join(proofs, d.FileName()+".proof"), bundles[i].Marshal(), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	for name, url := range map[string]string{"refused": nettest.RefusedURL(t), "silent": nettest.SilentURL(t)} {
		policy := e.policy(url)
		stdout, stderr, code := e.hook(policy, []debtest.Deb{hello})
		if code != exitLog || stdout != "" ||
			!strings.HasPrefix(stderr, "reprolog: cannot decide about hello 2.10-3 ("+arch+"): the log could not be reached: ") ||
			!strings.Contains(stderr, "check the network and Log-URL in "+policy) ||
			!strings.HasSuffix(stderr, "\nreprolog: 1 of 1 packages could not be checked: apt stops before installing anything\n") {
			t.Errorf("%s: %d %q\n%s", name, code, stdout, stderr)
		}
	}

	// Offline, the proofs decide: hello passes, lone is refused, and a
	// package without a proof cannot be checked.
	policy := e.policy(nettest.RefusedURL(t))
	if _, stderr, code := e.hook(policy, []debtest.Deb{hello}, "--proofs", proofs); code != exitPass || stderr != "" {
		t.Errorf("offline hello: %d %s", code, stderr)
	}
	stray := e.deb("stray", "1.0-1", "stray")
	_, stderr, code := e.hook(policy, []debtest.Deb{hello, lone, stray}, "--proofs", proofs)
	if code != exitLog || strings.Count(stderr, "reprolog: refusing ") != 1 || strings.Count(stderr, "reprolog: cannot decide about ") != 1 ||
		!strings.Contains(stderr, "reprolog: refusing lone 1.0-1 ("+arch+"): not enough rebuilders yet") ||
		!strings.Contains(stderr, "reprolog: cannot decide about stray 1.0-1 ("+arch+"): the log could not be reached") ||
		!strings.HasSuffix(stderr, "\nreprolog: 1 of 3 packages could not be checked and 1 refused: apt stops before installing anything\n") {
		t.Errorf("offline, mixed: %d\n%s", code, stderr)
	}

	// A log that answers wrongly: the proofs are not used.
	bad := hostileProxy(t, e.log.URL, func(path string, body []byte) []byte {
		if path == "/lookup" {
			return []byte(`{"tree_size": 1}`)
		}
		return body
	})
	policy = e.policy(bad)
	_, stderr, code = e.hook(policy, []debtest.Deb{hello}, "--proofs", proofs)
	if code != exitLog ||
		!strings.HasPrefix(stderr, "reprolog: cannot decide about hello 2.10-3 ("+arch+"): the log failed verification: ") ||
		!strings.Contains(stderr, "malformed answer") || !strings.Contains(stderr, "offline proofs are not used while the log answers wrongly") {
		t.Errorf("misbehaving log: %d\n%s", code, stderr)
	}
}

// A log that shows this machine two histories stops apt, and both signed
// checkpoints are kept as evidence.
func TestAptHookFork(t *testing.T) {
	e := newHookEnv(t)
	hello := e.deb("hello", "2.10-3", "hello")
	e.rebuilt(e.log, "alice", hello)
	e.log.Stop()
	dirB := filepath.Join(t.TempDir(), "b")
	if out, err := exec.Command("cp", "-a", e.log.Dir, dirB).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	logA := logtest.StartDir(t, e.log.Dir)
	logB := logtest.StartDir(t, dirB)
	e.rebuilt(logA, "bob", hello)
	e.rebuilt(logB, "carol", hello)
	e.rebuilt(logB, "carol", e.deb("other", "1.0", "other"))

	if _, stderr, code := e.hook(e.policy(logA.URL), []debtest.Deb{hello}); code != exitPass {
		t.Fatalf("log A: %d %s", code, stderr)
	}
	_, stderr, code := e.hook(e.policy(logB.URL), []debtest.Deb{hello})
	if code != exitLog ||
		!strings.Contains(stderr, "reprolog: cannot decide about hello 2.10-3 ("+hello.Arch+"): the log showed this machine two different histories: ") ||
		!strings.Contains(stderr, "report it to the log's operator and keep the evidence") {
		t.Fatalf("log B: %d\n%s", code, stderr)
	}
	// Both signed checkpoints, and a note of what was proven.
	if evidence, _ := filepath.Glob(filepath.Join(e.dir, "state", "evidence", "*")); len(evidence) != 3 {
		t.Errorf("evidence: %v", evidence)
	}
}

// A log that answers /checkpoint but never answers a lookup costs one
// Timeout, not one per batch of lookups: the first that fails cancels the
// others, and no more are sent. apt-hook and check fail with exit 3.
func TestAptHookStalledLookups(t *testing.T) {
	e := newHookEnv(t)
	repo := debtest.NewRepo(t)
	var debs []debtest.Deb
	var status strings.Builder
	for i := range 20 {
		d := repo.Add(t, debtest.Package{Name: fmt.Sprintf("pkg%02d", i), Version: "1.0-1", Content: "stalled"})
		debs = append(debs, d)
		e.rebuilt(e.log, "alice", d)
		fmt.Fprintf(&status, "Package: %s\nStatus: install ok installed\nVersion: %s\nArchitecture: %s\n\n", d.Name, d.Version, d.Arch)
	}
	repo.Index(t)
	var lookups atomic.Int64
	stalled := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/lookup" {
			lookups.Add(1)
			<-r.Context().Done()
			return
		}
		resp, err := http.Get(e.log.URL + r.URL.RequestURI())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(stalled.Close)
	policy := e.policy(stalled.URL)

	_, stderr, code := e.hook(policy, debs)
	if code != exitLog || strings.Count(stderr, "reprolog: cannot decide about ") != 20 ||
		!strings.Contains(stderr, "reprolog: cannot decide about pkg00 1.0-1 ("+debs[0].Arch+"): the log could not be reached: ") ||
		!strings.HasSuffix(stderr, "\nreprolog: 20 of 20 packages could not be checked: apt stops before installing anything\n") {
		t.Errorf("apt-hook: %d\n%s", code, stderr)
	}
	if n := lookups.Swap(0); n > 8 {
		t.Errorf("apt-hook: %d lookups sent; after the first failed, none should start", n)
	}

	lists := filepath.Join(e.dir, "lists")
	os.Mkdir(lists, 0o755)
	index, err := os.ReadFile(filepath.Join(repo.Dir, "Packages"))
	if err != nil {
		t.Fatal(err)
	}
	statusFile := filepath.Join(e.dir, "status")
	if err := os.WriteFile(filepath.Join(lists, "repo_._Packages"), index, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(statusFile, []byte(status.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"check", "--policy", policy, "--status", statusFile, "--lists", lists}
	if stdout, stderr, code := testbin.Run(t, e.bin, args...); code != exitLog || stdout != "" ||
		!strings.HasPrefix(stderr, "reprolog check: the log could not be reached: ") {
		t.Errorf("check: %d %q\n%s", code, stdout, stderr)
	}
	if n := lookups.Swap(0); n > 8 {
		t.Errorf("check: %d lookups sent", n)
	}
	if stdout, stderr, code := testbin.Run(t, e.bin, append(args, "--hook")...); code != 0 || stdout+stderr != "" {
		t.Errorf("check --hook: %d %q %q", code, stdout, stderr)
	}
}
