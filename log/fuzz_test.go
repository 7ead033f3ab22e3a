package log_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprolog/reprolog/internal/badinput"
	rlog "github.com/reprolog/reprolog/log"
	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/statement"
)

// fuzzSeeds are request bodies to start from: real records and keys of the
// corpus, and the bad-input matrix.
func fuzzSeeds(f *testing.F, l *logtest.Log) [][]byte {
	cases, keys := badinput.Records(f, l.URL)
	seeds := [][]byte{keys.Good.ClearSign(f, badinput.Buildinfo(f)), keys.Good.PublicArmored()}
	for _, c := range append(cases, badinput.Keyblocks(f)...) {
		if len(c.Body) < 1<<16 {
			seeds = append(seeds, c.Body)
		}
	}
	for _, dir := range []string{"../pgp/testdata", "../buildinfo/testdata"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, name := range files {
			if b, err := os.ReadFile(name); err == nil && len(b) < 1<<16 {
				seeds = append(seeds, b)
			}
		}
	}
	return seeds
}

// FuzzVerify feeds POST /add bodies to the log's checks: each is refused
// with a status a client can act on and a short message, or accepted as a
// statement of exactly that record by the registered key.
func FuzzVerify(f *testing.F) {
	l := logtest.Start(f)
	seeds := fuzzSeeds(f, l)
	for _, s := range seeds {
		f.Add(s)
	}
	good := seeds[0]
	st, err := l.Server.Verify(context.Background(), good)
	if err != nil {
		f.Fatal(err)
	}
	builder := st.Builder
	f.Fuzz(func(t *testing.T, body []byte) {
		st, err := l.Server.Verify(context.Background(), body)
		if err != nil {
			var e *rlog.Error
			if !errors.As(err, &e) {
				t.Fatalf("not an *Error: %v", err)
			}
			switch e.Status {
			case http.StatusBadRequest, http.StatusForbidden, http.StatusRequestEntityTooLarge:
			default:
				t.Fatalf("status %d for a bad record: %v", e.Status, err)
			}
			if e.Msg == "" || len(e.Msg) > 400 {
				t.Fatalf("message of %d bytes: %.500q", len(e.Msg), e.Msg)
			}
			return
		}
		sum := sha256.Sum256(body)
		if st.Record != hex.EncodeToString(sum[:]) || st.RecordSize != int64(len(body)) || st.Builder != builder {
			t.Fatalf("accepted as a statement of another record or builder: %+v", st)
		}
		again, err := statement.Parse(st.Marshal())
		if err != nil || string(again.Marshal()) != string(st.Marshal()) {
			t.Fatalf("the statement does not round-trip: %v", err)
		}
	})
}

// FuzzHandler sends arbitrary requests to the whole HTTP API: whatever the
// method, path, query, content type and body, the answer is never a server
// error, and every error the API itself writes is JSON.
func FuzzHandler(f *testing.F) {
	l := logtest.Start(f)
	h := l.Server.Handler()
	for _, s := range fuzzSeeds(f, l) {
		f.Add("POST", "/add", "", "text/plain", s)
		f.Add("POST", "/keys", "", "application/pgp-keys", s)
	}
	for _, q := range []string{"package=rbtest&version=0.1&arch=all", "source=rbtest&version=1:0.1-1", "source=rbtest&version=0.1&tree_size=1",
		"package=a&package=b", "tree_size=01", "version=%ff"} {
		f.Add("GET", "/lookup", q, "", []byte(nil))
	}
	for _, p := range []string{"/checkpoint", "/tile/0/000", "/tile/entries/000.p/1", "/tile/1/x001/002.p/7", "/record/" + strings.Repeat("a", 64),
		"/keys/" + strings.Repeat("A", 40), "/log.pub", "/healthz", "/", "/../etc/passwd"} {
		f.Add("GET", p, "", "", []byte(nil))
	}
	f.Fuzz(func(t *testing.T, method, path, query, ctype string, body []byte) {
		u := &url.URL{Path: path, RawQuery: query}
		r, err := http.NewRequest(method, u.String(), strings.NewReader(string(body)))
		if err != nil || r.URL.Path == "" {
			return
		}
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		// A lookup beyond the index waits for it: not for long here.
		ctx, cancel := context.WithTimeout(r.Context(), 50*time.Millisecond)
		defer cancel()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r.WithContext(ctx))
		res := w.Result()
		if res.StatusCode >= 500 && (res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "") {
			t.Fatalf("%s %q: %d %.300s", method, u, res.StatusCode, w.Body.Bytes())
		}
		if res.Header.Get("Content-Type") == "application/json" {
			var v any
			if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
				t.Fatalf("%s %q: invalid JSON: %.300s", method, u, w.Body.Bytes())
			}
		}
	})
}
