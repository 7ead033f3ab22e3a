package log_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprolog/reprolog/buildinfo"
	rlog "github.com/reprolog/reprolog/log"
	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/pgp"
	"github.com/reprolog/reprolog/pgp/pgptest"
	"github.com/reprolog/reprolog/statement"
)

// corpus returns the Debian buildinfos of the shared corpus that must
// become statements (buildinfo's own tests sort them out).
func corpus(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob("../buildinfo/testdata/*")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if s, ok := bytes.CutPrefix(raw, []byte("-----BEGIN PGP SIGNED MESSAGE-----\n")); ok {
			// Re-sign the signed text of already signed files.
			_, body, _ := bytes.Cut(s, []byte("\n\n"))
			raw, _, _ = bytes.Cut(body, []byte("-----BEGIN PGP SIGNATURE-----"))
		}
		if _, err := buildinfo.Parse(raw); err == nil {
			out[filepath.Base(f)] = raw
		}
	}
	if len(out) < 15 {
		t.Fatalf("only %d corpus buildinfos parse", len(out))
	}
	return out
}

func post(t *testing.T, url, ctype string, body []byte) (int, []byte, http.Header) {
	t.Helper()
	resp, err := http.Post(url, ctype, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestCorpusConcurrently submits the corpus re-signed by three rebuilders at
// once, then reads the whole log back with torchwood's tlog-tiles client
// and checks every entry against the checkpoint and its record.
func TestCorpusConcurrently(t *testing.T) {
	l := logtest.Start(t)
	signers := []*pgptest.Signer{
		pgptest.NewSigner(t, "rebuilder-a"),
		pgptest.NewSigner(t, "rebuilder-b", pgptest.RSA(3072)),
		pgptest.NewSigner(t, "rebuilder-c", pgptest.SigningSubkey()),
	}
	for _, s := range signers {
		if got := l.Register(t, s.PublicArmored()); got != s.Fingerprint() {
			t.Fatalf("registered %s, want %s", got, s.Fingerprint())
		}
	}
	type sub struct {
		name   string
		record []byte
	}
	var subs []sub
	for name, text := range corpus(t) {
		for _, s := range signers {
			subs = append(subs, sub{name + " by " + s.Fingerprint()[:8], s.ClearSign(t, text)})
		}
	}
	indices := make([]uint64, len(subs))
	results := make([]rlog.Result, len(subs))
	var wg sync.WaitGroup
	errs := make(chan error, len(subs))
	for i, s := range subs {
		wg.Go(func() {
			resp, err := http.Post(l.URL+"/add", "text/plain", bytes.NewReader(s.record))
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusCreated {
				errs <- fmt.Errorf("%s: %s %s", s.name, resp.Status, b)
				return
			}
			if err := json.Unmarshal(b, &results[i]); err != nil {
				errs <- err
				return
			}
			indices[i] = results[i].Index
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// Each answer's checkpoint is signed by the log and covers its index.
	v, err := note.NewVerifier(l.VKey)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for i, r := range results {
		n, err := note.Open([]byte(r.Checkpoint), note.VerifierList(v))
		if err != nil {
			t.Fatalf("%s: checkpoint: %v", subs[i].name, err)
		}
		cp, err := torchwood.ParseCheckpoint(n.Text)
		if err != nil || uint64(cp.N) <= r.Index || seen[r.Index] {
			t.Fatalf("%s: index %d, checkpoint size %d (%v), seen %v", subs[i].name, r.Index, cp.N, err, seen[r.Index])
		}
		seen[r.Index] = true
	}

	// Read everything back with an independent tlog-tiles client.
	entries := readLog(t, l, v)
	if len(entries) != len(subs) {
		t.Fatalf("log holds %d entries, submitted %d", len(entries), len(subs))
	}
	for i, s := range subs {
		entry := entries[indices[i]]
		if string(entry) != results[i].Statement {
			t.Errorf("%s: entry %d differs from the statement answered", s.name, indices[i])
		}
		// Re-derive the statement from the record the log serves.
		st, err := statement.Parse(entry)
		if err != nil {
			t.Fatal(err)
		}
		code, rec := get(t, l.URL+"/record/"+st.Record)
		if code != http.StatusOK || !bytes.Equal(rec, s.record) {
			t.Fatalf("%s: /record answered %d and %d bytes", s.name, code, len(rec))
		}
		code, armored := get(t, l.URL+"/keys/"+st.Builder)
		if code != http.StatusOK {
			t.Fatalf("/keys/%s: %d", st.Builder, code)
		}
		if again := derive(t, rec, armored); !bytes.Equal(again, entry) {
			t.Errorf("%s: the record derives\n%s\nnot\n%s", s.name, again, entry)
		}
	}
}

// readLog reads every entry with torchwood's client, which checks each
// tile against the checkpoint's tree hash.
func readLog(t *testing.T, l *logtest.Log, v note.Verifier) [][]byte {
	t.Helper()
	ctx := context.Background()
	cp, entries := logtest.ReadAll(t, l.URL, v)
	if cp.Origin != l.Origin {
		t.Fatalf("origin %q, want %q", cp.Origin, l.Origin)
	}
	fetcher, err := torchwood.NewTileFetcher(l.URL)
	if err != nil {
		t.Fatal(err)
	}
	client, err := torchwood.NewClient(fetcher)
	if err != nil {
		t.Fatal(err)
	}
	// Spot-check inclusion proofs too.
	for _, i := range []int64{0, cp.N / 2, cp.N - 1} {
		e, proof, err := client.Entry(ctx, cp.Tree, i)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckRecord(proof, cp.N, cp.Hash, i, tlog.RecordHash(e)); err != nil {
			t.Fatalf("inclusion of %d: %v", i, err)
		}
	}
	return entries
}

// derive is what any reader does: verify the record with the registered
// key as of its signature, parse, derive.
func derive(t *testing.T, record, armored []byte) []byte {
	t.Helper()
	signed, err := pgp.ParseClearsigned(record)
	if err != nil {
		t.Fatal(err)
	}
	key, err := pgp.ParseKey(armored, signed.Created)
	if err != nil {
		t.Fatal(err)
	}
	if err := signed.Verify(key, signed.Created); err != nil {
		t.Fatal(err)
	}
	b, err := buildinfo.Parse(signed.Text)
	if err != nil {
		t.Fatal(err)
	}
	st, err := statement.Derive(b, key.Fingerprint(), record)
	if err != nil {
		t.Fatal(err)
	}
	return st.Marshal()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

var _ = strings.Contains
