package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/reprolog/reprolog/buildinfo"
	"github.com/reprolog/reprolog/internal/badinput"
	"github.com/reprolog/reprolog/internal/testbin"
	"github.com/reprolog/reprolog/statement"
)

// TestSubmitBadInput submits every bad record of the bad-input matrix
// with `reprolog submit` to the real reprolog-server: each exits 1 and
// prints the log's reason and status, and none is logged.
func TestSubmitBadInput(t *testing.T) {
	srv := testbin.StartServer(t, t.TempDir())
	bin := testbin.Build(t, "reprolog")
	dir := t.TempDir()
	cases, keys := badinput.Records(t, srv.URL)
	write := func(name string, data []byte) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	status := regexp.MustCompile(`\((\d{3}) [A-Za-z ]+\)$`)
	for i, c := range cases {
		if c.ContentType != "" {
			continue // the command always sends text/plain
		}
		t.Run(c.Name, func(t *testing.T) {
			file := write(fmt.Sprintf("case%d.buildinfo.asc", i), c.Body)
			stdout, stderr, code := testbin.Run(t, bin, "submit", "--log", srv.URL, file)
			line := strings.TrimSpace(stderr)
			m := status.FindStringSubmatch(line)
			if code != 1 || stdout != "" || !strings.HasPrefix(line, file+": rejected: ") ||
				!strings.Contains(strings.ToLower(line), strings.ToLower(c.Msg)) || m == nil || m[1] != fmt.Sprint(c.Status) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and %d %q", code, stdout, stderr, c.Status, c.Msg)
			}
		})
	}

	for _, c := range cases {
		if c.ContentType == "" {
			if resp, err := http.Get(srv.URL + "/record/" + sha256Hex(c.Body)); err != nil || resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s: the refused record is served (%v)", c.Name, err)
			} else {
				resp.Body.Close()
			}
		}
	}

	// In a batch, the good records are logged and the bad ones reported.
	// The first good record takes index 0: nothing refused was logged.
	good := write("good.asc", keys.Good.ClearSign(t, badinput.Buildinfo(t)))
	bad := write("bad.asc", badinput.Buildinfo(t))
	stdout, stderr, code := testbin.Run(t, bin, "submit", "--log", srv.URL, bad, good, filepath.Join(dir, "missing.asc"))
	if code != 1 || stdout != "0 "+good+"\n" || !strings.Contains(stderr, bad+": rejected: ") ||
		!strings.Contains(stderr, "missing.asc: no such file") {
		t.Errorf("batch: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	// Registering a bad key stops before submitting anything.
	badKey := write("bad-key.asc", []byte("not a key\n"))
	if _, stderr, code := testbin.Run(t, bin, "submit", "--log", srv.URL, "--key", badKey, good); code != 1 ||
		!strings.Contains(stderr, "registering "+badKey) || !strings.Contains(stderr, "neither armored nor binary") {
		t.Errorf("bad --key: exit %d, stderr %q", code, stderr)
	}
}

// TestSubmitHostileLog runs `reprolog submit` against logs that do not
// answer as a log does: each exits 1 with a reason.
func TestSubmitHostileLog(t *testing.T) {
	bin := testbin.Build(t, "reprolog")
	file := filepath.Join(t.TempDir(), "r.asc")
	if err := os.WriteFile(file, []byte("anything\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := buildinfo.Parse(badinput.Buildinfo(t))
	if err != nil {
		t.Fatal(err)
	}
	st, err := statement.Derive(b, strings.Repeat("A", 40), []byte("another record"))
	if err != nil {
		t.Fatal(err)
	}
	other := st.Marshal()
	ack := func(entry string) string {
		j, _ := json.Marshal(map[string]any{"index": 7, "statement": entry, "checkpoint": "example.com/log\n8\n"})
		return string(j)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	serve := func(status int, ctype, body string, header ...string) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i+1 < len(header); i += 2 {
				w.Header().Set(header[i], header[i+1])
			}
			w.Header().Set("Content-Type", ctype)
			w.WriteHeader(status)
			fmt.Fprint(w, body)
		}))
		t.Cleanup(s.Close)
		return s.URL
	}
	for _, tt := range []struct {
		name, url, msg string
	}{
		{"unreachable", closed.URL, "connection refused"},
		{"proxy error page", serve(502, "text/html", "<html>Bad Gateway</html>"), "502 Bad Gateway"},
		{"not JSON", serve(200, "text/plain", "ok"), "rejected: the log's answer (200 OK) is not the JSON of an acknowledgement"},
		{"JSON without an index", serve(201, "application/json", `{"error":""}`), "not acknowledged: the log's answer lacks the index"},
		{"huge answer", serve(201, "application/json", `{"index":`+strings.Repeat("1", 2<<20)+`}`), "not the JSON of an acknowledgement"},
		{"malformed statement", serve(201, "application/json", ack("reprolog-statement v1\nsource x\n")), "not acknowledged: the log acknowledged with a malformed statement"},
		{"statement of another record", serve(201, "application/json", ack(string(other))), "not acknowledged: the log acknowledged a statement of another record"},
		{"always busy", serve(503, "application/json", `{"error":"the log is busy: retry later"}`, "Retry-After", "0"), "the log is busy"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := testbin.Run(t, bin, "submit", "--log", tt.url, file)
			if code != 1 || stdout != "" || !strings.Contains(stderr, tt.msg) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and %q", code, stdout, stderr, tt.msg)
			}
		})
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
