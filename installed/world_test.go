package installed

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprolog/reprolog/client"
	"github.com/reprolog/reprolog/internal/debtest"
	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/pgp/pgptest"
	"github.com/reprolog/reprolog/proofs/prooftest"
)

// world is a real log with four rebuilders registered (alice, bob and
// carol, whom policies trust, and mallory, whom they do not), and a
// directory for the policy, keys, state and .debs.
type world struct {
	log     *logtest.Log
	dir     string
	signers map[string]*pgptest.Signer
}

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{log: logtest.Start(t), dir: t.TempDir(), signers: map[string]*pgptest.Signer{}}
	for _, name := range []string{"alice", "bob", "carol", "mallory"} {
		s := pgptest.NewSigner(t, name)
		w.signers[name] = s
		w.log.Register(t, s.PublicArmored())
		if err := os.WriteFile(filepath.Join(w.dir, name+".asc"), s.PublicArmored(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// policy writes and loads a policy for the log at url trusting alice, bob
// and carol (K=2); extra lines go into the log paragraph. Timeout is 1s
// unless an extra line sets it.
func (w *world) policy(t testing.TB, url string, extra ...string) *client.Policy {
	t.Helper()
	text := "Log-URL: " + url + "\nLog-Key: " + w.log.VKey + "\nState-Dir: state\n"
	if !slices.ContainsFunc(extra, func(l string) bool { return strings.HasPrefix(l, "Timeout:") }) {
		text += "Timeout: 1s\n"
	}
	text += strings.Join(extra, "\n") + "\n"
	for _, name := range []string{"alice", "bob", "carol"} {
		text += "\nBuilder: " + name + "\nKey-File: " + name + ".asc\n"
	}
	path := filepath.Join(w.dir, "policy")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := client.LoadPolicy(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// deb builds a real .deb in the world's directory.
func (w *world) deb(t testing.TB, name, version, content string) debtest.Deb {
	t.Helper()
	return debtest.Build(t, filepath.Join(w.dir, "debs-"+content), debtest.Package{Name: name, Version: version, Content: content})
}

// build is what a rebuilder says it built from a source.
func build(source, version, toolchain string, debs ...debtest.Deb) prooftest.Build {
	b := prooftest.Build{Source: source, Version: version, Toolchain: toolchain}
	for _, d := range debs {
		b.Debs = append(b.Debs, prooftest.Deb{Package: d.Name, Arch: d.Arch, SHA256: d.SHA256, Size: d.Size})
	}
	return b
}

// submit has a rebuilder sign and submit a build.
func (w *world) submit(t testing.TB, who string, b prooftest.Build) {
	t.Helper()
	w.log.Submit(t, prooftest.Record(t, w.signers[who], b))
}

// submitAll submits many records at once, so that the log integrates
// them together.
func (w *world) submitAll(t testing.TB, records [][]byte) {
	t.Helper()
	errs := make(chan error, len(records))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, r := range records {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			resp, err := http.Post(w.log.URL+"/add", "text/plain", strings.NewReader(string(r)))
			if err != nil {
				errs <- err
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
				errs <- fmt.Errorf("POST /add: %s: %s", resp.Status, body)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// counter stands between the client and the log and counts requests by
// path.
type counter struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func newCounter(t testing.TB, target string) *counter {
	c := &counter{hits: map[string]int{}}
	c.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.hits[r.URL.Path]++
		c.mu.Unlock()
		resp, err := http.Get(target + r.URL.RequestURI())
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for _, h := range []string{"Retry-After", "Content-Type"} {
			if v := resp.Header.Get(h); v != "" {
				rw.Header().Set(h, v)
			}
		}
		rw.WriteHeader(resp.StatusCode)
		io.Copy(rw, resp.Body)
	}))
	t.Cleanup(c.Close)
	return c
}

// take returns the counts so far and resets them.
func (c *counter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.hits
	c.hits = map[string]int{}
	return h
}

// fetchBundle gets an offline bundle for d from the log.
func fetchBundle(t testing.TB, p *client.Policy, d debtest.Deb) []byte {
	t.Helper()
	bs, err := (&client.Verifier{Policy: p}).Fetch(context.Background(),
		[]client.Target{{Package: d.Name, Version: d.Version, Arch: d.Arch, SHA256: d.SHA256}})
	if err != nil {
		t.Fatal(err)
	}
	return bs[0].Marshal()
}

func prooftestDeb(name, sum string) prooftest.Deb {
	return prooftest.Deb{Package: name, Arch: "amd64", SHA256: sum, Size: 1}
}

func recordOf(t testing.TB, w *world, b prooftest.Build) []byte {
	return prooftest.Record(t, w.signers["mallory"], b)
}

// tamper serves the log at target, except that edit may replace an answer:
// it sees each request's path and the log's body, and returns the body to
// serve with 200 OK, or nil to pass the log's answer on.
func tamper(t testing.TB, target string, edit func(path string, body []byte) []byte) string {
	s := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(target + r.URL.RequestURI())
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if b := edit(r.URL.Path, body); b != nil {
			rw.Write(b)
			return
		}
		rw.WriteHeader(resp.StatusCode)
		rw.Write(body)
	}))
	t.Cleanup(s.Close)
	return s.URL
}

// delayed serves the log at target, each lookup and record after delay.
func delayed(t testing.TB, target string, delay time.Duration) string {
	return tamper(t, target, func(path string, _ []byte) []byte {
		if path == "/lookup" || strings.HasPrefix(path, "/record/") {
			time.Sleep(delay)
		}
		return nil
	})
}
