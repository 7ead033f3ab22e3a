package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/mod/sumdb/note"

	rlog "github.com/reprolog/reprolog/log"
)

// TestVerifyHostileLog runs `reprolog verify` against a log that serves
// hostile answers: checkpoints, tiles (the proofs), entry bundles, records
// and lookups that are truncated, reordered, oversized, of another origin,
// re-signed with the log's own key, or carrying extra signatures. Each
// that could mislead the installer fails with exit 3 and says why; extra
// signatures by keys the policy does not name are ignored, as C2SP
// signed-note requires, and lookups that repeat or reorder indices do not
// change the decision.
func TestVerifyHostileLog(t *testing.T) {
	e := newDecideEnv(t)
	hello, helloDeb := e.deb("hello", "2.10-3", "hello")
	greet, greetDeb := e.deb("greet", "1.0-1", "greet")
	e.submit("alice", "hello", "2.10-3", "", helloDeb)
	e.submit("bob", "hello", "2.10-3", "", helloDeb)
	e.submit("alice", "greet", "1.0-1", "", greetDeb)

	skey, err := os.ReadFile(filepath.Join(e.log.Dir, rlog.SignerKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	logKey, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		t.Fatal(err)
	}
	logVerifier, err := note.NewVerifier(e.log.VKey)
	if err != nil {
		t.Fatal(err)
	}
	// text returns a served checkpoint's signed text.
	text := func(cp []byte) string {
		n, err := note.Open(cp, note.VerifierList(logVerifier))
		if err != nil {
			t.Fatal(err)
		}
		return n.Text
	}
	resign := func(text string) []byte {
		b, err := note.Sign(&note.Note{Text: text}, logKey)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// grease returns n signature lines over text by keys nobody knows, the
	// last one named like the log.
	grease := func(text string, n int) []byte {
		var out []byte
		for i := range n {
			name := fmt.Sprintf("grease%d.example", i)
			if i == n-1 {
				name = logKey.Name()
			}
			sk, _, err := note.GenerateKey(rand.Reader, name)
			if err != nil {
				t.Fatal(err)
			}
			s, _ := note.NewSigner(sk)
			b, err := note.Sign(&note.Note{Text: text}, s)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b[len(text)+1:]...)
		}
		return out
	}
	// badLogSig is a second signature line with the log's name and key
	// hash that does not verify.
	badLogSig := func(cp []byte) []byte {
		line := cp[bytes.LastIndex(cp[:len(cp)-1], []byte("\n"))+1:]
		i := bytes.LastIndexByte(line, ' ')
		sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(line[i+1:])))
		if err != nil {
			t.Fatal(err)
		}
		sig[len(sig)-1] ^= 1
		return fmt.Appendf(nil, "%s%s\n", line[:i+1], base64.StdEncoding.EncodeToString(sig))
	}
	swap := func(b []byte, n int) []byte { // swaps the first two n-byte items
		b = bytes.Clone(b)
		tmp := bytes.Clone(b[:n])
		copy(b[:n], b[n:2*n])
		copy(b[n:2*n], tmp)
		return b
	}
	lookup := func(indices string) func(string, []byte) []byte {
		return func(path string, b []byte) []byte {
			if path == "/lookup" {
				return []byte(`{"tree_size":3,"indices":` + indices + `}`)
			}
			return b
		}
	}
	on := func(prefix string, f func([]byte) []byte) func(string, []byte) []byte {
		return func(path string, b []byte) []byte {
			if strings.HasPrefix(path, prefix) {
				return f(b)
			}
			return b
		}
	}

	tests := []struct {
		name string
		deb  string
		edit func(path string, body []byte) []byte
		code int
		msg  string
	}{
		{"honest", hello, nil, 0, "reproducible: 2 of 3"},
		{"grease signatures", hello, on("/checkpoint", func(b []byte) []byte { return append(b, grease(text(b), 5)...) }), 0, "reproducible: 2 of 3"},
		{"checkpoint truncated", hello, on("/checkpoint", func(b []byte) []byte { return b[:len(b)/2] }), 3, "checkpoint"},
		{"checkpoint empty", hello, on("/checkpoint", func([]byte) []byte { return nil }), 3, "checkpoint"},
		{"checkpoint oversized", hello, on("/checkpoint", func(b []byte) []byte { return append(b, bytes.Repeat([]byte("x"), 1_000_000)...) }), 3, "larger than"},
		{"checkpoint with 101 signatures", hello, on("/checkpoint", func(b []byte) []byte { return append(b, grease(text(b), 100)...) }), 3, "checkpoint"},
		{"checkpoint whose log signature does not verify", hello, on("/checkpoint", func(b []byte) []byte {
			return append(b[:bytes.LastIndex(b[:len(b)-1], []byte("\n"))+1], badLogSig(b)...)
		}), 3, "invalid signature"},
		// note.Open checks one signature per key, the first.
		{"a second, bad, signature by the log's key", hello, on("/checkpoint", func(b []byte) []byte { return append(b, badLogSig(b)...) }), 0, "reproducible: 2 of 3"},
		{"checkpoint lines reordered", hello, on("/checkpoint", func(b []byte) []byte {
			l := strings.SplitN(text(b), "\n", 3)
			return resign(l[1] + "\n" + l[0] + "\n" + l[2])
		}), 3, "checkpoint"},
		{"checkpoint of another origin", hello, on("/checkpoint", func(b []byte) []byte {
			return resign(strings.Replace(text(b), logKey.Name(), "evil.example/log", 1))
		}), 3, "origin"},
		{"checkpoint larger than the log", hello, func(path string, b []byte) []byte {
			switch path {
			case "/checkpoint":
				return resign(strings.Replace(text(b), "\n3\n", "\n5\n", 1))
			case "/lookup":
				return []byte(`{"tree_size":5,"indices":[0,1]}`)
			}
			return b
		}, 3, "unexpected status code 404"},
		{"checkpoint of another tree", hello, on("/checkpoint", func(b []byte) []byte {
			l := strings.SplitN(text(b), "\n", 4)
			return resign(l[0] + "\n" + l[1] + "\n" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)) + "\n" + l[3])
		}), 3, "log verification failed"},
		{"hash tile truncated", hello, on("/tile/0/", func(b []byte) []byte { return b[:len(b)-32] }), 3, "log verification failed"},
		{"hash tile reordered", hello, on("/tile/0/", func(b []byte) []byte { return swap(b, 32) }), 3, "log verification failed"},
		{"hash tile oversized", hello, on("/tile/0/", func(b []byte) []byte { return append(b, make([]byte, 1<<20)...) }), 3, "len=8192, want 96"},
		{"entry bundle truncated", hello, on("/tile/entries/", func(b []byte) []byte {
			return b[:2+(int(b[0])<<8|int(b[1]))+5] // the first entry and a piece of the second
		}), 3, "log verification failed"},
		// Each entry is checked against the tree as it is used: bytes after
		// the entries the decision needs cannot change it.
		{"entry bundle with a broken last entry", hello, on("/tile/entries/", func(b []byte) []byte { return b[:len(b)-10] }), 0, "reproducible: 2 of 3"},
		{"entry bundle reordered", hello, on("/tile/entries/", func(b []byte) []byte {
			n := int(b[0])<<8 | int(b[1])
			first, rest := b[:2+n], b[2+n:]
			m := int(rest[0])<<8 | int(rest[1])
			return append(append(bytes.Clone(rest[:2+m]), first...), rest[2+m:]...)
		}), 3, "log verification failed"},
		{"entry bundle with an extra entry", hello, on("/tile/entries/", func(b []byte) []byte { return append(bytes.Clone(b), 0, 1, 'x') }), 0, "reproducible: 2 of 3"},
		{"record truncated", hello, on("/record/", func(b []byte) []byte { return b[:len(b)-1] }), 3, "record"},
		{"record oversized", hello, on("/record/", func(b []byte) []byte { return append(b, bytes.Repeat([]byte{'x'}, 1000)...) }), 3, "larger than"},
		{"lookup reordered", hello, lookup("[1,0]"), 0, "reproducible: 2 of 3"},
		{"lookup repeats an index", greet, lookup("[2,2,2,2,2]"), 1, "insufficient: 1 of 3"},
		{"lookup repeats every index", hello, lookup("[0,1,0,1,0,1]"), 0, "reproducible: 2 of 3"},
		{"lookup names an entry of another package", greet, lookup("[0,2]"), 1, "insufficient: 1 of 3"},
		{"lookup with a negative index", hello, lookup("[-1,0,1]"), 3, "negative index"},
		{"lookup oversized", hello, lookup("[" + strings.Repeat("0,", 5<<20) + "0]"), 3, "larger than"},
		{"lookup not JSON", hello, on("/lookup", func([]byte) []byte { return []byte("<html>") }), 3, "malformed"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := hostileProxy(t, e.log.URL, tt.edit)
			code, stdout, stderr := e.run("verify", "-v", "--policy", e.policy(fmt.Sprintf("hostile%d", i), url), tt.deb)
			if code != tt.code || !strings.Contains(stdout+stderr, tt.msg) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, stdout, stderr, tt.code, tt.msg)
			}
		})
	}
}

// hostileProxy serves the log at target through edit, which sees each
// answer and may change it; a changed answer is served as 200 OK.
func hostileProxy(t *testing.T, target string, edit func(path string, body []byte) []byte) string {
	var served atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		resp, err := http.Get(target + r.URL.RequestURI())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		status := resp.StatusCode
		if edit != nil {
			edited := edit(r.URL.Path, body)
			if status != http.StatusOK && !bytes.Equal(edited, body) {
				status = http.StatusOK // an answer made up whatever the log said
			}
			body = edited
		}
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(func() {
		s.Close()
		if served.Load() == 0 {
			t.Error("the command never asked the log")
		}
	})
	return s.URL
}
