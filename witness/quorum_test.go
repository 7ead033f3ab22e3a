package witness_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"filippo.io/torchwood"
	"github.com/reprolog/reprolog/witness"
	"github.com/reprolog/reprolog/witness/witnesstest"
	"github.com/transparency-dev/tessera"
	"golang.org/x/mod/sumdb/note"
)

// cosign appends s's cosignature of checkpoint to it.
func cosign(t testing.TB, checkpoint []byte, s note.Signer) []byte {
	t.Helper()
	text := noteText(t, checkpoint)
	signed, err := note.Sign(&note.Note{Text: text}, s)
	if err != nil {
		t.Fatal(err)
	}
	return append(append([]byte(nil), checkpoint...), signed[len(text)+1:]...)
}

// quorumFixture is the example policy of C2SP tlog-policy: two of the three
// X witnesses and one of the three Y witnesses.
type quorumFixture struct {
	policy  *witness.Policy
	text    string
	log     *witnesstest.MemLog
	signers map[string]*torchwood.CosignatureSigner
}

func newQuorumFixture(t testing.TB) *quorumFixture {
	k := newKeys(t)
	f := &quorumFixture{
		log:     witnesstest.NewMemLog(witnesstest.NewLogKey(t, "log.example/q")),
		signers: map[string]*torchwood.CosignatureSigner{},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "log %s\n", f.log.Key.VKey)
	for _, name := range []string{"X1", "X2", "X3", "Y1", "Y2", "Y3"} {
		f.signers[name] = k.cosigner(name, strings.ToLower(name)+".example/w")
		fmt.Fprintf(&b, "witness %s %s https://%s.example/\n", name, f.signers[name].Verifier().String(), strings.ToLower(name))
	}
	b.WriteString("group X-witnesses 2 X1 X2 X3\ngroup Y-witnesses any Y1 Y2 Y3\n")
	b.WriteString("group X-and-Y all X-witnesses Y-witnesses\nquorum X-and-Y\n")
	f.text = b.String()
	p, err := witness.ParsePolicy([]byte(f.text))
	if err != nil {
		t.Fatal(err)
	}
	f.policy = p
	f.log.AppendN(t, 6, "q")
	return f
}

func names(cs []witness.Cosignature) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Witness)
	}
	return out
}

func TestVerifyQuorumAndOldest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newQuorumFixture(t)
		t0 := time.Now().Truncate(time.Second)
		cp := f.log.Checkpoint(t, 6)
		// Cosign one hour apart: X1 at t0, X2 at t0+1h, ... Y2 at t0+4h.
		for _, name := range []string{"X1", "X2", "X3", "Y1", "Y2"} {
			cp = cosign(t, cp, f.signers[name])
			time.Sleep(time.Hour)
		}
		w, err := f.policy.Verify(cp, f.log.Key.Verifier)
		if err != nil {
			t.Fatal(err)
		}
		// The newest satisfying set: X2 and X3 (not X1), and Y2.
		if got := names(w.Cosignatures); !slices.Equal(got, []string{"X2", "X3", "Y2"}) {
			t.Errorf("cosignatures = %v, want [X2 X3 Y2]", got)
		}
		if want := t0.Add(time.Hour); !w.Oldest.Equal(want) {
			t.Errorf("Oldest = %v, want %v (X2's cosignature)", w.Oldest, want)
		}
		if w.Checkpoint.N != 6 || w.Checkpoint.Hash != f.log.Hash(t, 6) || w.Checkpoint.Origin != "log.example/q" {
			t.Errorf("checkpoint = %+v", w.Checkpoint)
		}
		if len(w.Note.Sigs) != 1 || w.Note.Sigs[0].Name != "log.example/q" {
			t.Errorf("note signatures = %+v, want the log's", w.Note.Sigs)
		}
		for _, c := range w.Cosignatures {
			ts, err := torchwood.CosignatureTimestamp(c.Signature)
			if err != nil || ts != c.Time.Unix() {
				t.Errorf("%s: Time %v does not match its signature's timestamp %d (%v)", c.Witness, c.Time, ts, err)
			}
		}

		// With nil, the policy's log keys are used.
		if _, err := f.policy.Verify(cp, nil); err != nil {
			t.Errorf("Verify with the policy's logs: %v", err)
		}
	})
}

func TestVerifyRefusals(t *testing.T) {
	f := newQuorumFixture(t)
	cp := f.log.Checkpoint(t, 6)
	with := func(base []byte, ws ...string) []byte {
		for _, w := range ws {
			base = cosign(t, base, f.signers[w])
		}
		return base
	}
	stranger := newKeys(t).cosigner("s", "stranger.example/w")
	otherLog := witnesstest.NewLogKey(t, "log.example/q")
	wrongOrigin, err := note.Sign(&note.Note{Text: strings.Replace(noteText(t, cp), "log.example/q", "log.example/r", 1)}, f.log.Key.Signer)
	if err != nil {
		t.Fatal(err)
	}
	older := f.log.Checkpoint(t, 5)

	tests := []struct {
		name       string
		checkpoint []byte
		quorum     bool   // want ErrQuorum (else another error, or none if want is "")
		want       string // substring of the error; "" means success
	}{
		{"enough", with(cp, "X1", "X3", "Y3"), false, ""},
		{"unknown extra signatures are ignored", cosign(t, with(cp, "X1", "X2", "Y1"), stranger), false, ""},
		{"no cosignatures", cp, true, `group "X-and-Y" has 0 of the 2 members it needs (without: "X-witnesses", "Y-witnesses")`},
		{"no Y", with(cp, "X1", "X2", "X3"), true, `without: "Y-witnesses"`},
		{"one X", with(cp, "X1", "Y1", "Y2"), true, `without: "X-witnesses"`},
		{"stranger does not count", cosign(t, with(cp, "X1", "Y1"), stranger), true, "X-witnesses"},
		{"tampered cosignature does not count", tamper(t, with(cp, "Y1", "X1", "X2")), true, "X-witnesses"},
		{"tampered extra cosignature is harmless", tamper(t, with(cp, "Y1", "X1", "X2", "X3")), false, ""},
		{"cosignatures of another checkpoint", append(append([]byte(nil), cp...), with(older, "X1", "X2", "Y1")[len(older):]...), true, "X-witnesses"},
		{"not signed by the log", with(resign(t, otherLog, cp), "X1", "X2", "Y1"), false, "not validly signed by the log"},
		{"origin is not the key name", with(wrongOrigin, "X1", "X2", "Y1"), false, "origin"},
		{"not a note", []byte("hello"), false, "not validly signed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := f.policy.Verify(tt.checkpoint, f.log.Key.Verifier)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if len(w.Cosignatures) != 3 {
					t.Fatalf("cosignatures = %v, want 3", names(w.Cosignatures))
				}
				return
			}
			if err == nil {
				t.Fatal("Verify accepted it")
			}
			if errors.Is(err, witness.ErrQuorum) != tt.quorum {
				t.Errorf("errors.Is(err, ErrQuorum) = %v, want %v (%v)", !tt.quorum, tt.quorum, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

// resign re-signs checkpoint's text with another key of the same name.
func resign(t *testing.T, k witnesstest.LogKey, checkpoint []byte) []byte {
	signed, err := note.Sign(&note.Note{Text: noteText(t, checkpoint)}, k.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func TestVerifyQuorumNoneAndSingleWitness(t *testing.T) {
	k := newKeys(t)
	log := witnesstest.NewMemLog(witnesstest.NewLogKey(t, "log.example/n"))
	log.AppendN(t, 3, "n")
	cp := log.Checkpoint(t, 3)

	none, err := witness.ParsePolicy([]byte("log " + log.Key.VKey + "\nquorum none\n"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := none.Verify(cp, log.Key.Verifier)
	if err != nil || len(w.Cosignatures) != 0 || !w.Oldest.IsZero() {
		t.Fatalf("quorum none: %+v, %v; want no cosignatures and a zero Oldest", w, err)
	}

	s := k.cosigner("w", "w.example")
	single, err := witness.ParsePolicy([]byte("witness W " + s.Verifier().String() + "\nquorum W\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := single.Verify(cp, log.Key.Verifier); !errors.Is(err, witness.ErrQuorum) || !strings.Contains(err.Error(), `witness "W"`) {
		t.Fatalf("single witness, no cosignature: %v", err)
	}
	if w, err := single.Verify(cosign(t, cp, s), log.Key.Verifier); err != nil || len(w.Cosignatures) != 1 || w.Oldest.IsZero() {
		t.Fatalf("single witness: %+v, %v", w, err)
	}
	if _, err := single.Verify(cp, nil); err == nil || !strings.Contains(err.Error(), "no logs") {
		t.Fatalf("nil log verifier with a policy without logs: %v", err)
	}
}

// TestVerifyAgreesWithTessera compares Verify with Tessera's own quorum
// check on random sets of cosigning witnesses.
func TestVerifyAgreesWithTessera(t *testing.T) {
	f := newQuorumFixture(t)
	group, err := tessera.NewWitnessGroupFromPolicy([]byte(f.text))
	if err != nil {
		t.Fatal(err)
	}
	all := []string{"X1", "X2", "X3", "Y1", "Y2", "Y3"}
	rng := rand.New(rand.NewPCG(1, 2))
	base := f.log.Checkpoint(t, 6)
	satisfied := 0
	for mask := range 1 << len(all) {
		cp := base
		order := rng.Perm(len(all))
		for _, i := range order {
			if mask&(1<<i) != 0 {
				cp = cosign(t, cp, f.signers[all[i]])
			}
		}
		_, err := f.policy.Verify(cp, f.log.Key.Verifier)
		if ours, theirs := err == nil, group.Satisfied(cp); ours != theirs {
			t.Errorf("cosigners %06b: Verify says %v (%v), Tessera says %v", mask, ours, err, theirs)
		}
		if err == nil {
			satisfied++
		}
	}
	// 2 of 3 X (4 ways) times at least one of 3 Y (7 ways).
	if satisfied != 28 {
		t.Errorf("%d of 64 sets satisfy the quorum, want 28", satisfied)
	}
}
