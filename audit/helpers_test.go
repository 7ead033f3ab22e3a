package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
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
	checkpoint []byte            // served instead of the log's, when set
	records    map[string][]byte // record answers: nil means 404
	dropLookup map[uint64]bool   // indices left out of lookup answers
	tiles      map[string]func([]byte) []byte
}

func newProxy(t testing.TB, target string) *proxy {
	t.Helper()
	p := &proxy{records: map[string][]byte{}, dropLookup: map[uint64]bool{}, tiles: map[string]func([]byte) []byte{}}
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

func (p *proxy) set(f func(p *proxy)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	up, cp := p.upstream, p.checkpoint
	rec, recSet := p.records[strings.TrimPrefix(r.URL.Path, "/record/")]
	drop := len(p.dropLookup) > 0
	tile := p.tiles[strings.TrimPrefix(r.URL.Path, "/")]
	p.mu.Unlock()
	switch {
	case r.URL.Path == "/checkpoint" && cp != nil:
		w.Write(cp)
	case strings.HasPrefix(r.URL.Path, "/record/") && recSet:
		if rec == nil {
			http.Error(w, `{"error":"no such record"}`, http.StatusNotFound)
			return
		}
		w.Write(rec)
	case r.URL.Path == "/lookup" && drop, tile != nil:
		rec := httptest.NewRecorder()
		up.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if tile != nil {
			body = tile(body)
		} else if rec.Code == http.StatusOK {
			var ans rlog.LookupResult
			if err := json.Unmarshal(body, &ans); err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			p.mu.Lock()
			ans.Indices = slices.DeleteFunc(ans.Indices, func(i uint64) bool { return p.dropLookup[i] })
			p.mu.Unlock()
			body, _ = json.Marshal(ans)
		}
		w.WriteHeader(rec.Code)
		io.Copy(w, bytes.NewReader(body))
	default:
		up.ServeHTTP(w, r)
	}
}
