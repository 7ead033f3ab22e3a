package witness_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"filippo.io/torchwood"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

type response struct {
	status      int
	contentType string
	body        string
}

func post(t *testing.T, url string, body []byte) response {
	t.Helper()
	r := postNoFatal(url, body)
	if r.status == 0 {
		t.Fatal(r.body)
	}
	return r
}

// postNoFatal is post for goroutines other than the test's: a transport
// error is a response with status 0 and the error as body.
func postNoFatal(url string, body []byte) response {
	resp, err := http.Post(url+"/add-checkpoint", "text/plain", bytes.NewReader(body))
	if err != nil {
		return response{body: err.Error()}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{body: err.Error()}
	}
	return response{resp.StatusCode, resp.Header.Get("Content-Type"), string(b)}
}

func sizeLine(n int64) string { return fmt.Sprintf("%d\n", n) }

// checkCosigned checks that a 200 response holds exactly one valid
// cosignature from the witness over checkpoint, and returns its timestamp.
func checkCosigned(t *testing.T, r response, vkey string, checkpoint []byte) int64 {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d (%s), want 200", r.status, r.body)
	}
	v, err := fnote.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(append(append([]byte(nil), checkpoint...), r.body...), note.VerifierList(v))
	if err != nil {
		t.Fatalf("cosignature does not verify: %v\n%s", err, r.body)
	}
	if len(n.Sigs) != 1 || bytes.Count([]byte(r.body), []byte("\n")) != 1 {
		t.Fatalf("want exactly one cosignature line, got %q", r.body)
	}
	ts, err := torchwood.CosignatureTimestamp(n.Sigs[0])
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// noteText returns the text of a signed note (without the signatures).
func noteText(t testing.TB, signed []byte) string {
	t.Helper()
	i := bytes.LastIndex(signed, []byte("\n\n"))
	if i < 0 {
		t.Fatalf("not a signed note: %q", signed)
	}
	return string(signed[:i+1])
}

// tamper flips a bit in the last signature of a signed note, keeping its
// key name and hash.
func tamper(t *testing.T, signed []byte) []byte {
	t.Helper()
	text := noteText(t, signed)
	sigs := strings.Split(strings.TrimSuffix(string(signed[len(text)+1:]), "\n"), "\n")
	last := sigs[len(sigs)-1]
	i := strings.LastIndex(last, " ")
	sig, err := base64.StdEncoding.DecodeString(last[i+1:])
	if err != nil {
		t.Fatal(err)
	}
	sig[len(sig)-1] ^= 1
	sigs[len(sigs)-1] = last[:i+1] + base64.StdEncoding.EncodeToString(sig)
	return []byte(text + "\n" + strings.Join(sigs, "\n") + "\n")
}

func openCheckpoint(t *testing.T, signed []byte, v note.Verifier) torchwood.Checkpoint {
	t.Helper()
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		t.Fatalf("checkpoint does not verify: %v", err)
	}
	c, err := torchwood.ParseCheckpoint(n.Text)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func emptyHash() [32]byte { return sha256.Sum256(nil) }
