package log_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
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

// gate is a reverse proxy in front of a witness that can be switched off.
type gate struct {
	URL  string
	down atomic.Bool
}

func newGate(t *testing.T, target string) *gate {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	g.URL = srv.URL
	return g
}

// TestWitnessed runs the log with two witnesses that must both cosign: our
// own, and torchwood's litewitness as a separate process. Submissions are
// answered with a checkpoint that carries both cosignatures; while a
// witness is down nothing is published or acknowledged, and once it is
// back the entry is published.
func TestWitnessed(t *testing.T) {
	dir := t.TempDir()
	const origin = "reprolog.test/log" // logtest's origin
	_, vkey, err := rlog.LoadOrCreateKey(dir, origin, "")
	if err != nil {
		t.Fatal(err)
	}
	logV, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	ours := witnesstest.StartWitness(t, "witness.test/ours", witness.LogEntry{Origin: origin, VKey: vkey, Verifier: logV})
	lite := witnesstest.StartLitewitness(t, "witness.test/lite")
	lite.AddLog(t, origin, vkey)
	oursGate := newGate(t, ours.URL)
	policy := []byte(fmt.Sprintf("log %s\nwitness ours %s %s\nwitness lite %s %s\ngroup both all ours lite\nquorum both\n",
		vkey, ours.VKey, oursGate.URL, lite.VKey, lite.URL))
	group, err := tessera.NewWitnessGroupFromPolicy(policy)
	if err != nil {
		t.Fatal(err)
	}
	clientPolicy, err := witness.ParsePolicy(policy)
	if err != nil {
		t.Fatal(err)
	}
	l := logtest.StartDir(t, dir, func(c *rlog.Config) {
		c.Witnesses = &group
		c.WitnessTimeout = 2 * time.Second
	})
	s := pgptest.NewSigner(t, "rebuilder")
	l.Register(t, s.PublicArmored())
	text := rbtest(t)

	code, body, _ := post(t, l.URL+"/add", "text/plain", s.ClearSign(t, text))
	if code != http.StatusCreated {
		t.Fatalf("add: %d %s", code, body)
	}
	var res rlog.Result
	mustJSON(t, body, &res)
	w, err := clientPolicy.Verify([]byte(res.Checkpoint), logV)
	if err != nil {
		t.Fatalf("the answer's checkpoint does not satisfy the witness policy: %v\n%s", err, res.Checkpoint)
	}
	if len(w.Cosignatures) != 2 || time.Since(w.Oldest) > time.Minute {
		t.Errorf("cosignatures %+v, oldest %v", w.Cosignatures, w.Oldest)
	}
	_, published := get(t, l.URL+"/checkpoint")
	if _, err := clientPolicy.Verify(published, logV); err != nil {
		t.Errorf("the published checkpoint: %v", err)
	}

	// One witness down: the next submission is not acknowledged.
	oursGate.down.Store(true)
	second := s.ClearSign(t, append([]byte("X-Note: second\n"), text...))
	client := &http.Client{Timeout: 4 * time.Second}
	if resp, err := client.Post(l.URL+"/add", "text/plain", bytesReader(second)); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusCreated {
			t.Fatal("acknowledged without the witness quorum")
		}
	}
	if _, cp := get(t, l.URL+"/checkpoint"); string(cp) != string(published) {
		t.Fatalf("published a new checkpoint without the quorum:\n%s", cp)
	}
	// Back up: the entry is published, and resubmitting answers it.
	oursGate.down.Store(false)
	code, body, _ = post(t, l.URL+"/add", "text/plain", second)
	if code != http.StatusOK && code != http.StatusCreated {
		t.Fatalf("resubmission after the witness came back: %d %s", code, body)
	}
	mustJSON(t, body, &res)
	if res.Index != 1 {
		t.Errorf("index %d, want 1", res.Index)
	}
	if _, err := clientPolicy.Verify([]byte(res.Checkpoint), logV); err != nil {
		t.Errorf("checkpoint after recovery: %v", err)
	}
}
