// Package badinput builds the hostile submissions a reprolog log must
// refuse: every kind of bad input that DESIGN.md ("Bad input and failure")
// names, as real HTTP request bodies with the status and the message the
// log must answer. The log's own tests send them through its HTTP API and
// the reprolog command's tests through `reprolog submit`, so that both
// refuse the same inputs for the same reasons.
//
//	l := logtest.Start(t)
//	for _, c := range badinput.Records(t, l.URL) {
//		// POST c.Body to l.URL+"/add" as c.ContentType: expect c.Status
//		// and an error message containing c.Msg.
//	}
package badinput

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/reprolog/reprolog/pgp/pgptest"
)

// A Case is one bad request body and the answer it must get.
type Case struct {
	Name string
	// ContentType is the request's Content-Type; "" means text/plain,
	// which is what `reprolog submit` sends. Only cases with "" can go
	// through the command.
	ContentType string
	Body        []byte
	// Status is the HTTP status the log must answer.
	Status int
	// Msg must appear, case-insensitively, in the JSON error message.
	Msg string
}

// Type returns the Content-Type to send.
func (c Case) Type() string {
	if c.ContentType == "" {
		return "text/plain"
	}
	return c.ContentType
}

// Keys are the rebuilder keys Records registers with the log.
type Keys struct {
	// Good is registered and valid: the log accepts its signatures.
	Good *pgptest.Signer
	// Unknown was never registered.
	Unknown *pgptest.Signer
}

// root is the module's root directory.
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Testdata reads a file of the module by its path from the module root,
// e.g. "buildinfo/testdata/gen_local_rbtest_0.1_amd64.build1.buildinfo".
func Testdata(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(), path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Buildinfo is the real buildinfo the cases are made from.
func Buildinfo(t testing.TB) []byte {
	return Testdata(t, "buildinfo/testdata/gen_local_rbtest_0.1_amd64.build1.buildinfo")
}

// Records registers the keys the cases need with the log at base (its
// write API: POST base/keys) and returns the cases for POST base/add,
// with the keys. It takes about two seconds: one registered key must
// expire.
func Records(t testing.TB, base string) ([]Case, Keys) {
	t.Helper()
	keys := Keys{Good: pgptest.NewSigner(t, "good"), Unknown: pgptest.NewSigner(t, "unknown")}
	expiring := pgptest.NewSigner(t, "expiring", pgptest.Lifetime(time.Second))
	revoked := pgptest.NewSigner(t, "revoked")
	for _, s := range []*pgptest.Signer{keys.Good, expiring, revoked} {
		if code, body := Post(t, base+"/keys", "text/plain", s.PublicArmored()); code != http.StatusCreated {
			t.Fatalf("registering a key: %d %s", code, body)
		}
	}
	text := Buildinfo(t)
	expiredRecord := expiring.ClearSign(t, text)
	revokedRecord := revoked.ClearSign(t, text)
	revoked.Revoke(t)
	if code, body := Post(t, base+"/keys", "text/plain", revoked.PublicArmored()); code != http.StatusForbidden {
		t.Fatalf("sending a revocation: %d %s", code, body)
	}

	cases := append(deb822Cases(t, keys.Good, text), signedPartCases(t, keys.Good, text)...)
	cases = append(cases, signatureCases(t, keys, text)...)
	cases = append(cases,
		Case{Name: "key expired since registration", Body: expiredRecord, Status: 403, Msg: "expired"},
		Case{Name: "key revoked since registration", Body: revokedRecord, Status: 403, Msg: "revoked"},
	)
	cases = append(cases, transportCases(t, keys.Good, text)...)
	// Lifetimes count whole seconds: wait until the expiring key expired.
	time.Sleep(time.Until(expiring.Entity().PrimaryKey.CreationTime.Add(2 * time.Second)))
	return cases, keys
}

// Keyblocks returns bad bodies for POST /keys.
func Keyblocks(t testing.TB) []Case {
	t.Helper()
	good := pgptest.NewSigner(t, "a").PublicArmored()
	expired := pgptest.NewSigner(t, "old", pgptest.CreatedAt(time.Now().Add(-48*time.Hour)), pgptest.Lifetime(time.Hour))
	revoked := pgptest.NewSigner(t, "revoked")
	revoked.Revoke(t)
	two := append(bytes.Clone(good), pgptest.NewSigner(t, "b").PublicArmored()...)
	return []Case{
		{Name: "empty", Status: 400, Msg: "empty"},
		{Name: "not a key", Body: []byte("hello\n"), Status: 400, Msg: "neither armored nor binary"},
		{Name: "armor of junk", Body: []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nRVZJTA==\n-----END PGP PUBLIC KEY BLOCK-----\n"), Status: 400, Msg: "unreadable key data"},
		{Name: "truncated", Body: good[:len(good)/2], Status: 400, Msg: "no end line"},
		{Name: "two keys", Body: two, Status: 400, Msg: "2 keys, want exactly one"},
		{Name: "a signed record instead of a key", Body: pgptest.NewSigner(t, "c").ClearSign(t, Buildinfo(t)), Status: 400, Msg: "unexpected data around"},
		{Name: "expired", Body: expired.PublicArmored(), Status: 403, Msg: "expired"},
		{Name: "revoked", Body: revoked.PublicArmored(), Status: 403, Msg: "revoked"},
		{Name: "binary junk", ContentType: "application/octet-stream", Body: bytes.Repeat([]byte{0x99, 0xff, 0}, 1000), Status: 400, Msg: "unsupported primary key"},
		{Name: "json", ContentType: "application/json", Body: good, Status: 415, Msg: "content type"},
		{Name: "oversized", Body: bytes.Repeat([]byte("A"), 1<<20+1), Status: 413, Msg: "larger than"},
	}
}

// Post sends body to url and returns the status and the response body.
func Post(t testing.TB, url, contentType string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes()
}

// Check posts c to url and fails the test unless the answer is c.Status
// with a JSON error message that says c.Msg.
func Check(t testing.TB, url string, c Case) {
	t.Helper()
	code, body := Post(t, url, c.Type(), c.Body)
	var e struct{ Error string }
	if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
		t.Errorf("%s: %d: not a JSON error: %.200q", c.Name, code, body)
		return
	}
	if code != c.Status || !strings.Contains(strings.ToLower(e.Error), strings.ToLower(c.Msg)) {
		t.Errorf("%s: %d %q, want %d and %q", c.Name, code, e.Error, c.Status, c.Msg)
	}
}

// Versioned returns text with its Version changed to 0.1+tag, so that each
// record made from it is a different record.
func Versioned(text []byte, tag string) []byte {
	return bytes.Replace(text, []byte("Version: 0.1\n"), fmt.Appendf(nil, "Version: 0.1+%s\n", tag), 1)
}
