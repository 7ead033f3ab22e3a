package log_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"

	"github.com/reprolog/reprolog/internal/badinput"
	"github.com/reprolog/reprolog/log/logtest"
)

// TestBadInput sends every kind of bad submission that DESIGN.md names
// (internal/badinput has the matrix) through the HTTP API: each gets its
// status and a JSON error saying why, nothing of it is logged or stored,
// and the log goes on serving.
func TestBadInput(t *testing.T) {
	l := logtest.Start(t)
	cases, keys := badinput.Records(t, l.URL)
	first := l.Submit(t, keys.Good.ClearSign(t, badinput.Buildinfo(t)))
	size := checkpointSize(t, l)

	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			badinput.Check(t, l.URL+"/add", c)
			if code, _ := get(t, l.URL+"/record/"+sha(c.Body)); code != http.StatusNotFound {
				t.Errorf("the refused record is served: %d", code)
			}
		})
	}
	for _, c := range badinput.Keyblocks(t) {
		t.Run("key/"+c.Name, func(t *testing.T) { badinput.Check(t, l.URL+"/keys", c) })
	}

	// Two checkpoint intervals later the log has not grown, and the next
	// good record takes the next index.
	time.Sleep(250 * time.Millisecond)
	if now := checkpointSize(t, l); now != size {
		t.Fatalf("the log grew from %d to %d entries on refused submissions", size, now)
	}
	if next := l.Submit(t, keys.Good.ClearSign(t, badinput.Versioned(badinput.Buildinfo(t), "after"))); next != first+1 {
		t.Errorf("the next record got index %d, want %d", next, first+1)
	}
}

// TestBadReads asks the read API for things that are not there or not
// well formed: each is a 4xx with a JSON error, never a server error.
func TestBadReads(t *testing.T) {
	l := logtest.Start(t)
	for _, tt := range []struct {
		path   string
		status int
		msg    string
	}{
		{"/record/" + strings.Repeat("0", 64), 404, "no record"},
		{"/record/" + strings.Repeat("A", 64), 400, "sha-256"},
		{"/record/..%2f..%2fetc%2fpasswd", 400, "sha-256"},
		{"/record/" + strings.Repeat("0", 65), 400, "sha-256"},
		{"/keys/" + strings.Repeat("0", 39), 400, "fingerprint"},
		{"/keys/" + strings.Repeat("0", 40), 404, "no key"},
		{"/keys/%00", 400, "fingerprint"},
		{"/tile/0/000", 404, "no such tile"},
		{"/tile/0/x001/002", 404, "no such tile"},
		{"/tile/99/000", 404, "no such tile"},
		{"/tile/0/-1", 404, "no such tile"},
		{"/tile/0/000.p/0", 404, "no such tile"},
		{"/tile/0/000.p/256", 404, "no such tile"},
		{"/tile/entries/x999", 404, "no such tile"},
		{"/tile/entries/" + strings.Repeat("x999/", 200) + "000", 404, "no such tile"},
		{"/lookup?source=rbtest&version=1%201", 400, "want package"},
		{"/lookup?source=rbtest&version=0.1&tree_size=-1", 400, "tree_size"},
		{"/lookup?source=rbtest&version=0.1&tree_size=99999999999999999999", 400, "tree_size"},
		{"/lookup?source=%ff&version=0.1", 400, "want package"},
		{"/lookup?" + strings.Repeat("a=1&", 1000), 400, "bad lookup parameter"},
	} {
		t.Run(tt.path[:min(len(tt.path), 40)], func(t *testing.T) {
			code, body := get(t, l.URL+tt.path)
			if code != tt.status || !strings.Contains(strings.ToLower(string(body)), tt.msg) {
				t.Errorf("GET %.80s: %d %.200s, want %d and %q", tt.path, code, body, tt.status, tt.msg)
			}
		})
	}
}

// checkpointSize reads the log's checkpoint and returns its size.
func checkpointSize(t *testing.T, l *logtest.Log) int64 {
	t.Helper()
	code, raw := get(t, l.URL+"/checkpoint")
	if code != http.StatusOK {
		t.Fatalf("GET /checkpoint: %d %s", code, raw)
	}
	v, err := note.NewVerifier(l.VKey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(raw, note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	c, err := torchwood.ParseCheckpoint(n.Text)
	if err != nil {
		t.Fatal(err)
	}
	return c.N
}
