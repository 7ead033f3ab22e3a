package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/reprolog/reprolog/audit"
	rlog "github.com/reprolog/reprolog/log"
	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/pgp/pgptest"
)

// readTestdata returns a file of testdata/.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// builders makes n rebuilder keys and registers them with l.
func builders(t testing.TB, l *logtest.Log, names ...string) map[string]*pgptest.Signer {
	t.Helper()
	out := map[string]*pgptest.Signer{}
	for _, n := range names {
		s := pgptest.NewSigner(t, n)
		l.Register(t, s.PublicArmored())
		out[n] = s
	}
	return out
}

// replaceHash changes the SHA-256 of one file in a buildinfo's
// Checksums-Sha256, as a rebuilder that got another file would write it.
func replaceHash(t testing.TB, text []byte, file, sha string) []byte {
	t.Helper()
	lines := strings.Split(string(text), "\n")
	in := false
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "Checksums-Sha256:"):
			in = true
		case in && !strings.HasPrefix(l, " "):
			in = false
		case in && strings.HasSuffix(l, " "+file):
			f := strings.Fields(l)
			lines[i] = " " + sha + " " + f[1] + " " + f[2]
			return []byte(strings.Join(lines, "\n"))
		}
	}
	t.Fatalf("no %s in Checksums-Sha256", file)
	return nil
}

// collector keeps the findings an auditor delivers.
type collector struct {
	mu sync.Mutex
	fs []audit.Finding
}

func (c *collector) deliver(f audit.Finding) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fs = append(c.fs, f)
	return nil
}

func (c *collector) all() []audit.Finding {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.fs)
}

func (c *collector) ofKind(k audit.Kind) []audit.Finding {
	var out []audit.Finding
	for _, f := range c.all() {
		if f.Kind == k {
			out = append(out, f)
		}
	}
	return out
}

// openAuditor opens an auditor of url on dir that delivers to c.
func openAuditor(t testing.TB, url, vkey, dir string, c *collector, change ...func(*audit.Config)) *audit.Auditor {
	t.Helper()
	cfg := audit.Config{Log: url, LogKey: vkey, StateDir: dir, Deliver: c.deliver, LookupSample: 1000, BatchSize: 4}
	for _, f := range change {
		f(&cfg)
	}
	a, err := audit.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func sync1(t testing.TB, a *audit.Auditor) *audit.Result {
	t.Helper()
	res, err := a.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// logSigner loads the log's checkpoint key from its data directory, to
// sign what a misbehaving log would.
func logSigner(t testing.TB, l *logtest.Log) note.Signer {
	t.Helper()
	skey, err := os.ReadFile(filepath.Join(l.Dir, rlog.SignerKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// proxy stands in front of a real log and changes some of its answers, as
// a misbehaving log would.
type proxy struct {
	URL string

	mu         sync.Mutex
	upstream   *httputil.ReverseProxy
	answers    map[string][]byte              // path -> answer; nil answers 404
	rewrite    map[string]func([]byte) []byte // path -> change to the log's answer
	dropLookup map[uint64]bool                // indices left out of lookup answers
	refusals   map[string]*refusal            // path -> an error status instead of the log's answer
	hangUps    map[string]bool                // paths whose requests get the connection closed
}

// refusal answers status, n more times (always when n < 0).
type refusal struct{ status, n int }

func newProxy(t testing.TB, target string) *proxy {
	t.Helper()
	p := &proxy{answers: map[string][]byte{}, rewrite: map[string]func([]byte) []byte{}, dropLookup: map[uint64]bool{},
		refusals: map[string]*refusal{}, hangUps: map[string]bool{}}
	p.retarget(t, target)
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// retarget sends what is not changed to another log.
func (p *proxy) retarget(t testing.TB, target string) {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.upstream = httputil.NewSingleHostReverseProxy(u)
	p.mu.Unlock()
}

// answer makes path answer body (404 when nil); forget undoes it.
func (p *proxy) answer(path string, body []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answers[path] = body
}

func (p *proxy) forget(path string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.answers, path)
	delete(p.rewrite, path)
}

func (p *proxy) change(path string, f func([]byte) []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rewrite[path] = f
}

// refuse makes path answer status n times, or always when n < 0.
func (p *proxy) refuse(path string, status, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refusals[path] = &refusal{status, n}
}

// hangUp closes the connection of every request for path, with no
// answer, until on is false.
func (p *proxy) hangUp(path string, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hangUps[path] = on
}

func (p *proxy) drop(idx uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropLookup[idx] = true
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	up := p.upstream
	body, fixed := p.answers[r.URL.Path]
	f := p.rewrite[r.URL.Path]
	hangUp := p.hangUps[r.URL.Path]
	refused := 0
	if rf := p.refusals[r.URL.Path]; rf != nil && rf.n != 0 {
		refused = rf.status
		rf.n--
	}
	if r.URL.Path == "/lookup" && len(p.dropLookup) > 0 {
		drop := maps.Clone(p.dropLookup)
		f = func(b []byte) []byte {
			var ans rlog.LookupResult
			if json.Unmarshal(b, &ans) != nil {
				return b
			}
			ans.Indices = slices.DeleteFunc(ans.Indices, func(i uint64) bool { return drop[i] })
			b, _ = json.Marshal(ans)
			return b
		}
	}
	p.mu.Unlock()
	switch {
	case hangUp:
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			c.Close()
		}
	case refused != 0:
		http.Error(w, `{"error":"refused by the test"}`, refused)
	case fixed && body == nil:
		http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
	case fixed:
		w.Write(body)
	case f != nil:
		rec := httptest.NewRecorder()
		up.ServeHTTP(rec, r)
		b := rec.Body.Bytes()
		if rec.Code == http.StatusOK {
			b = f(b)
		}
		w.WriteHeader(rec.Code)
		io.Copy(w, bytes.NewReader(b))
	default:
		up.ServeHTTP(w, r)
	}
}
