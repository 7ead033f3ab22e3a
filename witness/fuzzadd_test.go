package witness_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/reprolog/reprolog/witness"
	"github.com/reprolog/reprolog/witness/witnesstest"
)

// FuzzAddCheckpoint sends arbitrary add-checkpoint bodies to a witness of
// one log, through its HTTP handler, checks and database included: every
// answer has a status of C2SP tlog-witness, a 200 carries a cosignature of
// exactly the checkpoint sent, and the state the witness holds never goes
// back, nor changes its hash at one size.
func FuzzAddCheckpoint(f *testing.F) {
	log := witnesstest.NewMemLog(witnesstest.NewLogKey(f, "example.com/log"))
	log.AppendN(f, 100, "x")
	fork := log.Fork()
	log.AppendN(f, 100, "y")
	fork.AppendN(f, 100, "z")
	dir := f.TempDir()
	signer, err := witness.GenerateKey(filepath.Join(dir, "witness.key"), "example.com/witness")
	if err != nil {
		f.Fatal(err)
	}
	w, err := witness.New(witness.Config{Signer: signer, Logs: []witness.LogEntry{log.Key.Entry()}, DB: filepath.Join(dir, "witness.db")})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { w.Close() })
	v, err := fnote.NewVerifierForCosignatureV1(w.VerifierKey())
	if err != nil {
		f.Fatal(err)
	}
	for _, r := range [][2]int64{{0, 1}, {0, 50}, {1, 2}, {50, 120}, {120, 120}, {120, 200}} {
		f.Add(log.Request(f, r[0], r[1]))
		f.Add(fork.Request(f, r[0], r[1]))
	}
	// A checkpoint with extra signatures by unknown keys.
	sk, _, err := note.GenerateKey(rand.Reader, "grease.example")
	if err != nil {
		f.Fatal(err)
	}
	grease, _ := note.NewSigner(sk)
	cp := log.Checkpoint(f, 150)
	n, err := note.Open(cp, note.VerifierList(log.Key.Verifier))
	if err != nil {
		f.Fatal(err)
	}
	extra, err := note.Sign(n, grease)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(witnesstest.AddCheckpointBody(0, nil, extra))
	f.Add([]byte("old 0\n\n"))

	ctx := context.Background()
	f.Fuzz(func(t *testing.T, body []byte) {
		before, err := w.State(ctx, log.Key.Origin)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		w.ServeHTTP(rec, httptest.NewRequest("POST", "/add-checkpoint", bytes.NewReader(body)))
		after, err := w.State(ctx, log.Key.Origin)
		if err != nil {
			t.Fatal(err)
		}
		if after.Size < before.Size || (after.Size == before.Size && after.Hash != before.Hash) {
			t.Fatalf("state went from %d %v to %d %v", before.Size, before.Hash, after.Size, after.Hash)
		}
		switch rec.Code {
		case http.StatusOK:
			checkpoint := body[bytes.Index(body, []byte("\n\n"))+2:]
			if _, err := note.Open(append(bytes.Clone(checkpoint), rec.Body.Bytes()...), note.VerifierList(v)); err != nil {
				t.Fatalf("200 without a cosignature of the checkpoint sent: %v", err)
			}
			// The witness holds the checkpoint with the log's signature only.
			held, err := note.Open(after.Checkpoint, note.VerifierList(log.Key.Verifier))
			if err != nil || len(held.Sigs) != 1 || len(held.UnverifiedSigs) != 0 || held.Text != noteText(t, checkpoint) {
				t.Fatalf("cosigned a checkpoint other than the one now held (%v): %q", err, after.Checkpoint)
			}
		case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusConflict,
			http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
			if after.Size != before.Size || after.Hash != before.Hash {
				t.Fatalf("a refused request changed the state")
			}
		default:
			t.Fatalf("status %d: %q", rec.Code, rec.Body.String())
		}
	})
}
