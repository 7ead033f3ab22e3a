package witnesstest_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/reprolog/reprolog/witness"
	"github.com/reprolog/reprolog/witness/witnesstest"
)

// TestLitewitnessAndOursCosignTessera runs torchwood's litewitness (a
// separate process) and our witness as the two witnesses a plain Tessera log
// needs, and checks every published checkpoint carries both cosignatures.
func TestLitewitnessAndOursCosignTessera(t *testing.T) {
	key := witnesstest.NewLogKey(t, "example.com/tessera")
	lite := witnesstest.StartLitewitness(t, "example.com/litewitness")
	lite.AddLog(t, key.Origin, key.VKey)
	ours := witnesstest.StartWitness(t, "example.com/reprolog-witness", key.Entry())

	text := fmt.Sprintf("log %s\nwitness lite %s %s\nwitness ours %s %s\ngroup both all lite ours\nquorum both\n",
		key.VKey, lite.VKey, lite.URL, ours.VKey, ours.URL)
	policy, err := witness.ParsePolicy([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	log := witnesstest.StartTesseraLog(t, key, []byte(text))
	for round, n := range []int{2, 30} {
		entries := make([][]byte, n)
		for i := range entries {
			entries[i] = fmt.Appendf(nil, "round %d entry %d", round, i)
		}
		published := log.Add(t, time.Minute, entries...)
		wit, err := policy.Verify(published, key.Verifier)
		if err != nil {
			t.Fatalf("round %d: %v\n%s", round, err, published)
		}
		var got []string
		for _, c := range wit.Cosignatures {
			got = append(got, c.Witness)
		}
		if !slices.Equal(got, []string{"lite", "ours"}) {
			t.Fatalf("round %d: cosigned by %v, want both", round, got)
		}
		st, err := ours.State(context.Background(), key.Origin)
		if err != nil || st.Size != wit.Checkpoint.N {
			t.Fatalf("our witness holds %d (%v), published %d", st.Size, err, wit.Checkpoint.N)
		}
	}
}
