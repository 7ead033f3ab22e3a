package witness_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"filippo.io/torchwood"
	"github.com/reprolog/reprolog/witness"
	"github.com/reprolog/reprolog/witness/witnesstest"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func state(t *testing.T, w *witnesstest.Witness, origin string) witness.LogState {
	t.Helper()
	st, err := w.State(context.Background(), origin)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestAddCheckpointFirstAndNext(t *testing.T) {
	log := witnesstest.NewMemLog(witnesstest.NewLogKey(t, "example.com/log"))
	w := witnesstest.StartWitness(t, "example.com/witness", log.Key.Entry())

	if st := state(t, w, log.Key.Origin); st.Size != 0 || st.Hash != tlog.Hash(emptyHash()) {
		t.Fatalf("new log state = %d %v, want the empty tree", st.Size, st.Hash)
	}
	log.AppendN(t, 5, "a")
	before := time.Now().Unix()
	cp := log.Checkpoint(t, 5)
	ts := checkCosigned(t, post(t, w.URL, witnesstest.AddCheckpointBody(0, nil, cp)), w.VKey, cp)
	if ts < before-1 || ts > time.Now().Unix()+1 {
		t.Errorf("cosignature timestamp %d is not now", ts)
	}
	st := state(t, w, log.Key.Origin)
	if st.Size != 5 || st.Hash != log.Hash(t, 5) || !bytes.Equal(st.Checkpoint, cp) {
		t.Fatalf("state after first checkpoint = %d %v %q", st.Size, st.Hash, st.Checkpoint)
	}

	log.AppendN(t, 12, "b")
	cp = log.Checkpoint(t, 17)
	checkCosigned(t, post(t, w.URL, witnesstest.AddCheckpointBody(5, log.Proof(t, 5, 17), cp)), w.VKey, cp)
	// The same checkpoint again (a log republishing) is cosigned again.
	checkCosigned(t, post(t, w.URL, witnesstest.AddCheckpointBody(17, nil, cp)), w.VKey, cp)
	if st := state(t, w, log.Key.Origin); st.Size != 17 || st.Hash != log.Hash(t, 17) {
		t.Fatalf("state = %d, want 17", st.Size)
	}
}

func TestAddCheckpointStatuses(t *testing.T) {
	logA := witnesstest.NewMemLog(witnesstest.NewLogKey(t, "example.com/a"))
	logB := witnesstest.NewMemLog(witnesstest.NewLogKey(t, "example.com/b"))
	unknown := witnesstest.NewMemLog(witnesstest.NewLogKey(t, "example.com/unknown"))
	// A key named like log A that the witness does not know.
	impostor := witnesstest.NewMemLog(witnesstest.NewLogKey(t, "example.com/a"))
	w := witnesstest.StartWitness(t, "example.com/witness", logA.Key.Entry(), logB.Key.Entry())

	for i, l := range []*witnesstest.MemLog{logA, logB, unknown, impostor} {
		l.AppendN(t, 10, fmt.Sprint("log", i))
	}
	// The witness holds logA at 4.
	checkCosigned(t, post(t, w.URL, logA.Request(t, 0, 4)), w.VKey, logA.Checkpoint(t, 4))

	good := logA.Checkpoint(t, 10)
	proof := logA.Proof(t, 4, 10)
	body := func(old int64, p tlog.TreeProof, cp []byte) []byte {
		return witnesstest.AddCheckpointBody(old, p, cp)
	}
	// A checkpoint of log A's origin signed by log B's key.
	crossSigned, err := note.Sign(&note.Note{Text: noteText(t, good)}, logB.Key.Signer)
	if err != nil {
		t.Fatal(err)
	}
	tampered := tamper(t, good)
	notCheckpoint, err := note.Sign(&note.Note{Text: logA.Key.Origin + "\nten\n" + logA.Hash(t, 10).String() + "\n"}, logA.Key.Signer)
	if err != nil {
		t.Fatal(err)
	}
	var longProof tlog.TreeProof
	for range 64 {
		longProof = append(longProof, tlog.Hash{})
	}

	tests := []struct {
		name   string
		body   []byte
		status int
		size   string // body of a text/x.tlog.size 409
	}{
		{"unknown origin", unknown.Request(t, 0, 10), http.StatusNotFound, ""},
		{"unknown key for a known origin", impostor.Request(t, 4, 10), http.StatusForbidden, ""},
		{"origin of log A signed by log B", body(4, proof, crossSigned), http.StatusForbidden, ""},
		{"tampered signature", body(4, proof, tampered), http.StatusForbidden, ""},
		{"unsigned note", body(4, proof, []byte(noteText(t, good)+"\n")), http.StatusBadRequest, ""},
		{"signed note that is not a checkpoint", body(4, nil, notCheckpoint), http.StatusBadRequest, ""},
		{"no blank line", []byte("old 4\n" + string(good)), http.StatusBadRequest, ""},
		{"no checkpoint", []byte("old 4\n\n"), http.StatusBadRequest, ""},
		{"empty body", nil, http.StatusBadRequest, ""},
		{"old with leading zero", append([]byte("old 04\n\n"), good...), http.StatusBadRequest, ""},
		{"old with plus", append([]byte("old +4\n\n"), good...), http.StatusBadRequest, ""},
		{"negative old", append([]byte("old -4\n\n"), good...), http.StatusBadRequest, ""},
		{"old overflows", append([]byte("old 99999999999999999999\n\n"), good...), http.StatusBadRequest, ""},
		{"no old line", append([]byte("\n"), good...), http.StatusBadRequest, ""},
		{"CRLF", bytes.ReplaceAll(body(4, proof, good), []byte("\n"), []byte("\r\n")), http.StatusBadRequest, ""},
		{"proof line not base64", append([]byte("old 4\nnot base64!\n\n"), good...), http.StatusBadRequest, ""},
		{"proof line too short", append([]byte("old 4\nAAAA\n\n"), good...), http.StatusBadRequest, ""},
		{"64 proof lines", body(4, longProof, good), http.StatusBadRequest, ""},
		{"63 proof lines (parsed, then checked)", body(4, longProof[:63], good), http.StatusUnprocessableEntity, ""},
		{"old larger than checkpoint", body(11, nil, good), http.StatusBadRequest, ""},
		{"old smaller than held", body(2, logA.Proof(t, 2, 10), good), http.StatusConflict, "4\n"},
		{"old larger than held", body(6, logA.Proof(t, 6, 10), good), http.StatusConflict, "4\n"},
		{"old zero after held", body(0, nil, good), http.StatusConflict, "4\n"},
		{"proof of wrong length (short)", body(4, proof[:len(proof)-1], good), http.StatusUnprocessableEntity, ""},
		{"proof of wrong length (long)", body(4, append(proof[:len(proof):len(proof)], proof[0]), good), http.StatusUnprocessableEntity, ""},
		{"proof from another size", body(4, logA.Proof(t, 5, 10), good), http.StatusUnprocessableEntity, ""},
		{"proof for another log", body(4, logB.Proof(t, 4, 10), good), http.StatusUnprocessableEntity, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := post(t, w.URL, tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d (%q), want %d", r.status, r.body, tt.status)
			}
			if tt.size != "" {
				if r.contentType != "text/x.tlog.size" || r.body != tt.size {
					t.Fatalf("409 with Content-Type %q body %q, want text/x.tlog.size %q", r.contentType, r.body, tt.size)
				}
			}
			if st := state(t, w, logA.Key.Origin); st.Size != 4 || st.Hash != logA.Hash(t, 4) {
				t.Fatalf("state changed to %d after a refused request", st.Size)
			}
		})
	}
	// The validly signed checkpoint that came with bad proofs is kept
	// (once); the other refusals are not evidence of anything.
	if ev, err := w.Evidence(context.Background()); err != nil || len(ev) != 1 || ev[0].Kind != "inconsistent" {
		t.Fatalf("evidence = %+v, %v; want the one validly signed checkpoint that came with bad proofs", ev, err)
	}
	checkCosigned(t, post(t, w.URL, body(4, proof, good)), w.VKey, good)
}

// TestProofCorruption corrupts a valid consistency proof every way and checks
// that each is refused with 422 and leaves the state alone.
func TestProofCorruption(t *testing.T) {
	log := witnesstest.NewMemLog(witnesstest.NewLogKey(t, "example.com/log"))
	w := witnesstest.StartWitness(t, "example.com/witness", log.Key.Entry())
	log.AppendN(t, 13, "x")
	checkCosigned(t, post(t, w.URL, log.Request(t, 0, 7)), w.VKey, log.Checkpoint(t, 7))
	cp := log.Checkpoint(t, 13)
	proof := log.Proof(t, 7, 13)
	if len(proof) < 2 {
		t.Fatalf("proof too short to corrupt: %d", len(proof))
	}

	var bad []tlog.TreeProof
	for i := range proof {
		for bit := 0; bit < 8*tlog.HashSize; bit += 61 {
			p := append(tlog.TreeProof(nil), proof...)
			p[i][bit/8] ^= 1 << (bit % 8)
			bad = append(bad, p)
		}
		bad = append(bad, append(append(tlog.TreeProof(nil), proof[:i]...), proof[i+1:]...))
		bad = append(bad, append(append(tlog.TreeProof(nil), proof[:i+1]...), proof[i:]...))
	}
	bad = append(bad, nil, append(tlog.TreeProof{{}}, proof...), append(append(tlog.TreeProof(nil), proof...), tlog.Hash{}))
	bad = append(bad, log.Proof(t, 6, 13), log.Proof(t, 8, 13), log.Proof(t, 7, 12), log.Proof(t, 3, 6))
	for i, p := range bad {
		r := post(t, w.URL, witnesstest.AddCheckpointBody(7, p, cp))
		if r.status != http.StatusUnprocessableEntity {
			t.Errorf("corrupt proof %d: status %d (%s), want 422", i, r.status, r.body)
		}
	}
	if st := state(t, w, log.Key.Origin); st.Size != 7 {
		t.Fatalf("state moved to %d", st.Size)
	}
	checkCosigned(t, post(t, w.URL, witnesstest.AddCheckpointBody(7, proof, cp)), w.VKey, cp)
}

func TestForkIsRefusedWithEvidence(t *testing.T) {
	log := witnesstest.NewMemLog(witnesstest.NewLogKey(t, "example.com/log"))
	w := witnesstest.StartWitness(t, "example.com/witness", log.Key.Entry())
	log.AppendN(t, 5, "common")
	fork := log.Fork()
	log.AppendN(t, 3, "honest")
	fork.AppendN(t, 3, "evil")

	held := log.Checkpoint(t, 8)
	checkCosigned(t, post(t, w.URL, log.Request(t, 0, 8)), w.VKey, held)
	forked := fork.Checkpoint(t, 8)
	r := post(t, w.URL, witnesstest.AddCheckpointBody(8, nil, forked))
	if r.status != http.StatusUnprocessableEntity || r.contentType == "text/x.tlog.size" {
		t.Fatalf("fork: status %d, Content-Type %q; want 422 (C2SP tlog-witness since July 2026; it is not a size mismatch)", r.status, r.contentType)
	}
	// A consistency "proof" from the held size cannot help the fork either.
	fork.AppendN(t, 2, "evil")
	r = post(t, w.URL, fork.Request(t, 8, 10))
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("forked branch growing: status %d, want 422", r.status)
	}
	if st := state(t, w, log.Key.Origin); st.Size != 8 || st.Hash != log.Hash(t, 8) {
		t.Fatalf("state = %d %v, want the honest size 8", st.Size, st.Hash)
	}

	ev, err := w.Evidence(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) != 2 || ev[0].Kind != "fork" || ev[1].Kind != "inconsistent" {
		t.Fatalf("evidence = %+v, want a fork and an inconsistent checkpoint", ev)
	}
	e := ev[0]
	if e.Origin != log.Key.Origin || !bytes.Equal(e.Held, held) || !bytes.Equal(e.Received, forked) {
		t.Fatalf("fork evidence does not hold both signed checkpoints:\nheld %q\nreceived %q", e.Held, e.Received)
	}
	// The evidence stands on its own: both checkpoints verify with the
	// log's key, have one size and different root hashes.
	a, b := openCheckpoint(t, e.Held, log.Key.Verifier), openCheckpoint(t, e.Received, log.Key.Verifier)
	if a.N != b.N || a.Hash == b.Hash {
		t.Fatalf("evidence checkpoints %d %v and %d %v do not show a fork", a.N, a.Hash, b.N, b.Hash)
	}
	if !bytes.Equal(ev[1].Held, held) || !strings.HasPrefix(string(ev[1].Request), "old 8\n") {
		t.Fatalf("inconsistency evidence = %+v", ev[1])
	}
}

func TestHTTPMethodsAndSizes(t *testing.T) {
	log := witnesstest.NewMemLog(witnesstest.NewLogKey(t, "example.com/log"))
	w := witnesstest.StartWitness(t, "example.com/witness", log.Key.Entry())
	resp, err := http.Get(w.URL + "/add-checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /add-checkpoint: %d, want 405", resp.StatusCode)
	}
	resp, err = http.Post(w.URL+"/other", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST /other: %d, want 404", resp.StatusCode)
	}
	huge := append([]byte("old 0\n\n"), bytes.Repeat([]byte("a"), witness.MaxRequestSize)...)
	if r := post(t, w.URL, huge); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d, want 413", r.status)
	}
}

// TestRotatedLogKey configures two keys for one origin, as a log rotating
// its key would: a checkpoint signed by either, or both, is accepted; but a
// signature by one of them that does not verify makes the note malformed
// (C2SP signed-note), and it is refused with 403 even next to a valid
// signature by the other.
func TestRotatedLogKey(t *testing.T) {
	oldKey := witnesstest.NewLogKey(t, "example.com/log")
	newKey := witnesstest.NewLogKey(t, "example.com/log")
	log := witnesstest.NewMemLog(oldKey)
	w := witnesstest.StartWitness(t, "example.com/witness", oldKey.Entry(), newKey.Entry())
	log.AppendN(t, 6, "r")
	checkCosigned(t, post(t, w.URL, log.Request(t, 0, 2)), w.VKey, log.Checkpoint(t, 2))

	text := noteText(t, log.Checkpoint(t, 4))
	both, err := note.Sign(&note.Note{Text: text}, newKey.Signer, oldKey.Signer)
	if err != nil {
		t.Fatal(err)
	}
	// The old key's signature is the last line; break it.
	broken := tamper(t, both)
	if r := post(t, w.URL, witnesstest.AddCheckpointBody(2, log.Proof(t, 2, 4), broken)); r.status != http.StatusForbidden {
		t.Fatalf("a valid signature next to an invalid one of a known key: %d (%s), want 403", r.status, r.body)
	}
	checkCosigned(t, post(t, w.URL, witnesstest.AddCheckpointBody(2, log.Proof(t, 2, 4), both)), w.VKey, both)
	byNew, err := note.Sign(&note.Note{Text: noteText(t, log.Checkpoint(t, 6))}, newKey.Signer)
	if err != nil {
		t.Fatal(err)
	}
	checkCosigned(t, post(t, w.URL, witnesstest.AddCheckpointBody(4, log.Proof(t, 4, 6), byNew)), w.VKey, byNew)
	if st := state(t, w, oldKey.Origin); st.Size != 6 {
		t.Fatalf("size %d, want 6", st.Size)
	}
}

// TestExtraSignaturesIgnored sends a checkpoint that carries, besides the
// log's signature, signatures from keys the witness does not know: another
// key named like the log, another log, and another witness's cosignature.
// The witness ignores them, answers with its own cosignature only, and keeps
// the checkpoint with the log's signature only.
func TestExtraSignaturesIgnored(t *testing.T) {
	log := witnesstest.NewMemLog(witnesstest.NewLogKey(t, "example.com/log"))
	w := witnesstest.StartWitness(t, "example.com/witness", log.Key.Entry())
	other := witnesstest.StartWitness(t, "example.com/other-witness", log.Key.Entry())
	log.AppendN(t, 3, "x")
	cp := log.Checkpoint(t, 3)
	cosig := post(t, other.URL, log.Request(t, 0, 3))
	checkCosigned(t, cosig, other.VKey, cp)
	n, err := note.Open(append(bytes.Clone(cp), cosig.body...), note.VerifierList(log.Key.Verifier))
	if err != nil {
		t.Fatal(err)
	}
	sameName := witnesstest.NewLogKey(t, log.Key.Origin)
	otherLog := witnesstest.NewLogKey(t, "example.com/other-log")
	n.Sigs, n.UnverifiedSigs = append(n.Sigs, n.UnverifiedSigs...), nil
	extra, err := note.Sign(n, sameName.Signer, otherLog.Signer)
	if err != nil {
		t.Fatal(err)
	}
	if c := bytes.Count(extra, []byte("\n— ")); c != 4 {
		t.Fatalf("test checkpoint carries %d signatures, want 4:\n%s", c, extra)
	}
	checkCosigned(t, post(t, w.URL, witnesstest.AddCheckpointBody(0, nil, extra)), w.VKey, extra)
	if st := state(t, w, log.Key.Origin); st.Size != 3 || !bytes.Equal(st.Checkpoint, cp) {
		t.Fatalf("held %d %q, want the checkpoint with the log's signature only", st.Size, st.Checkpoint)
	}
}

// TestSizeZero checks the rules C2SP tlog-witness gives for a checkpoint of
// size 0: cosigned only with the empty tree's hash and no proof, else 422.
func TestSizeZero(t *testing.T) {
	log := witnesstest.NewMemLog(witnesstest.NewLogKey(t, "example.com/log"))
	w := witnesstest.StartWitness(t, "example.com/witness", log.Key.Entry())
	log.AppendN(t, 1, "x")
	text := torchwood.Checkpoint{Origin: log.Key.Origin, Tree: tlog.Tree{N: 0, Hash: log.Hash(t, 1)}}.String()
	notEmpty, err := note.Sign(&note.Note{Text: text}, log.Key.Signer)
	if err != nil {
		t.Fatal(err)
	}
	if r := post(t, w.URL, witnesstest.AddCheckpointBody(0, nil, notEmpty)); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("size 0 with a non-empty tree's hash: %d (%s), want 422", r.status, r.body)
	}
	empty := log.Checkpoint(t, 0)
	if r := post(t, w.URL, witnesstest.AddCheckpointBody(0, tlog.TreeProof{{}}, empty)); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("size 0 with a proof: %d (%s), want 422", r.status, r.body)
	}
	if ev, err := w.Evidence(context.Background()); err != nil || len(ev) != 0 {
		t.Fatalf("evidence %+v (%v): a size-0 checkpoint conflicts with no held checkpoint", ev, err)
	}
	checkCosigned(t, post(t, w.URL, witnesstest.AddCheckpointBody(0, nil, empty)), w.VKey, empty)
	checkCosigned(t, post(t, w.URL, log.Request(t, 0, 1)), w.VKey, log.Checkpoint(t, 1))
}
