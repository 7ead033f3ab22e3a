package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/reprolog/reprolog/log/logtest"
)

// fork runs two copies of w's log (one key, one history so far) and
// returns them; w.log is the first.
func fork(t *testing.T, w *world) (a, b *logtest.Log) {
	t.Helper()
	w.log.Stop()
	dirB := filepath.Join(t.TempDir(), "b")
	if out, err := exec.Command("cp", "-a", w.log.Dir, dirB).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	a, b = logtest.StartDir(t, w.log.Dir), logtest.StartDir(t, dirB)
	w.log = a
	return a, b
}

// submitTo submits to one log of a fork.
func (w *world) submitTo(t *testing.T, l *logtest.Log, who, content, toolchain string) {
	t.Helper()
	keep := w.log
	w.log = l
	defer func() { w.log = keep }()
	w.submit(t, who, content, toolchain)
}

// checkEvidence checks that fork names the kept checkpoint seen, the one
// presented, and a note saying whether the fork is proven, all on disk.
func checkEvidence(t *testing.T, w *world, fork *ForkError, seen, presented []byte, proven bool) {
	t.Helper()
	if fork.Proven != proven || len(fork.Files) != 3 {
		t.Fatalf("proven %v, evidence files %v; want proven %v and 3 files", fork.Proven, fork.Files, proven)
	}
	v, err := note.NewVerifier(w.log.VKey)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range [][]byte{seen, presented} {
		kept := mustRead(t, fork.Files[i])
		if !bytes.Equal(kept, want) {
			t.Errorf("evidence %s is not the checkpoint it names", fork.Files[i])
		}
		if _, err := note.Open(kept, note.VerifierList(v)); err != nil {
			t.Errorf("evidence %s is not a signed checkpoint: %v", fork.Files[i], err)
		}
	}
	text := string(mustRead(t, fork.Files[2]))
	mark := "\nproven: they are not consistent: "
	if !proven {
		mark = "\nnot proven: that they are consistent, or that they are not"
	}
	if !strings.Contains(text, "proven: both are validly signed by the log's key\n") || !strings.Contains(text, mark) ||
		!strings.Contains(text, filepath.Base(fork.Files[0])) || !strings.Contains(text, filepath.Base(fork.Files[1])) {
		t.Errorf("the note says:\n%s", text)
	}
}

// TestVerifyFork runs two copies of one log (same key) that diverge, and
// checks that the second view, larger than the kept one, is refused with
// both checkpoints kept.
func TestVerifyFork(t *testing.T) {
	w := newWorld(t)
	w.submit(t, "alice", "hello", "")
	logA, logB := fork(t, w)
	w.submitTo(t, logA, "bob", "hello", "")
	w.submitTo(t, logB, "carol", "hello", "")
	w.submitTo(t, logB, "carol", "hello again", "12.2.0-14+deb12u1")

	pA := w.policy(t, logA.URL)
	if _, err := (&Verifier{Policy: pA}).Verify(context.Background(), []Deb{hello("hello")}); err != nil {
		t.Fatal(err)
	}
	seen := mustRead(t, filepath.Join(pA.StateDir, "checkpoint"))
	pB := w.policy(t, logB.URL)
	_, err := (&Verifier{Policy: pB}).Verify(context.Background(), []Deb{hello("hello")})
	var fork *ForkError
	if !errors.As(err, &fork) || !errors.Is(err, ErrLog) {
		t.Fatalf("Verify on the fork = %v, want a ForkError", err)
	}
	checkEvidence(t, w, fork, seen, fork.New, true)
	if bytes.Equal(fork.New, seen) {
		t.Error("the presented checkpoint is the kept one")
	}
	if now := mustRead(t, filepath.Join(pA.StateDir, "checkpoint")); !bytes.Equal(now, seen) {
		t.Errorf("the fork replaced the kept checkpoint")
	}
}

// TestVerifyForkSmaller presents a machine that holds a checkpoint of one
// branch of a fork with a smaller checkpoint of the other branch. Served
// with the other branch's tiles, the log cannot prove it a prefix of the
// kept tree; served with the kept branch's tiles, the proof shows it is
// not one. Both times, both checkpoints are kept and nothing is decided.
func TestVerifyForkSmaller(t *testing.T) {
	w := newWorld(t)
	w.submit(t, "alice", "hello", "")
	logA, logB := fork(t, w)
	w.submitTo(t, logA, "bob", "hello", "")
	w.submitTo(t, logA, "carol", "hello", "")
	w.submitTo(t, logB, "carol", "evil", "") // B drops bob's build and holds carol's dissent

	pA := w.policy(t, logA.URL)
	ds, err := (&Verifier{Policy: pA}).Verify(context.Background(), []Deb{hello("hello")})
	if err != nil || ds[0].Checkpoint.Size != 3 {
		t.Fatalf("on A: %v, %v", ds, err)
	}
	seen := mustRead(t, filepath.Join(pA.StateDir, "checkpoint"))
	resp, err := http.Get(logB.URL + "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	forked, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(forked), "\n2\n") {
		t.Fatalf("B's checkpoint:\n%s", forked)
	}

	for _, tt := range []struct {
		name   string
		url    string
		proven bool
	}{
		{"with its own tiles", logB.URL, false},
		{"with the kept tree's tiles", func() string {
			px := newProxy(t, logA.URL)
			px.setEdit(func(path string, b []byte) []byte {
				if path == "/checkpoint" {
					return forked
				}
				return b
			})
			return px.URL
		}(), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := w.policy(t, tt.url)
			ds, err := (&Verifier{Policy: p}).Verify(context.Background(), []Deb{hello("evil")})
			var fork *ForkError
			if !errors.As(err, &fork) || !errors.Is(err, ErrLog) || ds != nil {
				t.Fatalf("Verify = %v, %v; want a ForkError", ds, err)
			}
			checkEvidence(t, w, fork, seen, forked, tt.proven)
			if now := mustRead(t, filepath.Join(p.StateDir, "checkpoint")); !bytes.Equal(now, seen) {
				t.Error("the fork replaced the kept checkpoint")
			}
			t.Log(err)
		})
	}
}
