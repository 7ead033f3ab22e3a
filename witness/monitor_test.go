package witness_test

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/reprolog/reprolog/witness"
	"github.com/reprolog/reprolog/witness/witnesstest"
)

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func checkpointURL(base, origin string) string {
	return fmt.Sprintf("%s/%x/checkpoint", base, sha256.Sum256([]byte(origin)))
}

// served checks that the witness serves the checkpoint of log at size n,
// signed by the log and cosigned by the witness, and nothing else.
func served(t *testing.T, url string, log *witnesstest.MemLog, vkey string, n int64) {
	t.Helper()
	status, body := get(t, url)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %q", url, status, body)
	}
	cv, err := fnote.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		t.Fatal(err)
	}
	got, err := note.Open(body, note.VerifierList(log.Key.Verifier, cv))
	if err != nil {
		t.Fatalf("served checkpoint does not verify with the log's key and the witness's: %v\n%s", err, body)
	}
	if len(got.Sigs) != 2 || len(got.UnverifiedSigs) != 0 || got.Text != noteText(t, log.Checkpoint(t, n)) {
		t.Fatalf("served %q, want the checkpoint of size %d with the log's signature and the cosignature only", body, n)
	}
}

// TestMonitorCheckpoint reads the latest cosigned checkpoint of a log from
// the witness, as C2SP tlog-witness lets monitors do.
func TestMonitorCheckpoint(t *testing.T) {
	log := witnesstest.NewMemLog(witnesstest.NewLogKey(t, "example.com/log"))
	w := witnesstest.StartWitness(t, "example.com/witness", log.Key.Entry())
	url := checkpointURL(w.URL, log.Key.Origin)
	if status, _ := get(t, url); status != http.StatusNotFound {
		t.Fatalf("before any cosignature: %d, want 404", status)
	}
	for _, bad := range []string{checkpointURL(w.URL, "example.com/unknown"), strings.ToUpper(url), url + "/", w.URL + "/checkpoint"} {
		if status, _ := get(t, bad); status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", bad, status)
		}
	}

	log.AppendN(t, 7, "x")
	fork := log.Fork()
	fork.AppendN(t, 2, "fork")
	log.AppendN(t, 2, "honest")
	// Unknown signatures on the submission are not served.
	n, err := note.Open(log.Checkpoint(t, 5), note.VerifierList(log.Key.Verifier))
	if err != nil {
		t.Fatal(err)
	}
	extra, err := note.Sign(n, witnesstest.NewLogKey(t, "example.com/other").Signer)
	if err != nil {
		t.Fatal(err)
	}
	r := post(t, w.URL, witnesstest.AddCheckpointBody(0, nil, extra))
	checkCosigned(t, r, w.VKey, extra)
	served(t, url, log, w.VKey, 5)
	if status, body := get(t, url); !bytes.HasSuffix(body, []byte(r.body)) {
		t.Fatalf("served %d %q, without the cosignature the witness answered with (%q)", status, body, r.body)
	}

	checkCosigned(t, post(t, w.URL, log.Request(t, 5, 9)), w.VKey, log.Checkpoint(t, 9))
	if r := post(t, w.URL, witnesstest.AddCheckpointBody(9, nil, fork.Checkpoint(t, 9))); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("fork: %d", r.status)
	}
	served(t, url, log, w.VKey, 9)

	resp, err := http.Post(url, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST %s: %d, want 405", url, resp.StatusCode)
	}
}

// TestMonitorOldDatabase opens a database made before the witness kept its
// cosignatures: the state is kept, the monitor API has nothing to show
// until the next checkpoint, then shows it.
func TestMonitorOldDatabase(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "witness.db")
	log := witnesstest.NewMemLog(witnesstest.NewLogKey(t, "example.com/log"))
	log.AppendN(t, 6, "x")
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`CREATE TABLE log (origin TEXT PRIMARY KEY, tree_size INTEGER NOT NULL,
		tree_hash TEXT NOT NULL, checkpoint BLOB NOT NULL) STRICT;
		INSERT INTO log VALUES (?, 4, ?, ?)`, log.Key.Origin, log.Hash(t, 4).String(), log.Checkpoint(t, 4))
	if err == nil {
		err = db.Close()
	}
	if err != nil {
		t.Fatal(err)
	}

	signer, err := witness.GenerateKey(filepath.Join(dir, "witness.key"), "example.com/witness")
	if err != nil {
		t.Fatal(err)
	}
	w, err := witness.New(witness.Config{Signer: signer, Logs: []witness.LogEntry{log.Key.Entry()}, DB: dbPath})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	srv := httptest.NewServer(w)
	defer srv.Close()
	url := checkpointURL(srv.URL, log.Key.Origin)
	if status, _ := get(t, url); status != http.StatusNotFound {
		t.Fatalf("old state without a cosignature: %d, want 404", status)
	}
	if r := post(t, srv.URL, log.Request(t, 0, 6)); r.status != http.StatusConflict || r.body != "4\n" {
		t.Fatalf("old 0 on an old database: %d %q, want 409 4", r.status, r.body)
	}
	checkCosigned(t, post(t, srv.URL, log.Request(t, 4, 6)), w.VerifierKey(), log.Checkpoint(t, 6))
	served(t, url, log, w.VerifierKey(), 6)
}
