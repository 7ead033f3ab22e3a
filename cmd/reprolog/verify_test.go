package main

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reprolog/reprolog/internal/debtest"
	"github.com/reprolog/reprolog/internal/testbin"
	"github.com/reprolog/reprolog/pgp/pgptest"
	"github.com/reprolog/reprolog/proofs/prooftest"
)

// decideEnv is a running reprolog-server, rebuilders, real .deb files and
// the reprolog binary, in one temporary directory.
type decideEnv struct {
	t       *testing.T
	dir     string
	bin     string
	log     *testbin.Server
	signers map[string]*pgptest.Signer
}

func newDecideEnv(t *testing.T) *decideEnv {
	debtest.Need(t, "dpkg-deb")
	e := &decideEnv{t: t, dir: t.TempDir(), bin: testbin.Build(t, "reprolog"), signers: map[string]*pgptest.Signer{}}
	e.log = testbin.StartServer(t, filepath.Join(e.dir, "log"))
	for _, name := range []string{"alice", "bob", "carol", "mallory"} {
		s := pgptest.NewSigner(t, name)
		e.signers[name] = s
		e.write(name+".asc", s.PublicArmored())
	}
	return e
}

func (e *decideEnv) write(name string, data []byte) string {
	e.t.Helper()
	path := filepath.Join(e.dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// deb builds a real .deb with dpkg-deb and returns its path and the
// prooftest.Deb that a buildinfo lists for it.
func (e *decideEnv) deb(pkg, version, content string) (string, prooftest.Deb) {
	e.t.Helper()
	d := debtest.Build(e.t, filepath.Join(e.dir, "debs-"+content), debtest.Package{Name: pkg, Version: version, Content: content})
	return d.Path, prooftest.Deb{Package: pkg, Arch: d.Arch, SHA256: d.SHA256, Size: d.Size}
}

// submit has a rebuilder sign a buildinfo listing debs and submits it
// with `reprolog submit`.
func (e *decideEnv) submit(who, source, version, toolchain string, debs ...prooftest.Deb) {
	e.t.Helper()
	e.submitTo(e.log, who, source, version, toolchain, debs...)
}

// submitTo submits to another log.
func (e *decideEnv) submitTo(log *testbin.Server, who, source, version, toolchain string, debs ...prooftest.Deb) {
	e.t.Helper()
	rec := prooftest.Record(e.t, e.signers[who], prooftest.Build{Source: source, Version: version,
		Toolchain: toolchain, Debs: debs})
	path := e.write(who+"-"+source+"-"+debs[0].SHA256[:8]+".buildinfo.asc", rec)
	code, _, stderr := e.run("submit", "--log", log.URL, "--key", filepath.Join(e.dir, who+".asc"), path)
	if code != 0 {
		e.t.Fatalf("reprolog submit: %d: %s", code, stderr)
	}
}

// trio is the builders most policies trust: alice, bob and carol, one vote
// each.
const trio = "\nBuilder: alice\nKey-File: alice.asc\n\nBuilder: bob\nKey-File: bob.asc\n\nBuilder: carol\nKey-File: carol.asc\n"

// policy writes a policy for the log at url trusting alice, bob and carol;
// extra lines go into the log paragraph.
func (e *decideEnv) policy(name, url string, extra ...string) string {
	return e.policyFor(name, url, e.log.VKey, trio, extra...)
}

// policyFor writes a policy for the log at url with key vkey, trusting the
// builder paragraphs given.
func (e *decideEnv) policyFor(name, url, vkey, builders string, extra ...string) string {
	text := "Log-URL: " + url + "\nLog-Key: " + vkey + "\nState-Dir: state-" + name + "\nTimeout: 10s\n" +
		strings.Join(extra, "\n") + "\n" + builders
	return e.write(name, []byte(text))
}

// stop stops a reprolog-server and waits for it to exit.
func stop(t *testing.T, s *testbin.Server) {
	t.Helper()
	if err := s.Cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	s.Cmd.Wait()
}

func (e *decideEnv) run(args ...string) (code int, stdout, stderr string) {
	e.t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(e.bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errb.String()
	} else if err != nil {
		e.t.Fatal(err)
	}
	return 0, out.String(), errb.String()
}

func TestVerifyCommand(t *testing.T) {
	e := newDecideEnv(t)
	hello, helloDeb := e.deb("hello", "2.10-3", "hello")
	greet, greetDeb := e.deb("greet", "1:1.0-1", "greet")
	tool, toolDeb := e.deb("tool", "3.0-1", "tool")
	toolOtherPath, toolOther := e.deb("tool", "3.0-1", "tool-other")
	evil, evilDeb := e.deb("hello", "2.10-3", "evil")

	e.submit("alice", "hello", "2.10-3", "", helloDeb)
	e.submit("bob", "hello", "2.10-3", "", helloDeb)
	e.submit("mallory", "hello", "2.10-3", "", evilDeb)
	e.submit("carol", "hello", "2.10-3", "12.2.0-14+deb12u1", evilDeb) // another toolchain: drift
	e.submit("alice", "greet", "1:1.0-1", "", greetDeb)
	e.submit("alice", "tool", "3.0-1", "", toolDeb)
	e.submit("carol", "tool", "3.0-1", "", toolDeb)
	e.submit("bob", "tool", "3.0-1", "", toolOther) // same inputs, another binary: dissent
	policy := e.policy("policy", e.log.URL)

	t.Run("reproducible is silent", func(t *testing.T) {
		code, stdout, stderr := e.run("verify", "--policy", policy, hello)
		if code != 0 || stdout != "" || !strings.Contains(stderr, "rebuild is due") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		code, stdout, _ = e.run("verify", "--policy", policy, "-v", hello)
		if code != 0 || !strings.Contains(stdout, "reproducible: 2 of 3 voters agree") {
			t.Errorf("-v: exit %d, stdout %q", code, stdout)
		}
	})
	t.Run("json", func(t *testing.T) {
		// The JSON is read as any consumer reads it, by its keys, so that
		// renaming a field fails here.
		code, stdout, _ := e.run("verify", "--policy", policy, "--json", hello, greet)
		var ds []map[string]any
		if err := json.Unmarshal([]byte(stdout), &ds); err != nil {
			t.Fatalf("%v: %s", err, stdout)
		}
		if code != 1 || len(ds) != 2 {
			t.Fatalf("exit %d, %d decisions: %s", code, len(ds), stdout)
		}
		checkKeys(t, "decision", ds[0], "file", "target", "verdict", "threshold", "voters", "agreeing", "dissenting",
			"self_contradicting", "drifting", "rebuild_due", "warnings", "evidence", "checkpoint")
		checkKeys(t, "target", ds[0]["target"], "package", "version", "arch", "sha256")
		checkKeys(t, "checkpoint", ds[0]["checkpoint"], "origin", "size", "hash", "note")
		evidence, _ := ds[0]["evidence"].([]any)
		if len(evidence) != 4 {
			t.Fatalf("evidence %v", ds[0]["evidence"])
		}
		for _, ev := range evidence {
			checkKeys(t, "evidence", ev, "index", "builder", "inputs", "record", "role")
		}
		d, cp, target := ds[0], ds[0]["checkpoint"].(map[string]any), ds[1]["target"].(map[string]any)
		for _, c := range []struct {
			what      string
			got, want any
		}{
			{"verdict", d["verdict"], "reproducible"},
			{"agreeing", d["agreeing"], []any{"alice", "bob"}},
			{"dissenting", d["dissenting"], []any{}},
			{"self_contradicting", d["self_contradicting"], []any{}},
			{"drifting", d["drifting"], []any{"carol"}},
			{"rebuild_due", d["rebuild_due"], true},
			{"threshold", d["threshold"], 2.0},
			{"voters", d["voters"], 3.0},
			{"file", d["file"], hello},
			{"checkpoint size", cp["size"], 8.0},
			{"checkpoint origin", cp["origin"], strings.SplitN(e.log.VKey, "+", 2)[0]},
			{"second verdict", ds[1]["verdict"], "insufficient"},
			{"second version", target["version"], "1:1.0-1"},
			{"second agreeing", ds[1]["agreeing"], []any{"alice"}},
		} {
			if !equalJSON(c.got, c.want) {
				t.Errorf("%s = %#v, want %#v", c.what, c.got, c.want)
			}
		}
		if note, _ := cp["note"].(string); !strings.HasPrefix(note, cp["origin"].(string)+"\n8\n") {
			t.Errorf("checkpoint note %q", cp["note"])
		}
	})
	t.Run("conflict", func(t *testing.T) {
		code, _, stderr := e.run("verify", "--policy", policy, toolOtherPath)
		if code != 1 || !strings.Contains(stderr, "conflict: 1 of 3 voters agree") ||
			!strings.Contains(stderr, "dissenting: alice, carol") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("drift is no vote", func(t *testing.T) {
		code, _, stderr := e.run("verify", "--policy", policy, evil)
		if code != 1 || !strings.Contains(stderr, "insufficient") || !strings.Contains(stderr, "drifting: alice, bob") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("dissent beside K agreements", func(t *testing.T) {
		code, _, stderr := e.run("verify", "--policy", policy, tool)
		if code != 0 || !strings.Contains(stderr, "bob built another binary") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("allowed", func(t *testing.T) {
		allow := e.policy("policy-allow", e.log.URL, "Allow: greet", "Threshold: 1")
		code, stdout, stderr := e.run("verify", "--policy", allow, "-v", greet)
		if code != 0 || !strings.Contains(stdout, "allowed") || !strings.Contains(stderr, "not a majority") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})
	t.Run("usage", func(t *testing.T) {
		bad := e.write("bad-policy", []byte("Log-URL: http://x\nBogus: 1\n"))
		for _, args := range [][]string{
			{"verify"}, {"verify", "--policy", policy}, {"verify", "--policy", bad, hello},
			{"verify", "--policy", policy, filepath.Join(e.dir, "missing.deb")},
			{"verify", "--policy", policy, policy}, {"verify", "--policy", policy, "--offline", hello},
			{"proof", "--policy", policy}, {"nonsense"},
		} {
			if code, _, _ := e.run(args...); code != 2 {
				t.Errorf("%q: exit %d, want 2", args, code)
			}
		}
		// A witness quorum of none can never be met under Max-Age: refused
		// when the policy is loaded.
		e.write("witnesses-none", []byte("quorum none\n"))
		none := e.policy("policy-none", e.log.URL, "Witness-Policy: witnesses-none")
		if code, _, stderr := e.run("verify", "--policy", none, hello); code != 2 ||
			!strings.Contains(stderr, none+": bad policy: Witness-Policy witnesses-none: ") || !strings.Contains(stderr, `"quorum none"`) {
			t.Errorf("quorum none: exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("hostile log", func(t *testing.T) {
		for name, edit := range map[string]func(string, []byte) []byte{
			"checkpoint": func(p string, b []byte) []byte {
				if p == "/checkpoint" {
					b = bytes.Replace(b, []byte("\n8\n"), []byte("\n9\n"), 1)
				}
				return b
			},
			"tile": func(p string, b []byte) []byte {
				if strings.HasPrefix(p, "/tile/0/") {
					b = bytes.Clone(b)
					b[0] ^= 1
				}
				return b
			},
			"record": func(p string, b []byte) []byte {
				if strings.HasPrefix(p, "/record/") {
					b = bytes.Replace(b, []byte("Build-Origin: Debian"), []byte("Build-Origin: Debiam"), 1)
				}
				return b
			},
		} {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				resp, err := http.Get(e.log.URL + r.URL.RequestURI())
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadGateway)
					return
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				w.WriteHeader(resp.StatusCode)
				w.Write(edit(r.URL.Path, body))
			}))
			code, _, stderr := e.run("verify", "--policy", e.policy("policy-"+name, srv.URL), hello)
			srv.Close()
			if code != 3 {
				t.Errorf("tampered %s: exit %d, stderr %q", name, code, stderr)
			}
		}
		closed := httptest.NewServer(http.NotFoundHandler())
		closed.Close()
		if code, _, _ := e.run("verify", "--policy", e.policy("policy-closed", closed.URL), hello); code != 3 {
			t.Errorf("unreachable log: exit %d", code)
		}
	})
	t.Run("stale offline proof", func(t *testing.T) {
		// Without witnesses, a proof older than the checkpoint the machine
		// has seen is refused: it could hide a later dissent.
		replay, replayDeb := e.deb("replay", "1.0-1", "replay")
		_, rebuilt := e.deb("replay", "1.0-1", "replay-rebuilt")
		e.submit("alice", "replay", "1.0-1", "", replayDeb)
		e.submit("bob", "replay", "1.0-1", "", replayDeb)
		stale := e.policy("policy-stale", e.log.URL)
		code, bundle, stderr := e.run("proof", "--policy", stale, replay)
		if code != 0 {
			t.Fatalf("proof: exit %d, stderr %q", code, stderr)
		}
		proof := e.write("replay.deb.proof", []byte(bundle))
		if code, _, stderr := e.run("verify", "--policy", stale, "--offline", proof, replay); code != 0 {
			t.Fatalf("offline when made: exit %d, stderr %q", code, stderr)
		}
		e.submit("bob", "replay", "1.0-1", "", rebuilt) // bob contradicts itself
		if code, _, stderr := e.run("verify", "--policy", stale, replay); code != 1 || !strings.Contains(stderr, "conflict") {
			t.Fatalf("online after the dissent: exit %d, stderr %q", code, stderr)
		}
		code, stdout, stderr := e.run("verify", "--policy", stale, "--offline", proof, replay)
		if code != 3 || stdout != "" || !strings.Contains(stderr, "stale") ||
			!strings.Contains(stderr, "is older than the one this machine has seen") {
			t.Errorf("the replayed proof: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})
	t.Run("offline", func(t *testing.T) {
		code, bundle, stderr := e.run("proof", "--policy", policy, hello)
		if code != 0 || !strings.HasPrefix(bundle, "reprolog-bundle v1\n") {
			t.Fatalf("proof: exit %d, stderr %q", code, stderr)
		}
		proof := e.write("hello.deb.proof", []byte(bundle))
		code, bundle2, _ := e.run("proof", "--policy", policy, greet)
		greetProof := e.write("greet.deb.proof", []byte(bundle2))
		if code != 0 {
			t.Fatalf("proof of greet: exit %d", code)
		}
		stop(t, e.log)
		if code, stdout, stderr := e.run("verify", "--policy", policy, "-v", "--offline", proof, hello); code != 0 ||
			!strings.Contains(stdout, "reproducible") {
			t.Errorf("offline: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		if code, _, _ := e.run("verify", "--policy", policy, "--offline", proof, hello, greetProof, greet); code != 1 {
			t.Errorf("offline with an insufficient file: exit %d", code)
		}
		if code, _, _ := e.run("verify", "--policy", policy, hello); code != 3 {
			t.Errorf("online with the log down: exit %d", code)
		}
		if code, _, _ := e.run("verify", "--policy", policy, "--offline", greetProof, hello); code != 2 {
			t.Errorf("a proof for another package: exit %d", code)
		}
		for name, data := range map[string]string{
			"truncated":      bundle[:len(bundle)/2],
			"garbage before": "x" + bundle,
			"garbage after":  bundle + "x",
			"byte flipped":   bundle[:len(bundle)/3] + string(bundle[len(bundle)/3]^1) + bundle[len(bundle)/3+1:],
			"empty":          "",
		} {
			bad := e.write("bad.proof", []byte(data))
			if code, _, stderr := e.run("verify", "--policy", policy, "--offline", bad, hello); code != 3 {
				t.Errorf("%s bundle: exit %d, stderr %q", name, code, stderr)
			}
		}
	})
}

// checkKeys checks that v is a JSON object with at least the given keys.
func checkKeys(t *testing.T, what string, v any, keys ...string) {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: %#v is not a JSON object", what, v)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s has no key %q (keys: %v)", what, k, slices.Sorted(maps.Keys(m)))
		}
	}
}

// equalJSON compares decoded JSON values.
func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}
