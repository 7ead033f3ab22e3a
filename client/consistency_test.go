package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// TestVerifyCorruptConsistency keeps a checkpoint in State-Dir and
// corrupts, one way at a time, what proves the log's checkpoint consistent
// with it: the kept checkpoint's size and root (validly signed), the served
// checkpoint's, and the hash tiles the proof is built from. Each
// corruption fails verification; those that show two signed trees the log
// does not prove consistent keep both as evidence, marked proven or not.
func TestVerifyCorruptConsistency(t *testing.T) {
	w := newWorld(t)
	for i := range 5 {
		w.submit(t, []string{"alice", "bob", "carol"}[i%3], fmt.Sprintf("hello %d", i), "")
	}
	checkpoint := func() Checkpoint {
		t.Helper()
		p := w.policy(t, w.log.URL)
		p.StateDir = t.TempDir()
		cp, err := (&Verifier{Policy: p}).Checkpoint(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return cp
	}
	old := checkpoint()
	for i := range 3 {
		w.submit(t, "mallory", fmt.Sprintf("hello %d", i), "")
	}
	cur := checkpoint()
	if old.Size != 5 || cur.Size != 8 {
		t.Fatalf("sizes %d and %d, want 5 and 8", old.Size, cur.Size)
	}
	oldRoot, curRoot := old.Tree().Hash, cur.Tree().Hash
	flipped := func(h tlog.Hash) tlog.Hash { h[7] ^= 0x10; return h }
	sign := func(n int64, h tlog.Hash) []byte { return resign(t, w, old.Origin, tlog.Tree{N: n, Hash: h}) }
	serve := func(signed []byte) func(string, []byte) []byte {
		return func(path string, b []byte) []byte {
			if path == "/checkpoint" {
				return signed
			}
			return b
		}
	}
	hashTiles := func(edit func([]byte) []byte) func(string, []byte) []byte {
		return func(path string, b []byte) []byte {
			if strings.HasPrefix(path, "/tile/0/") {
				return edit(bytes.Clone(b))
			}
			return b
		}
	}
	hang := make(chan struct{})

	const (
		ok = iota
		proven
		unproven
		unanswered
	)
	tests := []struct {
		name string
		kept []byte
		edit func(string, []byte) []byte
		want int
	}{
		{"intact", []byte(old.Note), nil, ok},
		{"kept size+1", sign(old.Size+1, oldRoot), nil, proven},
		{"kept size-1", sign(old.Size-1, oldRoot), nil, proven},
		{"kept size^2", sign(old.Size^2, oldRoot), nil, proven},
		{"kept size/2", sign(old.Size/2, oldRoot), nil, proven},
		{"kept size*2", sign(old.Size*2, oldRoot), nil, unproven}, // larger than the log: no tiles for it
		{"kept root flipped", sign(old.Size, flipped(oldRoot)), nil, proven},
		{"kept root of the empty tree", sign(old.Size, sha256.Sum256(nil)), nil, proven},
		{"kept root is the new root", sign(old.Size, curRoot), nil, proven},
		{"served root flipped", []byte(old.Note), serve(sign(cur.Size, flipped(curRoot))), unproven},
		{"served size+1", []byte(old.Note), serve(sign(cur.Size+1, curRoot)), unproven},
		{"served size-1", []byte(old.Note), serve(sign(cur.Size-1, curRoot)), unproven},
		{"served root is the old root", []byte(old.Note), serve(sign(cur.Size, oldRoot)), unproven},
		{"served size is the old size", []byte(old.Note), serve(sign(old.Size, curRoot)), proven},
		{"hash tile bit flipped", []byte(old.Note), hashTiles(func(b []byte) []byte { b[len(b)/2] ^= 1; return b }), unproven},
		{"hash tile truncated", []byte(old.Note), hashTiles(func(b []byte) []byte { return b[:len(b)-1] }), unproven},
		{"hash tile extended", []byte(old.Note), hashTiles(func(b []byte) []byte { return append(b, oldRoot[:]...) }), unproven},
		{"hash tile empty", []byte(old.Note), hashTiles(func([]byte) []byte { return nil }), unproven},
		{"hash tiles never come", []byte(old.Note), hashTiles(func(b []byte) []byte { <-hang; return b }), unanswered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			px := newProxy(t, w.log.URL)
			px.setEdit(tt.edit)
			p := w.policy(t, px.URL)
			p.StateDir = t.TempDir()
			if tt.want == unanswered {
				p.Timeout = time.Second
				t.Cleanup(func() { close(hang) }) // before the proxy closes, which waits for its handlers
			}
			keptFile := filepath.Join(p.StateDir, "checkpoint")
			if err := os.WriteFile(keptFile, tt.kept, 0o644); err != nil {
				t.Fatal(err)
			}
			ds, err := (&Verifier{Policy: p}).Verify(context.Background(), []Deb{hello("hello 0")})
			t.Log(err)
			if tt.want == ok {
				if err != nil || ds[0].Checkpoint.Size != cur.Size || !bytes.Equal(mustRead(t, keptFile), []byte(cur.Note)) {
					t.Fatalf("Verify = %v, %v; want a decision at size %d, kept", ds, err, cur.Size)
				}
				return
			}
			var fork *ForkError
			isFork := errors.As(err, &fork)
			switch {
			case !errors.Is(err, ErrLog) || ds != nil:
				t.Fatalf("Verify = %v, %v; want ErrLog", ds, err)
			case tt.want == unanswered && isFork:
				t.Errorf("a log that does not answer is taken for a fork")
			case tt.want != unanswered && !isFork:
				t.Errorf("no fork evidence")
			case isFork && fork.Proven != (tt.want == proven):
				t.Errorf("fork proven %v, want %v", fork.Proven, tt.want == proven)
			}
			if !bytes.Equal(mustRead(t, keptFile), tt.kept) {
				t.Error("the kept checkpoint changed")
			}
			evidence, _ := os.ReadDir(filepath.Join(p.StateDir, "evidence"))
			if want := map[bool]int{true: 3, false: 0}[isFork]; len(evidence) != want {
				t.Errorf("%d evidence files, want %d", len(evidence), want)
			}
		})
	}
}
