package client

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprolog/reprolog/proofs/prooftest"
	"github.com/reprolog/reprolog/witness"
)

// TestVerifyHostileLog serves tampered answers and checks that each one
// fails verification, and never yields a decision.
func TestVerifyHostileLog(t *testing.T) {
	w := newWorld(t)
	w.submit(t, "alice", "hello", "")
	w.submit(t, "bob", "hello", "")
	other := prooftest.New(t, w.log.Origin)
	tests := []struct {
		name string
		edit func(path string, body []byte) []byte
	}{
		{"checkpoint signature", func(path string, b []byte) []byte {
			if path == "/checkpoint" {
				return flip(b, -5)
			}
			return b
		}},
		{"checkpoint size", func(path string, b []byte) []byte {
			if path == "/checkpoint" {
				return bytes.Replace(b, []byte("\n2\n"), []byte("\n4\n"), 1)
			}
			return b
		}},
		{"checkpoint by another key of the same name", func(path string, b []byte) []byte {
			if path == "/checkpoint" {
				return other.Checkpoint(t)
			}
			return b
		}},
		{"hash tile", func(path string, b []byte) []byte {
			if strings.HasPrefix(path, "/tile/0/") {
				return flip(b, 3)
			}
			return b
		}},
		{"entry tile", func(path string, b []byte) []byte {
			if strings.HasPrefix(path, "/tile/entries/") {
				return bytes.Replace(b, []byte("source hello"), []byte("source hellp"), 1)
			}
			return b
		}},
		{"entry tile truncated", func(path string, b []byte) []byte {
			if strings.HasPrefix(path, "/tile/entries/") {
				return b[:len(b)-1]
			}
			return b
		}},
		{"record", func(path string, b []byte) []byte {
			if strings.HasPrefix(path, "/record/") {
				return bytes.Replace(b, []byte("LANG"), []byte("LANH"), 1)
			}
			return b
		}},
		{"record swapped", func() func(string, []byte) []byte {
			var mu sync.Mutex // records are fetched in parallel
			var first []byte
			return func(path string, b []byte) []byte {
				if !strings.HasPrefix(path, "/record/") {
					return b
				}
				mu.Lock()
				defer mu.Unlock()
				if first == nil {
					first = b
				}
				return first
			}
		}()},
		{"lookup", func(path string, b []byte) []byte {
			if path == "/lookup" {
				return []byte(`{"tree_size": 2, "indices": "0"}`)
			}
			return b
		}},
		{"lookup for an older tree", func(path string, b []byte) []byte {
			if path == "/lookup" {
				return []byte(`{"tree_size": 1, "indices": [0]}`)
			}
			return b
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			px := newProxy(t, w.log.URL)
			px.setEdit(tt.edit)
			p := w.policy(t, px.URL)
			p.StateDir = t.TempDir()
			ds, err := (&Verifier{Policy: p}).Verify(context.Background(), []Deb{hello("hello")})
			t.Log(err)
			if !errors.Is(err, ErrLog) || ds != nil {
				t.Errorf("Verify = %v, %v; want ErrLog", ds, err)
			}
		})
	}
}

func TestVerifyUnreachableLog(t *testing.T) {
	w := newWorld(t)
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	t.Cleanup(func() { close(hang); slow.Close() })
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for name, url := range map[string]string{"hanging": slow.URL, "closed": closed.URL} {
		t.Run(name, func(t *testing.T) {
			p := w.policy(t, url)
			p.Timeout = 500 * time.Millisecond
			if _, err := (&Verifier{Policy: p}).Verify(context.Background(), []Deb{hello("x")}); !errors.Is(err, ErrLog) {
				t.Errorf("Verify = %v, want ErrLog", err)
			}
		})
	}
}

func TestVerifyWitnesses(t *testing.T) {
	w := newWorld(t)
	w.submit(t, "alice", "hello", "")
	w.submit(t, "bob", "hello", "")
	w1, w1key := prooftest.NewWitness(t, "w1.example")
	w2, w2key := prooftest.NewWitness(t, "w2.example")
	if err := os.WriteFile(filepath.Join(w.dir, "witnesses"), []byte("log "+w.log.VKey+"\nwitness w1 "+w1key+
		"\nwitness w2 "+w2key+"\ngroup both all w1 w2\nquorum both\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	px := newProxy(t, w.log.URL)
	p := w.policy(t, px.URL, "Witness-Policy: witnesses", "Max-Age: 1d")

	px.setEdit(cosign(t, w.log.VKey, w1, w2))
	ds, err := (&Verifier{Policy: p}).Verify(context.Background(), []Deb{hello("hello")})
	if err != nil {
		t.Fatal(err)
	}
	if ds[0].Verdict != Reproducible || ds[0].Checkpoint.Witnessed.IsZero() ||
		!strings.Contains(ds[0].Checkpoint.Note, "— w2.example ") {
		t.Errorf("%s, witnessed at %v", ds[0].Verdict, ds[0].Checkpoint.Witnessed)
	}

	stale := &Verifier{Policy: p, Now: func() time.Time { return time.Now().Add(25 * time.Hour) }}
	if _, err := stale.Verify(context.Background(), []Deb{hello("hello")}); !errors.Is(err, ErrLog) ||
		!strings.Contains(err.Error(), "stale: the witness quorum cosigned it 25h") ||
		!strings.Contains(err.Error(), staleView) {
		t.Errorf("a day-old quorum with Max-Age 1d: %v", err)
	}

	px.setEdit(cosign(t, w.log.VKey, w1))
	if _, err := (&Verifier{Policy: p}).Verify(context.Background(), []Deb{hello("hello")}); !errors.Is(err, ErrLog) ||
		!errors.Is(err, witness.ErrQuorum) {
		t.Errorf("one of two witnesses: %v, want ErrLog and witness.ErrQuorum", err)
	}

	impostor, _ := prooftest.NewWitness(t, "w2.example")
	px.setEdit(cosign(t, w.log.VKey, w1, impostor))
	if _, err := (&Verifier{Policy: p}).Verify(context.Background(), []Deb{hello("hello")}); !errors.Is(err, witness.ErrQuorum) {
		t.Errorf("a cosignature by another key named w2: %v", err)
	}
}

// staleView is what a checkpoint past Max-Age means to the user.
const staleView = "the log or a mirror may be serving a frozen or replayed view, which could hide newer entries (such as a dissent)"

// TestVerifyRollback serves an older checkpoint than the one kept: the
// decision is made against the newer one the machine holds.
func TestVerifyRollback(t *testing.T) {
	w := newWorld(t)
	w.submit(t, "alice", "hello", "")
	px := newProxy(t, w.log.URL)
	p := w.policy(t, px.URL)
	v := &Verifier{Policy: p}
	ds, err := v.Verify(context.Background(), []Deb{hello("hello")})
	if err != nil {
		t.Fatal(err)
	}
	old := []byte(ds[0].Checkpoint.Note)
	w.submit(t, "bob", "hello", "")
	if ds, err = v.Verify(context.Background(), []Deb{hello("hello")}); err != nil || ds[0].Checkpoint.Size != 2 {
		t.Fatalf("second run: %v", err)
	}
	px.setEdit(func(path string, b []byte) []byte {
		if path == "/checkpoint" {
			return old
		}
		return b
	})
	ds, err = v.Verify(context.Background(), []Deb{hello("hello")})
	if err != nil {
		t.Fatal(err)
	}
	if ds[0].Checkpoint.Size != 2 || ds[0].Verdict != Reproducible {
		t.Errorf("after a rollback to size 1: decided %s against size %d", ds[0].Verdict, ds[0].Checkpoint.Size)
	}
}
