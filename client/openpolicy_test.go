package client

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestOpenPolicyVerify decides with a policy whose keys are still loading:
// the decision and the policy are those of LoadPolicy.
func TestOpenPolicyVerify(t *testing.T) {
	w := newWorld(t)
	w.submit(t, "alice", "hello", "")
	w.submit(t, "bob", "hello", "")
	loaded := w.policy(t, w.log.URL, "Threshold: 1")
	path := filepath.Join(w.dir, "policy")
	p, err := OpenPolicy(path)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := (&Verifier{Policy: p}).Verify(context.Background(), []Deb{hello("hello")})
	if err != nil {
		t.Fatal(err)
	}
	if ds[0].Verdict != Reproducible || !slices.Equal(ds[0].Agreeing, []string{"alice", "bob"}) {
		t.Errorf("%s, agreeing %v", ds[0].Verdict, ds[0].Agreeing)
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if len(p.Builders) != 3 || p.Threshold != 1 || !slices.Equal(p.Warnings, loaded.Warnings) || len(p.Warnings) == 0 {
		t.Errorf("builders %d, threshold %d, warnings %q; LoadPolicy warns %q", len(p.Builders), p.Threshold, p.Warnings, loaded.Warnings)
	}
}

// TestOpenPolicyErrors: an error in the log paragraph is reported at once;
// one in a builder's key by Wait, and by a decision, which reports it as a
// policy error, not as the log's, the same as LoadPolicy does.
func TestOpenPolicyErrors(t *testing.T) {
	w := newWorld(t)
	w.submit(t, "alice", "hello", "")
	w.policy(t, w.log.URL)
	path := filepath.Join(w.dir, "policy")
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	write(strings.Replace(string(text), "Log-Key:", "Log-Kee:", 1))
	if _, err := OpenPolicy(path); !errors.Is(err, ErrPolicy) {
		t.Errorf("a bad log paragraph: %v", err)
	}

	write(strings.Replace(string(text), "Key-File: carol.asc", "Key-File: nobody.asc", 1))
	_, loadErr := LoadPolicy(path)
	if !errors.Is(loadErr, ErrPolicy) {
		t.Fatalf("LoadPolicy: %v", loadErr)
	}
	p, err := OpenPolicy(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = (&Verifier{Policy: p}).Verify(context.Background(), []Deb{hello("hello")})
	if !errors.Is(err, ErrPolicy) || errors.Is(err, ErrLog) || err.Error() != loadErr.Error() {
		t.Errorf("Verify: %v; LoadPolicy: %v", err, loadErr)
	}
	if err := p.Wait(); err == nil || err.Error() != loadErr.Error() {
		t.Errorf("Wait: %v; LoadPolicy: %v", err, loadErr)
	}
}
