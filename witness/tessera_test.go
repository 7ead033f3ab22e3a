package witness_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/reprolog/reprolog/witness"
	"github.com/reprolog/reprolog/witness/witnesstest"
)

// TestTesseraLogUsesOurWitness runs a plain Tessera log (POSIX storage on
// disk) configured through Tessera's own policy reader and witness client to
// require our witness's cosignature, and checks that what Tessera publishes
// carries it.
func TestTesseraLogUsesOurWitness(t *testing.T) {
	key := witnesstest.NewLogKey(t, "example.com/tessera")
	w := witnesstest.StartWitness(t, "example.com/witness", key.Entry())
	text := fmt.Sprintf("log %s\nwitness ours %s %s\nquorum ours\n", key.VKey, w.VKey, w.URL)
	policy, err := witness.ParsePolicy([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	log := witnesstest.StartTesseraLog(t, key, []byte(text))

	var last int64
	for round, n := range []int{3, 40} {
		entries := make([][]byte, n)
		for i := range entries {
			entries[i] = fmt.Appendf(nil, "round %d entry %d", round, i)
		}
		published := log.Add(t, time.Minute, entries...)
		wit, err := policy.Verify(published, key.Verifier)
		if err != nil {
			t.Fatalf("round %d: Tessera's published checkpoint lacks our cosignature: %v\n%s", round, err, published)
		}
		if len(wit.Cosignatures) != 1 || wit.Cosignatures[0].Witness != "ours" {
			t.Fatalf("cosignatures = %+v", wit.Cosignatures)
		}
		if age := time.Since(wit.Oldest); age < -time.Minute || age > time.Minute {
			t.Errorf("cosignature time %v is not now", wit.Oldest)
		}
		if wit.Checkpoint.N < last+int64(n) {
			t.Fatalf("round %d: published size %d, want at least %d", round, wit.Checkpoint.N, last+int64(n))
		}
		last = wit.Checkpoint.N
		st, err := w.State(context.Background(), key.Origin)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size != wit.Checkpoint.N || st.Hash != wit.Checkpoint.Hash {
			t.Fatalf("witness holds %d %v, Tessera published %d %v", st.Size, st.Hash, wit.Checkpoint.N, wit.Checkpoint.Hash)
		}
	}
}

// TestTesseraAddsAWitness restarts a Tessera log with a second, new witness
// in its policy. Tessera first offers the new witness its published size as
// the old size; the witness answers 409 with size 0, and Tessera retries
// from 0. Both cosign from then on.
func TestTesseraAddsAWitness(t *testing.T) {
	key := witnesstest.NewLogKey(t, "example.com/tessera")
	first := witnesstest.StartWitness(t, "example.com/first", key.Entry())
	second := witnesstest.StartWitness(t, "example.com/second", key.Entry())
	one := fmt.Sprintf("witness A %s %s\nquorum A\n", first.VKey, first.URL)
	two := fmt.Sprintf("witness A %s %s\nwitness B %s %s\ngroup both all A B\nquorum both\n",
		first.VKey, first.URL, second.VKey, second.URL)
	log := witnesstest.StartTesseraLog(t, key, []byte(one))
	log.Add(t, time.Minute, []byte("a"), []byte("b"))

	log.Restart(t, []byte(two))
	published := log.Add(t, time.Minute, []byte("c"))
	policy, err := witness.ParsePolicy([]byte("log " + key.VKey + "\n" + two))
	if err != nil {
		t.Fatal(err)
	}
	wit, err := policy.Verify(published, nil)
	if err != nil {
		t.Fatalf("published checkpoint: %v\n%s", err, published)
	}
	if wit.Checkpoint.N != 3 || len(wit.Cosignatures) != 2 {
		t.Fatalf("published size %d with %d cosignatures, want 3 with 2", wit.Checkpoint.N, len(wit.Cosignatures))
	}
	for _, w := range []*witnesstest.Witness{first, second} {
		if st, err := w.State(context.Background(), key.Origin); err != nil || st.Size != 3 {
			t.Errorf("%s holds size %d (%v), want 3", w.VKey, st.Size, err)
		}
	}
}
