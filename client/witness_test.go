package client

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/tessera"
	"golang.org/x/mod/sumdb/note"

	rlog "github.com/reprolog/reprolog/log"
	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/pgp/pgptest"
	"github.com/reprolog/reprolog/witness"
	"github.com/reprolog/reprolog/witness/witnesstest"
)

// TestVerifyRealWitness runs the log with reprolog's witness cosigning
// every checkpoint before it is published, and decides under a policy
// that requires that witness.
func TestVerifyRealWitness(t *testing.T) {
	dir := t.TempDir()
	_, vkey, err := rlog.LoadOrCreateKey(dir, "reprolog.test/log", "")
	if err != nil {
		t.Fatal(err)
	}
	logKey, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	wit := witnesstest.StartWitness(t, "witness.test",
		witness.LogEntry{Origin: logKey.Name(), VKey: vkey, Verifier: logKey})
	policy := []byte("witness w " + wit.VKey + " " + wit.URL + "\nquorum w\n")
	group, err := tessera.NewWitnessGroupFromPolicy(policy)
	if err != nil {
		t.Fatal(err)
	}
	l := logtest.StartDir(t, dir, func(c *rlog.Config) { c.Witnesses = &group; c.WitnessTimeout = 10 * time.Second })

	w := &world{log: l, dir: t.TempDir(), signers: map[string]*pgptest.Signer{}}
	for _, name := range []string{"alice", "bob", "carol"} {
		s := pgptest.NewSigner(t, name)
		w.signers[name] = s
		l.Register(t, s.PublicArmored())
		if err := os.WriteFile(filepath.Join(w.dir, name+".asc"), s.PublicArmored(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(w.dir, "witnesses"), policy, 0o644); err != nil {
		t.Fatal(err)
	}
	w.submit(t, "alice", "hello", "")
	w.submit(t, "bob", "hello", "")

	p := w.policy(t, l.URL, "Witness-Policy: witnesses", "Max-Age: 1h")
	ds, err := (&Verifier{Policy: p}).Verify(context.Background(), []Deb{hello("hello")})
	if err != nil {
		t.Fatal(err)
	}
	d := ds[0]
	if d.Verdict != Reproducible || !strings.Contains(d.Checkpoint.Note, "— witness.test ") ||
		time.Since(d.Checkpoint.Witnessed) > time.Minute {
		t.Errorf("%s against %q witnessed at %v", d.Verdict, d.Checkpoint.Note, d.Checkpoint.Witnessed)
	}

	// Another witness key of the same name does not satisfy the policy.
	other := witnesstest.StartWitness(t, "witness.test")
	if err := os.WriteFile(filepath.Join(w.dir, "witnesses"), []byte("witness w "+other.VKey+"\nquorum w\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p = w.policy(t, l.URL, "Witness-Policy: witnesses", "Max-Age: 1h")
	if _, err := (&Verifier{Policy: p}).Verify(context.Background(), []Deb{hello("hello")}); !errors.Is(err, witness.ErrQuorum) {
		t.Errorf("Verify with an unknown witness's key = %v, want witness.ErrQuorum", err)
	}
}
