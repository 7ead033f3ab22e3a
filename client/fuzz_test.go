package client

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprolog/reprolog/internal/debtest"
	"github.com/reprolog/reprolog/pgp/pgptest"
	"github.com/reprolog/reprolog/proofs/prooftest"
)

// FuzzVerifyCheckpoint feeds checkpoints, as a hostile log or witness
// could serve them, to VerifyCheckpoint under a policy without witnesses
// and one that needs a witness's fresh cosignature: each is refused with
// ErrLog, or accepted as a checkpoint of the policy's log that the
// witness cosigned recently enough.
func FuzzVerifyCheckpoint(f *testing.F) {
	dir := f.TempDir()
	skey, vkey, err := note.GenerateKey(rand.Reader, "example.org/log")
	if err != nil {
		f.Fatal(err)
	}
	logKey, _ := note.NewSigner(skey)
	w, wkey := prooftest.NewWitness(f, "example.org/witness")
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			f.Fatal(err)
		}
		return path
	}
	write("a.asc", string(pgptest.NewSigner(f, "a").PublicArmored()))
	write("witnesses.txt", "log "+vkey+"\nwitness w1 "+wkey+"\nquorum w1\n")
	load := func(name, extra string) *Policy {
		p, err := LoadPolicy(write(name, "Log-URL: http://log.example\nLog-Key: "+vkey+"\n"+extra+"\n\nBuilder: a\nKey-File: a.asc\n"))
		if err != nil {
			f.Fatal(err)
		}
		return p
	}
	plain := load("plain", "Threshold: 1")
	witnessed := load("witnessed", "Threshold: 1\nWitness-Policy: witnesses.txt\nMax-Age: 1h")
	now := time.Now()

	text := torchwood.Checkpoint{Origin: "example.org/log", Tree: tlog.Tree{N: 42, Hash: tlog.Hash(sha256.Sum256([]byte("x")))}}.String()
	signed, err := note.Sign(&note.Note{Text: text}, logKey)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	cosigned, err := note.Sign(&note.Note{Text: text}, logKey, w)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(cosigned)
	if _, err := VerifyCheckpoint(plain, signed, now); err != nil {
		f.Fatal(err)
	}
	if _, err := VerifyCheckpoint(witnessed, cosigned, now); err != nil {
		f.Fatal(err)
	}
	if _, err := VerifyCheckpoint(witnessed, signed, now); err == nil {
		f.Fatal("a checkpoint without cosignatures passed a policy with witnesses")
	}
	other, _, _ := note.GenerateKey(rand.Reader, "example.org/log")
	otherKey, _ := note.NewSigner(other)
	forged, _ := note.Sign(&note.Note{Text: "evil.example/log\n1\n" + tlog.Hash{}.String() + "\n"}, logKey, otherKey)
	f.Add(forged)
	f.Add(append(bytes.Clone(cosigned), "— grease.example AAAAAAAAAAAAAAAAAAAA\n"...))

	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range []*Policy{plain, witnessed} {
			c, err := VerifyCheckpoint(p, data, now)
			if err != nil {
				if !errors.Is(err, ErrLog) {
					t.Fatalf("error without ErrLog: %v", err)
				}
				continue
			}
			if c.Origin != "example.org/log" || c.Size < 0 || c.Note != string(data) {
				t.Fatalf("accepted %+v", c)
			}
			if p == witnessed && (c.Witnessed.IsZero() || now.Sub(c.Witnessed) > time.Hour) {
				t.Fatalf("accepted with a cosignature from %v", c.Witnessed)
			}
		}
	})
}

// FuzzReadDeb reads arbitrary files as .deb packages, as the apt hook and
// `reprolog verify` do: each is refused, or read with a valid package
// name, version and architecture and the file's SHA-256.
func FuzzReadDeb(f *testing.F) {
	debtest.Need(f, "dpkg-deb")
	dir := f.TempDir()
	for _, p := range []debtest.Package{{Name: "hello", Version: "1:2.10-3", Content: "x"}, {Name: "tool", Version: "1.0", Arch: "all"}} {
		d := debtest.Build(f, dir, p)
		data, err := os.ReadFile(d.Path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("!<arch>\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "x.deb")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := ReadDeb(path)
		if err != nil {
			return
		}
		sum := sha256.Sum256(data)
		if d.SHA256 != hex.EncodeToString(sum[:]) || d.Package == "" || d.Version == "" || d.Arch == "" {
			t.Fatalf("read %+v", d)
		}
	})
}

// FuzzParseLookup feeds lookup answers, as a hostile log could serve them,
// to parseLookup: each is refused, or is an answer as of at least the size
// asked whose indices all lie in the tree it names.
func FuzzParseLookup(f *testing.F) {
	f.Add([]byte(`{"tree_size":10,"indices":[0,3,9]}`), int64(5))
	f.Add([]byte(`{"tree_size":10,"indices":[]}`), int64(10))
	f.Add([]byte(`{"tree_size":4,"indices":[4]}`), int64(0))
	f.Add([]byte(`{"tree_size":-1,"indices":[]}`), int64(0))
	f.Add([]byte(`{"tree_size":3}`), int64(0))
	f.Add([]byte(`[1,2]`), int64(0))
	f.Fuzz(func(t *testing.T, data []byte, size int64) {
		a, err := parseLookup(data, size)
		if err != nil {
			return
		}
		if a.size < size || a.size < 0 {
			t.Fatalf("accepted an answer as of %d for a lookup as of %d", a.size, size)
		}
		for _, i := range a.indices {
			if i < 0 || i >= a.size {
				t.Fatalf("accepted index %d in a tree of %d", i, a.size)
			}
		}
		for _, i := range a.below(size) {
			if i >= size {
				t.Fatalf("below(%d) gave %d", size, i)
			}
		}
	})
}
