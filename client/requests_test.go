package client

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprolog/reprolog/proofs/prooftest"
)

// requests sorts the requests a proxy saw by kind.
func (p *proxy) requests() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for path, n := range p.gets {
		kind := path
		switch {
		case strings.HasPrefix(path, "/tile/entries/"):
			kind = "entry tiles"
		case strings.HasPrefix(path, "/tile/"):
			kind = "hash tiles"
		case strings.HasPrefix(path, "/record/"):
			kind = "records"
		}
		out[kind] += n
	}
	clear(p.gets)
	return out
}

func sameRequests(got, want map[string]int) bool {
	if len(got) != len(want) {
		return false
	}
	for k, n := range want {
		if got[k] != n {
			return false
		}
	}
	return true
}

// TestVerifyRequests counts the requests one decision makes, so that a
// change that stops batching or sharing them fails: one checkpoint, one
// lookup per file, each tile once (the consistency proof shares the
// inclusion proofs' tiles), and each trusted builder's record once; the
// untrusted builder's record is never fetched. The kept checkpoint is
// rewritten only when it changes.
func TestVerifyRequests(t *testing.T) {
	w := newWorld(t)
	for _, who := range []string{"alice", "bob", "carol", "mallory"} {
		w.submit(t, who, "hello", "")
	}
	px := newProxy(t, w.log.URL)
	v := &Verifier{Policy: w.policy(t, px.URL)}
	kept := filepath.Join(v.Policy.StateDir, "checkpoint")
	verify := func(debs ...Deb) {
		t.Helper()
		ds, err := v.Verify(context.Background(), debs)
		if err != nil {
			t.Fatal(err)
		}
		if ds[0].Verdict != Reproducible {
			t.Fatalf("%s: %s", debs[0].Path, ds[0].Verdict)
		}
	}
	one := map[string]int{"/checkpoint": 1, "/lookup": 1, "entry tiles": 1, "hash tiles": 1, "records": 3}

	verify(hello("hello"))
	if got := px.requests(); !sameRequests(got, one) {
		t.Errorf("first decision: %v, want %v", got, one)
	}
	before, err := os.Stat(kept)
	if err != nil {
		t.Fatal(err)
	}
	verify(hello("hello"))
	if got := px.requests(); !sameRequests(got, one) {
		t.Errorf("again, the log unchanged: %v, want %v", got, one)
	}
	if after, err := os.Stat(kept); err != nil || !os.SameFile(before, after) {
		t.Errorf("the unchanged checkpoint was written again (%v)", err)
	}

	// The log grows by another package: proving the new checkpoint
	// consistent with the kept one reads no tile the decision does not.
	world := prooftest.Build{Source: "world", Version: "1.0-1",
		Debs: []prooftest.Deb{{Package: "world", Arch: "amd64", SHA256: sha("world"), Size: 5}}}
	for _, who := range []string{"alice", "bob"} {
		w.log.Submit(t, prooftest.Record(t, w.signers[who], world))
	}
	worldDeb := Deb{Path: "world_1.0-1_amd64.deb",
		Target: Target{Package: "world", Version: "1.0-1", Arch: "amd64", SHA256: sha("world")}}
	verify(hello("hello"), worldDeb)
	batch := map[string]int{"/checkpoint": 1, "/lookup": 2, "entry tiles": 1, "hash tiles": 1, "records": 5}
	if got := px.requests(); !sameRequests(got, batch) {
		t.Errorf("two files after the log grew: %v, want %v", got, batch)
	}
	if after, err := os.Stat(kept); err != nil || os.SameFile(before, after) {
		t.Errorf("the newer checkpoint was not kept (%v)", err)
	}
}

// TestVerifyRounds: requests that do not depend on each other are not made
// one after another. The proxy holds the checkpoint until a lookup has
// come, and the hash tiles until a record has: the lookups go out with the
// checkpoint, and the records are asked for while the proofs are still
// being built. (A decision that waited would stall here until the proxy
// gave up, and fail.)
func TestVerifyRounds(t *testing.T) {
	w := newWorld(t)
	for _, who := range []string{"alice", "bob", "carol"} {
		w.submit(t, who, "hello", "")
	}
	px := newProxy(t, w.log.URL)
	v := &Verifier{Policy: w.policy(t, px.URL)}
	lookup, record := make(chan struct{}), make(chan struct{})
	var lookupOnce, recordOnce sync.Once
	var mu sync.Mutex
	var stalled []string
	await := func(ch chan struct{}, what string) {
		select {
		case <-ch:
		case <-time.After(5 * time.Second): // less than the policy's Timeout
			mu.Lock()
			stalled = append(stalled, what)
			mu.Unlock()
		}
	}
	px.mu.Lock()
	px.hold = func(path string) {
		switch {
		case path == "/lookup":
			lookupOnce.Do(func() { close(lookup) })
		case path == "/checkpoint":
			await(lookup, "the lookup waited for the checkpoint")
		case strings.HasPrefix(path, "/record/"):
			recordOnce.Do(func() { close(record) })
		case strings.HasPrefix(path, "/tile/") && !strings.HasPrefix(path, "/tile/entries/"):
			await(record, "the records waited for the hash tiles")
		}
	}
	px.mu.Unlock()
	ds, err := v.Verify(context.Background(), []Deb{hello("hello")})
	if err != nil {
		t.Fatal(err)
	}
	if ds[0].Verdict != Reproducible {
		t.Errorf("%s", ds[0].Verdict)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range stalled {
		t.Error(s)
	}
}
