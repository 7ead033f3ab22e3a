package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprolog/reprolog/proofs"
)

func TestVerifyOnline(t *testing.T) {
	w := newWorld(t)
	w.submit(t, "alice", "hello", "")
	w.submit(t, "bob", "hello", "")
	w.submit(t, "carol", "hello (newer gcc)", "12.2.0-14+deb12u1")
	w.submit(t, "mallory", "evil", "")
	px := newProxy(t, w.log.URL)
	p := w.policy(t, px.URL)

	ds, err := (&Verifier{Policy: p}).Verify(context.Background(), []Deb{hello("hello"), hello("evil"), hello("other")})
	if err != nil {
		t.Fatal(err)
	}
	d := ds[0]
	if d.Verdict != Reproducible || !slices.Equal(d.Agreeing, []string{"alice", "bob"}) ||
		!slices.Equal(d.Drifting, []string{"carol"}) || !d.RebuildDue || len(d.Dissenting) != 0 {
		t.Errorf("hello: %s, agreeing %v, drifting %v, dissenting %v", d.Verdict, d.Agreeing, d.Drifting, d.Dissenting)
	}
	if len(d.Evidence) != 4 || d.Evidence[3].Role != RoleUntrusted {
		t.Errorf("evidence %+v", d.Evidence)
	}
	if d.Checkpoint.Size != 4 || d.Checkpoint.Origin != w.log.Origin || d.File != "hello_2.10-3_amd64.deb" {
		t.Errorf("decided against checkpoint %+v for file %q", d.Checkpoint, d.File)
	}
	// mallory's build is not counted; the trusted builders dissent (with no
	// agreeing build, another toolchain is no excuse).
	if ds[1].Verdict != Conflict || len(ds[1].Agreeing) != 0 || !slices.Equal(ds[1].Dissenting, []string{"alice", "bob", "carol"}) {
		t.Errorf("evil: %s, agreeing %v, dissenting %v", ds[1].Verdict, ds[1].Agreeing, ds[1].Dissenting)
	}
	stored, err := os.ReadFile(filepath.Join(w.dir, "state", "checkpoint"))
	if err != nil || string(stored) != d.Checkpoint.Note {
		t.Errorf("State-Dir holds %q, %v; want the decision's checkpoint", stored, err)
	}
	for path, n := range px.gets {
		if n > 1 && (strings.HasPrefix(path, "/tile/") || strings.HasPrefix(path, "/record/")) {
			t.Errorf("%s fetched %d times", path, n)
		}
	}
}

func TestVerifyOnlineInsufficientAndThreshold(t *testing.T) {
	w := newWorld(t)
	w.submit(t, "alice", "hello", "")
	p := w.policy(t, w.log.URL)
	v := &Verifier{Policy: p}
	ds, err := v.Verify(context.Background(), []Deb{hello("hello")})
	if err != nil {
		t.Fatal(err)
	}
	if ds[0].Verdict != Insufficient || ds[0].Threshold != 2 {
		t.Errorf("one of three: %s with K=%d", ds[0].Verdict, ds[0].Threshold)
	}
	w.submit(t, "carol", "hello", "12.2.0-14+deb12u1")
	ds, err = v.Verify(context.Background(), []Deb{hello("hello")})
	if err != nil {
		t.Fatal(err)
	}
	if ds[0].Verdict != Reproducible || ds[0].Checkpoint.Size != 2 {
		t.Errorf("two of three: %s at size %d", ds[0].Verdict, ds[0].Checkpoint.Size)
	}
}

func TestVerifyAllowed(t *testing.T) {
	w := newWorld(t)
	p := w.policy(t, w.log.URL, "Allow: hello")
	ds, err := (&Verifier{Policy: p}).Verify(context.Background(), []Deb{hello("anything")})
	if err != nil {
		t.Fatal(err)
	}
	if ds[0].Verdict != Allowed || ds[0].Evaluated != Insufficient {
		t.Errorf("allowed package: %s (%s)", ds[0].Verdict, ds[0].Evaluated)
	}
}

func TestOfflineMatchesOnline(t *testing.T) {
	w := newWorld(t)
	w.submit(t, "alice", "hello", "")
	w.submit(t, "bob", "hello", "")
	w.submit(t, "mallory", "hello", "")
	p := w.policy(t, w.log.URL)
	v := &Verifier{Policy: p}
	online, err := v.Verify(context.Background(), []Deb{hello("hello")})
	if err != nil {
		t.Fatal(err)
	}
	bundles, err := v.Fetch(context.Background(), []Target{hello("hello").Target})
	if err != nil {
		t.Fatal(err)
	}
	data := bundles[0].Marshal()
	if n := strings.Count(string(data), "\nrecord "); n != 2 {
		t.Errorf("the bundle carries %d records, want the 2 of trusted builders", n)
	}
	w.log.Stop()
	b, err := proofs.ParseBundle(data)
	if err != nil {
		t.Fatal(err)
	}
	offline, err := v.VerifyOffline(b, hello("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if offline.Verdict != online[0].Verdict || !slices.Equal(offline.Agreeing, online[0].Agreeing) ||
		offline.Checkpoint != online[0].Checkpoint || len(offline.Evidence) != 3 {
		t.Errorf("offline %s %v at %d, online %s %v at %d", offline.Verdict, offline.Agreeing, offline.Checkpoint.Size,
			online[0].Verdict, online[0].Agreeing, online[0].Checkpoint.Size)
	}
	if _, err := v.VerifyOffline(b, Deb{Target: Target{Package: "hello", Version: "2.10-4", Arch: "amd64"}}); err == nil ||
		errors.Is(err, ErrLog) {
		t.Errorf("a bundle for another version: %v", err)
	}
}

// TestVerifyConcurrentState runs verifications side by side while the log
// grows: the kept checkpoint never goes back, and ends at the newest size
// any of them decided against.
func TestVerifyConcurrentState(t *testing.T) {
	w := newWorld(t)
	w.submit(t, "alice", "hello", "")
	p := w.policy(t, w.log.URL)
	var mu sync.Mutex
	newest := int64(0)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				ds, err := (&Verifier{Policy: p}).Verify(context.Background(), []Deb{hello("hello")})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				newest = max(newest, ds[0].Checkpoint.Size)
				mu.Unlock()
			}
		}()
	}
	for i := range 3 {
		w.submit(t, "bob", fmt.Sprintf("hello %d", i), "")
	}
	wg.Wait()
	kept, err := (&Verifier{Policy: p}).seen(mustRead(t, filepath.Join(p.StateDir, "checkpoint")))
	if err != nil {
		t.Fatal(err)
	}
	if kept.Size != newest {
		t.Errorf("kept a checkpoint of size %d, but a decision used size %d", kept.Size, newest)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestVerifyStateNeverGoesBack stalls a verification that holds an older
// checkpoint while another, holding a newer one, tries to store it: the
// state lock makes the second wait, so the older never overwrites the
// newer.
func TestVerifyStateNeverGoesBack(t *testing.T) {
	w := newWorld(t)
	w.submit(t, "alice", "hello", "")
	p := w.policy(t, w.log.URL)
	if _, err := (&Verifier{Policy: p}).Verify(context.Background(), []Deb{hello("hello")}); err != nil {
		t.Fatal(err)
	}
	w.submit(t, "bob", "hello", "")
	inside, bLocking, bDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	a := &Verifier{Policy: p, stall: func() {
		close(inside)
		<-bLocking
		select {
		case <-bDone:
		case <-time.After(300 * time.Millisecond):
		}
	}}
	aDone := make(chan error)
	go func() {
		_, err := a.Verify(context.Background(), []Deb{hello("hello")})
		aDone <- err
	}()
	<-inside // a holds size 2 and has read the kept size 1
	w.submit(t, "carol", "hello", "")
	b := &Verifier{Policy: p, locking: func() { close(bLocking) }}
	ds, err := b.Verify(context.Background(), []Deb{hello("hello")})
	close(bDone)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
	kept, err := b.seen(mustRead(t, filepath.Join(p.StateDir, "checkpoint")))
	if err != nil {
		t.Fatal(err)
	}
	if ds[0].Checkpoint.Size != 3 || kept.Size != 3 {
		t.Errorf("b decided at size %d; the state keeps size %d, want 3", ds[0].Checkpoint.Size, kept.Size)
	}
}
