package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	rlog "github.com/reprolog/reprolog/log"
	"github.com/reprolog/reprolog/proofs"
	"github.com/reprolog/reprolog/proofs/prooftest"
)

// offlineFixture fetches a bundle for hello from a real log in which
// alice and bob agree, then stops the log.
func offlineFixture(t *testing.T) (*world, *Verifier, *proofs.Bundle) {
	t.Helper()
	w := newWorld(t)
	w.submit(t, "alice", "hello", "")
	w.submit(t, "mallory", "hello", "")
	w.submit(t, "bob", "hello", "")
	v := &Verifier{Policy: w.policy(t, w.log.URL)}
	bundles, err := v.Fetch(context.Background(), []Target{hello("hello").Target})
	if err != nil {
		t.Fatal(err)
	}
	w.log.Stop()
	return w, v, bundles[0]
}

// decideOffline parses a bundle and decides from it, as verify --offline
// does.
func decideOffline(v *Verifier, data []byte) (*Decision, error) {
	b, err := proofs.ParseBundle(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLog, err)
	}
	return v.VerifyOffline(b, hello("hello"))
}

// resign signs a checkpoint for another tree with the log's own key.
func resign(t *testing.T, w *world, origin string, tree tlog.Tree) []byte {
	t.Helper()
	signer, _, err := rlog.LoadOrCreateKey(w.log.Dir, "", "")
	if err != nil {
		t.Fatal(err)
	}
	c := torchwood.Checkpoint{Origin: origin, Tree: tree}
	signed, err := note.Sign(&note.Note{Text: c.String()}, signer)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// TestOfflineCorrupted corrupts a real bundle in every way and checks
// that each corruption fails verification.
func TestOfflineCorrupted(t *testing.T) {
	w, v, good := offlineFixture(t)
	d, err := decideOffline(v, good.Marshal())
	if err != nil || d.Verdict != Reproducible || len(d.Evidence) != 3 {
		t.Fatalf("the intact bundle: %v, %v", d, err)
	}
	cp, err := VerifyCheckpoint(v.Policy, good.Checkpoint, v.now())
	if err != nil {
		t.Fatal(err)
	}
	tree := cp.Tree()
	clone := func() *proofs.Bundle {
		b := *good
		b.Checkpoint = bytes.Clone(good.Checkpoint)
		b.Entries = slices.Clone(good.Entries)
		for i := range b.Entries {
			b.Entries[i].Proof = slices.Clone(b.Entries[i].Proof)
		}
		return &b
	}
	edited := map[string]func(b *proofs.Bundle){
		"index+1":      func(b *proofs.Bundle) { b.Entries[0].Index++ },
		"index-1":      func(b *proofs.Bundle) { b.Entries[2].Index-- },
		"last index+1": func(b *proofs.Bundle) { b.Entries[2].Index++ },
		"one entry, index+1": func(b *proofs.Bundle) {
			b.Entries = b.Entries[:1]
			b.Entries[0].Index++
		},
		"size*2": func(b *proofs.Bundle) {
			b.Checkpoint = resign(t, w, cp.Origin, tlog.Tree{N: tree.N * 2, Hash: tree.Hash})
		},
		"size/2": func(b *proofs.Bundle) {
			b.Checkpoint = resign(t, w, cp.Origin, tlog.Tree{N: tree.N / 2, Hash: tree.Hash})
		},
		"size edited": func(b *proofs.Bundle) {
			b.Checkpoint = bytes.Replace(b.Checkpoint, []byte("\n3\n"), []byte("\n6\n"), 1)
		},
		"root of another tree": func(b *proofs.Bundle) {
			h := tree.Hash
			h[0] ^= 1
			b.Checkpoint = resign(t, w, cp.Origin, tlog.Tree{N: tree.N, Hash: h})
		},
		"other origin": func(b *proofs.Bundle) {
			b.Checkpoint = resign(t, w, "example.org/other", tree)
		},
		"other key of the same name": func(b *proofs.Bundle) {
			b.Checkpoint = prooftest.New(t, cp.Origin).Sign(t, tree)
		},
		"hash added first": func(b *proofs.Bundle) {
			b.Entries[0].Proof = append(tlog.RecordProof{{}}, b.Entries[0].Proof...)
		},
		"hash added last": func(b *proofs.Bundle) {
			b.Entries[1].Proof = append(b.Entries[1].Proof, b.Entries[1].Proof[0])
		},
		"hash removed first": func(b *proofs.Bundle) { b.Entries[2].Proof = b.Entries[2].Proof[1:] },
		"hash removed last": func(b *proofs.Bundle) {
			b.Entries[0].Proof = b.Entries[0].Proof[:len(b.Entries[0].Proof)-1]
		},
		"statements swapped": func(b *proofs.Bundle) {
			b.Entries[0].Statement, b.Entries[2].Statement = b.Entries[2].Statement, b.Entries[0].Statement
		},
		"trusted record missing": func(b *proofs.Bundle) { b.Entries[2].Record = nil },
		"records swapped": func(b *proofs.Bundle) {
			b.Entries[0].Record, b.Entries[2].Record = b.Entries[2].Record, b.Entries[0].Record
		},
		"record edited": func(b *proofs.Bundle) {
			b.Entries[0].Record = bytes.Replace(b.Entries[0].Record, []byte("amd64"), []byte("arm64"), 1)
		},
	}
	for i, e := range good.Entries {
		for j := range e.Proof {
			edited[fmt.Sprintf("entry %d hash %d flipped", i, j)] = func(b *proofs.Bundle) { b.Entries[i].Proof[j][j%32] ^= 0x80 }
		}
	}
	for name, edit := range edited {
		b := clone()
		edit(b)
		_, err := decideOffline(v, b.Marshal())
		t.Logf("%s: %v", name, err)
		if !errors.Is(err, ErrLog) {
			t.Errorf("%s: %v, want ErrLog", name, err)
		}
	}

	data := good.Marshal()
	raw := map[string][]byte{
		"garbage before": append([]byte("x"), data...),
		"garbage after":  append(slices.Clone(data), 'x'),
		"empty":          nil,
	}
	for n := 0; n < len(data); n += 61 {
		raw[fmt.Sprintf("truncated to %d", n)] = data[:n]
	}
	for name, data := range raw {
		if _, err := decideOffline(v, data); !errors.Is(err, ErrLog) {
			t.Errorf("%s: %v, want ErrLog", name, err)
		}
	}

	// Without the untrusted builder's record the bundle is still whole.
	b := clone()
	b.Entries[1].Record = nil
	if d, err := decideOffline(v, b.Marshal()); err != nil || d.Verdict != Reproducible {
		t.Errorf("without mallory's record: %v, %v", d, err)
	}
}

func TestOfflineFreshnessAndFork(t *testing.T) {
	w, v, good := offlineFixture(t)
	cp, err := VerifyCheckpoint(v.Policy, good.Checkpoint, v.now())
	if err != nil {
		t.Fatal(err)
	}

	// A bundle whose checkpoint has the size of the kept one but another
	// root is a fork.
	h := cp.Tree().Hash
	h[5] ^= 1
	forked := *good
	forked.Checkpoint = resign(t, w, cp.Origin, tlog.Tree{N: cp.Size, Hash: h})
	_, err = v.VerifyOffline(&forked, hello("hello"))
	var fork *ForkError
	if !errors.As(err, &fork) {
		t.Fatalf("a same-size checkpoint with another root: %v", err)
	}
	checkEvidence(t, w, fork, mustRead(t, filepath.Join(v.Policy.StateDir, "checkpoint")), forked.Checkpoint, true)
	if entries, _ := os.ReadDir(filepath.Join(v.Policy.StateDir, "evidence")); len(entries) != 3 {
		t.Errorf("%d evidence files", len(entries))
	}

	// Witnessed bundles are refused once the quorum is older than Max-Age.
	w1, w1key := prooftest.NewWitness(t, "w1.example")
	if err := os.WriteFile(filepath.Join(w.dir, "witnesses"), []byte("witness w1 "+w1key+"\nquorum w1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := w.policy(t, w.log.URL, "Witness-Policy: witnesses", "Max-Age: 36h")
	n, err := note.Open(good.Checkpoint, note.VerifierList(p.Log))
	if err != nil {
		t.Fatal(err)
	}
	cosigned := *good
	if cosigned.Checkpoint, err = note.Sign(n, w1); err != nil {
		t.Fatal(err)
	}
	fresh := &Verifier{Policy: p}
	if d, err := fresh.VerifyOffline(&cosigned, hello("hello")); err != nil || d.Verdict != Reproducible {
		t.Errorf("a fresh witnessed bundle: %v", err)
	}
	if _, err := fresh.VerifyOffline(good, hello("hello")); !errors.Is(err, ErrLog) {
		t.Errorf("a bundle without cosignatures: %v", err)
	}
	later := &Verifier{Policy: p, Now: func() time.Time { return time.Now().Add(37 * time.Hour) }}
	if _, err := later.VerifyOffline(&cosigned, hello("hello")); !errors.Is(err, ErrLog) ||
		!strings.Contains(err.Error(), "more than Max-Age 36h0m0s") || !strings.Contains(err.Error(), staleView) {
		t.Errorf("a bundle past Max-Age: %v", err)
	}
}

// TestOfflineStaleWithoutWitnesses replays a bundle made before a
// rebuilder contradicted itself, to a machine that has since seen the
// newer checkpoint: without witnesses, nothing but that checkpoint bounds
// how old a bundle may be, so the bundle is refused, and State-Dir is left
// as it was.
func TestOfflineStaleWithoutWitnesses(t *testing.T) {
	w := newWorld(t)
	w.submit(t, "alice", "hello", "")
	w.submit(t, "bob", "hello", "")
	v := &Verifier{Policy: w.policy(t, w.log.URL)}
	bundles, err := v.Fetch(context.Background(), []Target{hello("hello").Target})
	if err != nil {
		t.Fatal(err)
	}
	old := bundles[0]
	if d, err := v.VerifyOffline(old, hello("hello")); err != nil || d.Verdict != Reproducible {
		t.Fatalf("the bundle when it was made: %v, %v", d, err)
	}

	w.submit(t, "bob", "hello rebuilt", "") // same inputs, another binary
	ds, err := v.Verify(context.Background(), []Deb{hello("hello")})
	if err != nil || ds[0].Verdict != Conflict || ds[0].Checkpoint.Size != 3 {
		t.Fatalf("online after bob contradicted itself: %v, %v", ds, err)
	}
	kept := mustRead(t, filepath.Join(v.Policy.StateDir, "checkpoint"))

	d, err := v.VerifyOffline(old, hello("hello"))
	if d != nil || !errors.Is(err, ErrLog) || !strings.Contains(err.Error(), "stale") ||
		!strings.Contains(err.Error(), "(size 2) is older than the one this machine has seen (size 3)") {
		t.Errorf("the replayed bundle: %v, %v; want a stale error", d, err)
	}
	if now := mustRead(t, filepath.Join(v.Policy.StateDir, "checkpoint")); !bytes.Equal(now, kept) {
		t.Error("refusing the bundle changed the kept checkpoint")
	}
	if _, err := os.Stat(filepath.Join(v.Policy.StateDir, "evidence")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refusing a stale bundle left evidence: %v", err)
	}

	// A bundle as new as the kept checkpoint decides, by the same rules.
	bundles, err = v.Fetch(context.Background(), []Target{hello("hello").Target})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := v.VerifyOffline(bundles[0], hello("hello")); err != nil || d.Verdict != Conflict {
		t.Errorf("a current bundle: %v, %v", d, err)
	}

	// A machine that has seen nothing accepts the old bundle, and keeps
	// nothing of it.
	empty := *v.Policy
	empty.StateDir = filepath.Join(t.TempDir(), "state")
	if d, err := (&Verifier{Policy: &empty}).VerifyOffline(old, hello("hello")); err != nil || d.Verdict != Reproducible {
		t.Errorf("with no kept checkpoint: %v, %v", d, err)
	}
	if _, err := os.Stat(empty.StateDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an offline decision created State-Dir: %v", err)
	}
}
