package client

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/pgp/pgptest"
	"github.com/reprolog/reprolog/proofs/prooftest"
)

// world is a real log with four rebuilders registered (alice, bob and
// carol, whom policies trust, and mallory, whom they do not), and a
// directory for policy files, keys and state.
type world struct {
	log     *logtest.Log
	dir     string
	signers map[string]*pgptest.Signer
}

func newWorld(t *testing.T) *world {
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
// and carol; extra lines go into the log paragraph.
func (w *world) policy(t *testing.T, url string, extra ...string) *Policy {
	t.Helper()
	text := "Log-URL: " + url + "\nLog-Key: " + w.log.VKey + "\nState-Dir: state\nTimeout: 10s\n" +
		strings.Join(extra, "\n") + "\n"
	for _, name := range []string{"alice", "bob", "carol"} {
		text += "\nBuilder: " + name + "\nKey-File: " + name + ".asc\n"
	}
	path := filepath.Join(w.dir, "policy")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := LoadPolicy(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// submit has a rebuilder sign and submit a build of hello 2.10-3 amd64
// that produced a .deb with the given content.
func (w *world) submit(t *testing.T, who, content, toolchain string) {
	t.Helper()
	build := prooftest.Build{Source: "hello", Version: "2.10-3", Toolchain: toolchain,
		Debs: []prooftest.Deb{{Package: "hello", Arch: "amd64", SHA256: sha(content), Size: int64(len(content))}}}
	w.log.Submit(t, prooftest.Record(t, w.signers[who], build))
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func hello(content string) Deb {
	return Deb{Path: "hello_2.10-3_amd64.deb",
		Target: Target{Package: "hello", Version: "2.10-3", Arch: "amd64", SHA256: sha(content)}}
}

// proxy stands between the client and the log, counting requests and
// letting a test rewrite responses.
type proxy struct {
	*httptest.Server
	target string
	mu     sync.Mutex
	gets   map[string]int
	edit   func(path string, body []byte) []byte
	hold   func(path string) // called before a request is passed on
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{target: target, gets: map[string]int{}}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.Close)
	return p
}

func (p *proxy) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.gets[r.URL.Path]++
	edit, hold := p.edit, p.hold
	p.mu.Unlock()
	if hold != nil {
		hold(r.URL.Path)
	}
	resp, err := http.Get(p.target + r.URL.RequestURI())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if edit != nil && resp.StatusCode == http.StatusOK {
		body = edit(r.URL.Path, body)
	}
	if v := resp.Header.Get("Retry-After"); v != "" {
		w.Header().Set("Retry-After", v)
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(body)
}

func (p *proxy) setEdit(edit func(path string, body []byte) []byte) {
	p.mu.Lock()
	p.edit = edit
	p.mu.Unlock()
}

// cosign returns an edit that adds the signers' cosignatures to every
// checkpoint the log serves.
func cosign(t *testing.T, logKey string, witnesses ...note.Signer) func(string, []byte) []byte {
	v, err := note.NewVerifier(logKey)
	if err != nil {
		t.Fatal(err)
	}
	return func(path string, body []byte) []byte {
		if path != "/checkpoint" {
			return body
		}
		n, err := note.Open(body, note.VerifierList(v))
		if err != nil {
			return body
		}
		signed, err := note.Sign(n, witnesses...)
		if err != nil {
			return body
		}
		return signed
	}
}

// flip returns body with one bit changed at offset off (from the end when
// negative).
func flip(body []byte, off int) []byte {
	b := bytes.Clone(body)
	if off < 0 {
		off += len(b)
	}
	b[off] ^= 1
	return b
}
