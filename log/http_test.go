package log_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/pgp/pgptest"
)

func rbtest(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../buildinfo/testdata/gen_local_rbtest_0.1_amd64.build1.buildinfo")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func lookup(t *testing.T, url string) (size uint64, indices []uint64) {
	t.Helper()
	code, b := get(t, url)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, code, b)
	}
	var res struct {
		TreeSize uint64   `json:"tree_size"`
		Indices  []uint64 `json:"indices"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	return res.TreeSize, res.Indices
}

func TestResubmitAndLookup(t *testing.T) {
	l := logtest.Start(t)
	a, b := pgptest.NewSigner(t, "a"), pgptest.NewSigner(t, "b")
	l.Register(t, a.PublicArmored())
	l.Register(t, b.PublicArmored())
	recA, recB := a.ClearSign(t, rbtest(t)), b.ClearSign(t, rbtest(t))
	first := l.Submit(t, recA)

	// Twenty concurrent resubmissions: all answer the first index.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			code, body, _ := post(t, l.URL+"/add", "text/plain", recA)
			var res struct {
				Index     uint64
				Duplicate bool
			}
			json.Unmarshal(body, &res)
			if code != http.StatusOK || res.Index != first || !res.Duplicate {
				t.Errorf("resubmission: %d %s", code, body)
			}
		})
	}
	wg.Wait()
	second := l.Submit(t, recB)
	if second != first+1 {
		t.Errorf("the next record got index %d, want %d: resubmissions grew the log", second, first+1)
	}

	size, got := lookup(t, l.URL+"/lookup?package=rbtest&version=0.1&arch=all")
	if size != 2 || len(got) != 2 || got[0] != first || got[1] != second {
		t.Errorf("binary lookup: size %d, indices %v", size, got)
	}
	if _, got := lookup(t, l.URL+"/lookup?package=rbtest&version=1:0.1&arch=all"); len(got) != 2 {
		t.Errorf("lookup with an epoch: %v", got)
	}
	if _, got := lookup(t, l.URL+"/lookup?package=rbtest&version=0.1&arch=amd64"); len(got) != 0 {
		t.Errorf("lookup of another arch: %v", got)
	}
	if _, got := lookup(t, l.URL+"/lookup?source=rbtest&version=0.1"); len(got) != 2 {
		t.Errorf("source lookup: %v", got)
	}
	if _, got := lookup(t, l.URL+"/lookup?package=rbtest&version=0.1&arch=all&tree_size=2"); len(got) != 2 {
		t.Errorf("lookup at tree_size 2: %v", got)
	}
	for _, q := range []string{"package=rbtest", "package=rbtest&version=0.1", "source=rbtest&version=0.1&arch=all",
		"package=Bad_name&version=1&arch=all", "package=a&version=1&arch=all&evil=1", "package=a&package=b&version=1&arch=all",
		"tree_size=x&source=rbtest&version=1"} {
		if code, _ := get(t, l.URL+"/lookup?"+q); code != http.StatusBadRequest {
			t.Errorf("lookup?%s: %d, want 400", q, code)
		}
	}
	code, _, hdr := postGet(t, l.URL+"/lookup?source=rbtest&version=0.1&tree_size=99")
	if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
		t.Errorf("lookup beyond the log: %d, Retry-After %q", code, hdr.Get("Retry-After"))
	}
}

func postGet(t *testing.T, url string) (int, []byte, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes(), resp.Header
}

// TestRejected submits bad records through the HTTP API: each gets its
// status and a JSON error, and nothing reaches the log or the store.
func TestRejected(t *testing.T) {
	l := logtest.Start(t)
	good := pgptest.NewSigner(t, "good")
	l.Register(t, good.PublicArmored())
	unknown := pgptest.NewSigner(t, "unknown")
	expiring := pgptest.NewSigner(t, "expiring", pgptest.Lifetime(time.Second))
	l.Register(t, expiring.PublicArmored())
	text := rbtest(t)
	expiredRecord := expiring.ClearSign(t, text)
	l.Register(t, good.PublicArmored()) // a no-op

	signed := good.ClearSign(t, text)
	weak, err := os.ReadFile("../pgp/testdata/pgpedge_dak_sha1.asc")
	if err != nil {
		t.Fatal(err)
	}
	revoked := pgptest.NewSigner(t, "revoked")
	l.Register(t, revoked.PublicArmored())
	revokedRecord := revoked.ClearSign(t, text)
	revoked.Revoke(t)
	code, body, _ := post(t, l.URL+"/keys", "text/plain", revoked.PublicArmored())
	if code != http.StatusForbidden || !strings.Contains(string(body), "now refuses its signatures") {
		t.Fatalf("sending a revocation: %d %s", code, body)
	}
	if code, armored := get(t, l.URL+"/keys/"+revoked.Fingerprint()); code != http.StatusOK || !bytes.Equal(armored, revoked.PublicArmored()) {
		t.Errorf("the log does not serve the revocation (%d)", code)
	}
	time.Sleep(2 * time.Second) // let the expiring key expire (lifetimes count whole seconds)
	tests := []struct {
		name   string
		ctype  string
		body   []byte
		status int
		msg    string
	}{
		{"unsigned", "text/plain", text, 400, "malformed"},
		{"text before", "text/plain", append([]byte("hello\n"), signed...), 400, "malformed"},
		{"text after", "text/plain", append(bytes.Clone(signed), "junk\n"...), 400, "malformed"},
		{"two blocks", "text/plain", append(bytes.Clone(signed), signed...), 400, "malformed"},
		{"tampered", "text/plain", bytes.Replace(signed, []byte("Version: 0.1"), []byte("Version: 0.2"), 1), 403, "bad signature"},
		{"unknown key", "text/plain", unknown.ClearSign(t, text), 403, "register"},
		{"expired key", "text/plain", expiredRecord, 403, "expired"},
		{"SHA-1", "text/plain", weak, 403, "weak"},
		{"revoked key", "text/plain", revokedRecord, 403, "revoked"},
		{"not a buildinfo", "text/plain", good.ClearSign(t, []byte("Hello: world\n")), 400, "buildinfo"},
		{"duplicate field", "text/plain", good.ClearSign(t, append([]byte("Version: 0.1\n"), text...)), 400, "duplicate field"},
		{"draft format", "text/plain", good.ClearSign(t, bytes.Replace(text, []byte("Installed-Build-Depends:"), []byte("Build-Environment:"), 1)), 400, "unsupported"},
		{"json", "application/json", signed, 415, "content type"},
		{"form", "application/x-www-form-urlencoded", signed, 415, "content type"},
		{"empty", "text/plain", nil, 400, "empty"},
		{"binary junk", "application/octet-stream", bytes.Repeat([]byte{0, 0xff, 0x1b}, 1000), 400, "malformed"},
		{"oversized", "text/plain", bytes.Repeat([]byte("a"), 5<<20), 413, "larger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body, _ := post(t, l.URL+"/add", tt.ctype, tt.body)
			var e struct{ Error string }
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("%d: not a JSON error: %s", code, body)
			}
			if code != tt.status || !strings.Contains(strings.ToLower(e.Error), tt.msg) {
				t.Errorf("%d %q, want %d and %q", code, e.Error, tt.status, tt.msg)
			}
			if code, _ := get(t, l.URL+"/record/"+sha(tt.body)); code != http.StatusNotFound {
				t.Errorf("the record is served after a rejection: %d", code)
			}
		})
	}
	if size, _ := lookup(t, l.URL+"/lookup?source=rbtest&version=0.1"); size != 0 {
		t.Fatalf("the log grew to %d entries after only rejections", size)
	}
	// The log still works.
	l.Submit(t, signed)
}

func TestKeys(t *testing.T) {
	l := logtest.Start(t)
	s := pgptest.NewSigner(t, "rebuilder")
	code, body, _ := post(t, l.URL+"/keys", "application/pgp-keys", s.PublicArmored())
	if code != http.StatusCreated || !strings.Contains(string(body), s.Fingerprint()) {
		t.Fatalf("registration: %d %s", code, body)
	}
	if code, body, _ = post(t, l.URL+"/keys", "text/plain", s.PublicArmored()); code != http.StatusOK {
		t.Fatalf("registering again: %d %s", code, body)
	}
	code, served := get(t, l.URL+"/keys/"+s.Fingerprint())
	if code != http.StatusOK || !bytes.Contains(served, []byte("BEGIN PGP PUBLIC KEY BLOCK")) {
		t.Fatalf("GET /keys: %d %s", code, served)
	}
	if code, _ := get(t, l.URL+"/keys/"+strings.ToLower(s.Fingerprint())); code != http.StatusOK {
		t.Errorf("lower-case fingerprint: %d", code)
	}
	if code, _ := get(t, l.URL+"/keys/"+strings.Repeat("A", 40)); code != http.StatusNotFound {
		t.Errorf("unknown fingerprint: %d", code)
	}
	if code, _ := get(t, l.URL+"/keys/..%2f..%2fetc"); code != http.StatusBadRequest {
		t.Errorf("bad fingerprint: %d", code)
	}
	expired := pgptest.NewSigner(t, "old", pgptest.CreatedAt(time.Now().Add(-48*time.Hour)), pgptest.Lifetime(time.Hour))
	revoked := pgptest.NewSigner(t, "revoked")
	revoked.Revoke(t)
	for name, tt := range map[string]struct {
		body   []byte
		status int
	}{
		"expired": {expired.PublicArmored(), 403},
		"revoked": {revoked.PublicArmored(), 403},
		"junk":    {[]byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxx\n-----END PGP PUBLIC KEY BLOCK-----\n"), 400},
		"empty":   {nil, 400},
	} {
		if code, body, _ := post(t, l.URL+"/keys", "text/plain", tt.body); code != tt.status {
			t.Errorf("%s key: %d %s, want %d", name, code, body, tt.status)
		}
	}
}

func TestSubmittersKeyring(t *testing.T) {
	allowed, other := pgptest.NewSigner(t, "allowed"), pgptest.NewSigner(t, "other")
	key := parseKey(t, allowed.PublicArmored())
	l := logtest.Start(t, func(c *rlogConfig) { c.Submitters = keys(key) })
	// Preloaded: no registration needed.
	l.Submit(t, allowed.ClearSign(t, rbtest(t)))
	if code, body, _ := post(t, l.URL+"/keys", "text/plain", other.PublicArmored()); code != http.StatusForbidden {
		t.Errorf("registering a key outside the keyring: %d %s", code, body)
	}
	code, body, _ := post(t, l.URL+"/add", "text/plain", other.ClearSign(t, rbtest(t)))
	if code != http.StatusForbidden {
		t.Errorf("a record by a key outside the keyring: %d %s", code, body)
	}
}

// TestRestart stops the log and starts it again on the same directory: the
// entries, records and index are there, and a directory of another origin
// is refused.
func TestRestart(t *testing.T) {
	l := logtest.Start(t)
	s := pgptest.NewSigner(t, "a")
	l.Register(t, s.PublicArmored())
	rec := s.ClearSign(t, rbtest(t))
	idx := l.Submit(t, rec)
	l.Stop()

	l2 := logtest.StartDir(t, l.Dir)
	if l2.VKey != l.VKey {
		t.Fatalf("the key changed across a restart")
	}
	if got := l2.Submit(t, rec); got != idx {
		t.Errorf("resubmission after restart: %d, want %d", got, idx)
	}
	if _, got := lookup(t, l2.URL+"/lookup?source=rbtest&version=0.1"); len(got) != 1 {
		t.Errorf("lookup after restart: %v", got)
	}
	l2.Stop()
	if _, err := setupDir(l.Dir, "another.example/log"); err == nil || !strings.Contains(err.Error(), "another.example/log") {
		t.Errorf("a directory of another origin: %v", err)
	}
}

// TestCorpusSignatures submits the corpus's real signed files with the
// devscripts test key registered: the good ones are logged, the tampered
// one is refused.
func TestCorpusSignatures(t *testing.T) {
	l := logtest.Start(t)
	key, err := os.ReadFile("../pgp/testdata/key_devscripts_debsign_public_key.asc")
	if err != nil {
		t.Fatal(err)
	}
	if fpr := l.Register(t, key); fpr != "CF218F0E7EABF584B7E20402C77E2D6872543FAF" {
		t.Fatalf("registered %s", fpr)
	}
	for name, want := range map[string]int{
		"gen_devscriptskey_rbtest_0.1_amd64.build1.buildinfo.asc":          201,
		"gen_devscriptskey_rbtest_0.1_amd64.build2.buildinfo.asc":          201,
		"gen_devscriptskey_sphinx_1.7.2-1_amd64.buildinfo.asc":             201,
		"gen_devscriptskey_rbtest_0.1_amd64.build1.TAMPERED.buildinfo.asc": 403,
		"deb_python-debian_lxml_4.5.2-1+b1_amd64.buildinfo.asc":            403, // a buildd key the log does not know
		"pgpedge_dak_md5.asc":       403,
		"pgpedge_dak_message.asc":   400,
		"pgpedge_dak_plaintext.txt": 400,
	} {
		raw, err := os.ReadFile("../pgp/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if code, body, _ := post(t, l.URL+"/add", "text/plain", raw); code != want {
			t.Errorf("%s: %d %s, want %d", name, code, body, want)
		}
	}
}

// TestFlood: a builder that submits faster than its rate gets 429 with
// Retry-After; another builder is not affected.
func TestFlood(t *testing.T) {
	l := logtest.Start(t, func(c *rlogConfig) { c.RatePerBuilder, c.BurstPerBuilder = 1, 3 })
	flooder, other := pgptest.NewSigner(t, "flooder"), pgptest.NewSigner(t, "other")
	l.Register(t, flooder.PublicArmored())
	l.Register(t, other.PublicArmored())
	text := rbtest(t)
	// Eight at once: the submissions do not wait for each other's
	// checkpoints, so the bucket cannot refill in between.
	records := make([][]byte, 8)
	for i := range records {
		records[i] = flooder.ClearSign(t, bytes.Replace(text, []byte("Version: 0.1"), []byte(fmt.Sprintf("Version: 0.1+%d", i)), 1))
	}
	var limited atomic.Int32
	var wg sync.WaitGroup
	for _, rec := range records {
		wg.Go(func() {
			code, body, hdr := post(t, l.URL+"/add", "text/plain", rec)
			switch code {
			case http.StatusCreated:
			case http.StatusTooManyRequests:
				limited.Add(1)
				if hdr.Get("Retry-After") == "" || !strings.Contains(string(body), "too fast") {
					t.Errorf("429 without Retry-After or reason: %s", body)
				}
				if c, _ := get(t, l.URL+"/record/"+sha(rec)); c != http.StatusNotFound {
					t.Errorf("a rate-limited record is stored")
				}
			default:
				t.Errorf("%d %s", code, body)
			}
		})
	}
	wg.Wait()
	if limited.Load() == 0 {
		t.Fatal("8 quick submissions with a burst of 3 were never limited")
	}
	l.Submit(t, other.ClearSign(t, text))
}
