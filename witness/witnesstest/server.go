package witnesstest

import (
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/reprolog/reprolog/witness"
)

// A Witness is reprolog's witness served over HTTP on 127.0.0.1.
type Witness struct {
	*witness.Witness
	URL  string // submission prefix: POST URL + "/add-checkpoint"
	VKey string
	Dir  string // holds witness.key and witness.db
}

// StartWitness starts a witness named name for the given logs, with a new
// key and database in a temporary directory. It stops when the test ends.
func StartWitness(t testing.TB, name string, logs ...witness.LogEntry) *Witness {
	t.Helper()
	dir := t.TempDir()
	s, err := witness.GenerateKey(filepath.Join(dir, "witness.key"), name)
	if err != nil {
		t.Fatal(err)
	}
	w, err := witness.New(witness.Config{
		Signer: s,
		Logs:   logs,
		DB:     filepath.Join(dir, "witness.db"),
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w)
	t.Cleanup(func() {
		srv.Close()
		w.Close()
	})
	return &Witness{Witness: w, URL: srv.URL, VKey: w.VerifierKey(), Dir: dir}
}

// testWriter sends log output to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}
