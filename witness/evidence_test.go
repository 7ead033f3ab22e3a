package witness_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/reprolog/reprolog/witness"
	"github.com/reprolog/reprolog/witness/witnesstest"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// TestJunkCannotCrowdOutForks sends more unproven reports than the witness
// keeps (genuine newer checkpoints with garbage proofs, which anyone can
// send) between two forks of the log: both forks are kept as proof, the
// junk is capped and labelled unproven, and one checkpoint dressed up with
// unknown signatures is one report, not many.
func TestJunkCannotCrowdOutForks(t *testing.T) {
	const junk = 1005 // more than the witness keeps
	log := witnesstest.NewMemLog(witnesstest.NewLogKey(t, "example.com/log"))
	w := witnesstest.StartWitness(t, "example.com/witness", log.Key.Entry())
	log.AppendN(t, 5, "common")
	forkA, forkB := log.Fork(), log.Fork()
	log.AppendN(t, 3, "honest")
	forkA.AppendN(t, 3, "evil A")
	forkB.AppendN(t, 3, "evil B")
	held := log.Checkpoint(t, 8)
	checkCosigned(t, post(t, w.URL, log.Request(t, 0, 8)), w.VKey, held)

	sendFork := func(f *witnesstest.MemLog) []byte {
		t.Helper()
		cp := f.Checkpoint(t, 8)
		if r := post(t, w.URL, witnesstest.AddCheckpointBody(8, nil, cp)); r.status == http.StatusOK {
			t.Fatal("the witness cosigned a fork")
		}
		return cp
	}
	first := sendFork(forkA)

	log.AppendN(t, junk, "honest")
	garbage := tlog.TreeProof{{1}, {2}}
	for n := int64(9); n < 9+junk; n++ {
		if r := post(t, w.URL, witnesstest.AddCheckpointBody(8, garbage, log.Checkpoint(t, n))); r.status != http.StatusUnprocessableEntity {
			t.Fatalf("garbage proof to size %d: status %d (%s), want 422", n, r.status, r.body)
		}
	}
	// The same checkpoint with unknown signatures added is still one report.
	for i := range 3 {
		other := witnesstest.NewLogKey(t, fmt.Sprintf("example.com/other%d", i))
		n, err := note.Open(log.Checkpoint(t, 9), note.VerifierList(log.Key.Verifier))
		if err != nil {
			t.Fatal(err)
		}
		dressed, err := note.Sign(n, other.Signer)
		if err != nil {
			t.Fatal(err)
		}
		post(t, w.URL, witnesstest.AddCheckpointBody(8, garbage, dressed))
	}
	second := sendFork(forkB)

	ev, err := w.Evidence(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var forks [][]byte
	var unproven int
	for _, e := range ev {
		switch {
		case e.Kind == witness.EvidenceFork && e.Proves():
			forks = append(forks, e.Received)
			if !bytes.Equal(e.Held, held) {
				t.Errorf("fork report holds %q, want the held checkpoint", e.Held)
			}
			a, b := openCheckpoint(t, e.Held, log.Key.Verifier), openCheckpoint(t, e.Received, log.Key.Verifier)
			if a.N != b.N || a.Hash == b.Hash {
				t.Errorf("fork report of sizes %d and %d, hashes %v and %v, is no proof", a.N, b.N, a.Hash, b.Hash)
			}
		case e.Kind == witness.EvidenceInconsistent && !e.Proves():
			unproven++
		default:
			t.Fatalf("report of kind %q, proves %v", e.Kind, e.Proves())
		}
	}
	if len(forks) != 2 || !bytes.Equal(forks[0], first) || !bytes.Equal(forks[1], second) {
		t.Fatalf("%d fork reports kept next to %d unproven ones; want both forks", len(forks), unproven)
	}
	if unproven != 1000 {
		t.Fatalf("%d unproven reports kept of %d sent, want the cap of 1000", unproven, junk)
	}
	if st := state(t, w, log.Key.Origin); st.Size != 8 {
		t.Fatalf("state moved to %d", st.Size)
	}
}
