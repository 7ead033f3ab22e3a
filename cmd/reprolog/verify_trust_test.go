package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/reprolog/reprolog/internal/testbin"
	rlog "github.com/reprolog/reprolog/log"
	"github.com/reprolog/reprolog/witness"
	"github.com/reprolog/reprolog/witness/witnesstest"
)

// TestVerifyTrust runs `reprolog verify` against real reprolog-server
// processes for what the policy and the log's history decide: a fork,
// witnesses that did not cosign, a quorum past Max-Age, a builder that
// contradicts itself, builders of one operator, and K = N.
func TestVerifyTrust(t *testing.T) {
	e := newDecideEnv(t)
	hello, helloDeb := e.deb("hello", "2.10-3", "hello")
	e.submit("alice", "hello", "2.10-3", "", helloDeb)
	e.submit("bob", "hello", "2.10-3", "", helloDeb)
	policy := e.policy("policy", e.log.URL)
	if code, _, stderr := e.run("verify", "--policy", policy, hello); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}

	t.Run("fork", func(t *testing.T) {
		// Two servers with one key and one history, then two.
		dirA, dirB := filepath.Join(e.dir, "fork-a"), filepath.Join(e.dir, "fork-b")
		a := testbin.StartServer(t, dirA)
		e.submitTo(a, "alice", "hello", "2.10-3", "", helloDeb)
		stop(t, a)
		if out, err := exec.Command("cp", "-a", dirA, dirB).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v: %s", err, out)
		}
		a, b := testbin.StartServer(t, dirA), testbin.StartServer(t, dirB)
		_, other := e.deb("hello", "2.10-3", "hello-forked")
		e.submitTo(a, "bob", "hello", "2.10-3", "", helloDeb)
		e.submitTo(a, "carol", "hello", "2.10-3", "", helloDeb)
		e.submitTo(b, "carol", "hello", "2.10-3", "", other)

		onA := e.policyFor("policy-fork", a.URL, a.VKey, trio)
		if code, _, stderr := e.run("verify", "--policy", onA, hello); code != 0 {
			t.Fatalf("on A: exit %d, stderr %q", code, stderr)
		}
		state := filepath.Join(e.dir, "state-policy-fork")
		seen, err := os.ReadFile(filepath.Join(state, "checkpoint"))
		if err != nil {
			t.Fatal(err)
		}
		onB := e.policyFor("policy-fork", b.URL, b.VKey, trio) // the same State-Dir

		// B's checkpoint is smaller, and B has no tiles for A's tree: not
		// proven either way. Grown past A, B proves itself inconsistent.
		code, stdout, stderr := e.run("verify", "--policy", onB, hello)
		checkForkEvidence(t, state, seen, code, stdout, stderr, "could not be proven consistent", "\nnot proven: ", 3)
		e.submitTo(b, "alice", "hello", "2.10-3", "", other)
		e.submitTo(b, "bob", "hello", "2.10-3", "", other)
		code, stdout, stderr = e.run("verify", "--policy", onB, hello)
		checkForkEvidence(t, state, seen, code, stdout, stderr, "is not consistent with", "\nproven: they are not consistent: ", 6)
	})

	t.Run("witness that did not cosign", func(t *testing.T) {
		w := witnesstest.StartWitness(t, "witness.test")
		e.write("witnesses-absent", []byte("witness w "+w.VKey+"\nquorum w\n"))
		p := e.policy("policy-absent", e.log.URL, "Witness-Policy: witnesses-absent")
		code, stdout, stderr := e.run("verify", "--policy", p, hello)
		if code != 3 || stdout != "" || !strings.Contains(stderr, "quorum") || !strings.Contains(stderr, `witness "w"`) {
			t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})

	t.Run("quorum past Max-Age", func(t *testing.T) {
		// A log whose every checkpoint a real witness cosigns.
		dir := filepath.Join(e.dir, "witnessed")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		_, vkey, err := rlog.LoadOrCreateKey(dir, "reprolog.test/witnessed", "")
		if err != nil {
			t.Fatal(err)
		}
		v, err := note.NewVerifier(vkey)
		if err != nil {
			t.Fatal(err)
		}
		w := witnesstest.StartWitness(t, "witness.test", witness.LogEntry{Origin: v.Name(), VKey: vkey, Verifier: v})
		witnesses := e.write("witnesses-w", []byte("witness w "+w.VKey+" "+w.URL+"\nquorum w\n"))
		s := testbin.StartServer(t, dir, "--witness-policy", witnesses)
		e.submitTo(s, "alice", "hello", "2.10-3", "", helloDeb)
		e.submitTo(s, "bob", "hello", "2.10-3", "", helloDeb)

		fresh := e.policyFor("policy-witnessed", s.URL, s.VKey, trio, "Witness-Policy: witnesses-w", "Max-Age: 1h")
		if code, stdout, stderr := e.run("verify", "--policy", fresh, "-v", hello); code != 0 ||
			!strings.Contains(stdout, "reproducible") {
			t.Fatalf("within Max-Age: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		// The cosignature was made before this command started, so it is
		// older than a millisecond when the command checks it.
		tiny := e.policyFor("policy-tiny", s.URL, s.VKey, trio, "Witness-Policy: witnesses-w", "Max-Age: 1ms")
		code, stdout, stderr := e.run("verify", "--policy", tiny, hello)
		if code != 3 || stdout != "" || !strings.Contains(stderr, "stale: the witness quorum cosigned it ") ||
			!strings.Contains(stderr, "more than Max-Age 1ms") ||
			!strings.Contains(stderr, "the log or a mirror may be serving a frozen or replayed view, which could hide newer entries (such as a dissent)") {
			t.Errorf("past Max-Age: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})

	t.Run("self-contradiction", func(t *testing.T) {
		flaky, flakyDeb := e.deb("flaky", "1.0-1", "flaky")
		_, flakyOther := e.deb("flaky", "1.0-1", "flaky-other")
		e.submit("alice", "flaky", "1.0-1", "", flakyDeb)
		e.submit("carol", "flaky", "1.0-1", "", flakyDeb)
		if code, _, stderr := e.run("verify", "--policy", policy, flaky); code != 0 {
			t.Fatalf("two of three agree: exit %d, stderr %q", code, stderr)
		}
		// carol also built another binary from the same inputs: its vote
		// is revoked, and counts as dissent.
		e.submit("carol", "flaky", "1.0-1", "", flakyOther)
		code, _, stderr := e.run("verify", "--policy", policy, flaky)
		if code != 1 || !strings.Contains(stderr, "conflict: 1 of 3 voters agree, 2 needed; agreeing: alice; self-contradicting: carol") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})

	t.Run("one operator, one vote", func(t *testing.T) {
		twin, twinDeb := e.deb("twin", "1.0-1", "twin")
		e.submit("alice", "twin", "1.0-1", "", twinDeb)
		e.submit("bob", "twin", "1.0-1", "", twinDeb)
		acme := e.policyFor("policy-acme", e.log.URL, e.log.VKey,
			"\nBuilder: alice\nKey-File: alice.asc\nOperator: acme\n\nBuilder: bob\nKey-File: bob.asc\nOperator: acme\n"+
				"\nBuilder: carol\nKey-File: carol.asc\n\nBuilder: mallory\nKey-File: mallory.asc\n")
		code, _, stderr := e.run("verify", "--policy", acme, twin)
		if code != 1 || !strings.Contains(stderr, "insufficient: 1 of 3 voters agree, 2 needed; agreeing: acme") {
			t.Errorf("two builders of acme: exit %d, stderr %q", code, stderr)
		}
		e.submit("carol", "twin", "1.0-1", "", twinDeb)
		code, stdout, stderr := e.run("verify", "--policy", acme, "-v", twin)
		if code != 0 || !strings.Contains(stdout, "reproducible: 2 of 3 voters agree, 2 needed; agreeing: acme, carol") {
			t.Errorf("acme and carol: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})

	t.Run("K = N warns", func(t *testing.T) {
		all := e.policy("policy-all", e.log.URL, "Threshold: 3")
		code, _, stderr := e.run("verify", "--policy", all, hello)
		if code != 1 || !strings.Contains(stderr, "reprolog: warning: "+all+": Threshold 3 of 3 voters: one lost rebuilder blocks every install") ||
			!strings.Contains(stderr, "insufficient: 2 of 3 voters agree, 3 needed") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
		if code, _, stderr := e.run("verify", "--policy", policy, hello); code != 0 || strings.Contains(stderr, "warning") {
			t.Errorf("K = 2 of 3: exit %d, stderr %q", code, stderr)
		}
	})
}

// checkForkEvidence checks that verify failed with exit 3 on a fork, left
// the kept checkpoint seen as it was, and kept files evidence files in
// state/evidence, the newest note saying mark.
func checkForkEvidence(t *testing.T, state string, seen []byte, code int, stdout, stderr, msg, mark string, files int) {
	t.Helper()
	if code != 3 || stdout != "" || !strings.Contains(stderr, msg) || !strings.Contains(stderr, filepath.Join(state, "evidence")) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if now, _ := os.ReadFile(filepath.Join(state, "checkpoint")); !bytes.Equal(now, seen) {
		t.Error("the fork replaced the kept checkpoint")
	}
	entries, err := os.ReadDir(filepath.Join(state, "evidence"))
	if err != nil || len(entries) != files {
		t.Fatalf("%d evidence files, want %d (%v)", len(entries), files, err)
	}
	var notes, kept int
	for _, en := range entries {
		data, err := os.ReadFile(filepath.Join(state, "evidence", en.Name()))
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(en.Name(), "-seen.checkpoint"):
			kept++
			if !bytes.Equal(data, seen) {
				t.Errorf("%s is not the kept checkpoint", en.Name())
			}
		case strings.HasSuffix(en.Name(), "-note.txt"):
			notes++
			if notes == files/3 && !strings.Contains(string(data), mark) { // names sort by time
				t.Errorf("%s says:\n%s", en.Name(), data)
			}
		}
	}
	if notes != files/3 || kept != files/3 {
		t.Errorf("%d notes and %d kept checkpoints among %d files", notes, kept, files)
	}
}
