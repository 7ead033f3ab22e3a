package witness_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/reprolog/reprolog/witness/witnesstest"
)

// BenchmarkAddCheckpoint measures one add-checkpoint request (parse, log
// signature, consistency proof, cosignature, durable compare-and-swap),
// without the network.
func BenchmarkAddCheckpoint(b *testing.B) {
	log := witnesstest.NewMemLog(witnesstest.NewLogKey(b, "example.com/log"))
	w := witnesstest.StartWitness(b, "example.com/witness", log.Key.Entry())
	log.AppendN(b, b.N+1, "bench")
	reqs := make([][]byte, b.N)
	for i := range reqs {
		reqs[i] = log.Request(b, int64(i), int64(i+1))
	}
	b.ResetTimer()
	for i := range b.N {
		rec := httptest.NewRecorder()
		w.Witness.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/add-checkpoint", bytes.NewReader(reqs[i])))
		if rec.Code != http.StatusOK {
			b.Fatalf("request %d: %d %s", i, rec.Code, rec.Body)
		}
	}
}

// BenchmarkPolicyVerify measures verifying a checkpoint against the
// two-level example policy of C2SP tlog-policy, with five cosignatures.
func BenchmarkPolicyVerify(b *testing.B) {
	f := newQuorumFixture(b)
	cp := f.log.Checkpoint(b, 6)
	for _, name := range []string{"X1", "X2", "X3", "Y1", "Y2"} {
		cp = cosign(b, cp, f.signers[name])
	}
	b.ResetTimer()
	for range b.N {
		if _, err := f.policy.Verify(cp, f.log.Key.Verifier); err != nil {
			b.Fatal(err)
		}
	}
}
