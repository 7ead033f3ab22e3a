package witness_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/reprolog/reprolog/witness"
	"github.com/reprolog/reprolog/witness/witnesstest"
)

// TestConcurrentRequestsCannotRollBack runs the race C2SP tlog-witness warns
// about: request A (to size 3) is checked, then stalls before committing;
// request B (to size 6) is checked and committed; then A resumes. A must be
// refused with 409 and the held size must stay 6.
func TestConcurrentRequestsCannotRollBack(t *testing.T) {
	for _, tt := range []struct {
		name         string
		first, other int64 // sizes of the stalled request and of the racing one
	}{
		{"smaller request stalls", 3, 6},
		{"larger request stalls", 6, 3},
		{"same size stalls", 6, 6},
	} {
		t.Run(tt.name, func(t *testing.T) {
			log := witnesstest.NewMemLog(witnesstest.NewLogKey(t, "example.com/log"))
			log.AppendN(t, 6, "x")
			w := witnesstest.StartWitness(t, "example.com/witness", log.Key.Entry())

			stalled, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			witness.SetStall(w.Witness, func() {
				first := false
				once.Do(func() { first = true })
				if first {
					close(stalled)
					<-release
				}
			})

			var a response
			reqA := log.Request(t, 0, tt.first)
			done := make(chan struct{})
			go func() {
				defer close(done)
				a = postNoFatal(w.URL, reqA)
			}()
			<-stalled
			b := post(t, w.URL, log.Request(t, 0, tt.other))
			checkCosigned(t, b, w.VKey, log.Checkpoint(t, tt.other))
			close(release)
			<-done

			if a.status != http.StatusConflict || a.contentType != "text/x.tlog.size" || a.body != sizeLine(tt.other) {
				t.Fatalf("stalled request: %d %q %q; want 409 text/x.tlog.size %q", a.status, a.contentType, a.body, sizeLine(tt.other))
			}
			if st := state(t, w, log.Key.Origin); st.Size != tt.other || st.Hash != log.Hash(t, tt.other) {
				t.Fatalf("held size %d, want %d: the stalled request rolled the state back", st.Size, tt.other)
			}
		})
	}
}
