package witness_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprolog/reprolog/witness"
	"github.com/reprolog/reprolog/witness/witnesstest"
)

func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	keyPath, dbPath := filepath.Join(dir, "witness.key"), filepath.Join(dir, "witness.db")
	log := witnesstest.NewMemLog(witnesstest.NewLogKey(t, "example.com/log"))
	log.AppendN(t, 9, "x")

	signer, err := witness.GenerateKey(keyPath, "example.com/witness")
	if err != nil {
		t.Fatal(err)
	}
	start := func(s witness.Config) (*witness.Witness, *httptest.Server) {
		w, err := witness.New(s)
		if err != nil {
			t.Fatal(err)
		}
		return w, httptest.NewServer(w)
	}
	cfg := witness.Config{Signer: signer, Logs: []witness.LogEntry{log.Key.Entry()}, DB: dbPath}
	w, srv := start(cfg)
	vkey := w.VerifierKey()
	checkCosigned(t, post(t, srv.URL, log.Request(t, 0, 6)), vkey, log.Checkpoint(t, 6))
	srv.Close()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	reloaded, err := witness.LoadKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Signer = reloaded
	w, srv = start(cfg)
	defer w.Close()
	defer srv.Close()
	if w.VerifierKey() != vkey {
		t.Fatalf("reloaded key %s, want %s", w.VerifierKey(), vkey)
	}
	// It still shows what it cosigned before the restart.
	served(t, checkpointURL(srv.URL, log.Key.Origin), log, vkey, 6)
	// A log that lost track (old 0) is told the size the witness kept.
	if r := post(t, srv.URL, log.Request(t, 0, 9)); r.status != 409 || r.body != "6\n" {
		t.Fatalf("after restart, old 0: %d %q; want 409 6", r.status, r.body)
	}
	checkCosigned(t, post(t, srv.URL, log.Request(t, 6, 9)), vkey, log.Checkpoint(t, 9))
	if st, err := w.State(context.Background(), log.Key.Origin); err != nil || st.Size != 9 {
		t.Fatalf("state %d %v, want 9", st.Size, err)
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "witness.key")
	s, err := witness.GenerateKey(path, "example.com/w1")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %04o, want 0600", fi.Mode().Perm())
	}
	if !strings.HasPrefix(s.Verifier().String(), "example.com/w1+") {
		t.Errorf("vkey %s does not carry the name", s.Verifier().String())
	}
	if _, err := witness.GenerateKey(path, "example.com/w1"); err == nil {
		t.Error("GenerateKey overwrote an existing key")
	}
	if _, err := witness.GenerateKey(filepath.Join(dir, "bad"), "has space"); err == nil {
		t.Error("GenerateKey accepted a name with a space")
	}

	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	corrupt := []struct {
		name    string
		content string
		mode    os.FileMode
		want    string
	}{
		{"empty", "", 0o600, "corrupt"},
		{"truncated", string(good[:len(good)-10]) + "\n", 0o600, "corrupt"},
		{"flipped seed", flipSeed(string(good)), 0o600, "corrupt"},
		{"bad prefix", strings.Replace(string(good), "PRIVATE+KEY", "PRIVATE+KEX", 1), 0o600, "corrupt"},
		{"two lines", string(good) + string(good), 0o600, "corrupt"},
		{"no newline", strings.TrimSuffix(string(good), "\n"), 0o600, "corrupt"},
		{"vkey instead of skey", s.Verifier().String() + "\n", 0o600, "corrupt"},
		{"readable by others", string(good), 0o644, "chmod 600"},
	}
	for _, c := range corrupt {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "witness.key")
			if err := os.WriteFile(p, []byte(c.content), c.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, c.mode); err != nil {
				t.Fatal(err)
			}
			_, err := witness.LoadKey(p)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("LoadKey = %v, want an error mentioning %q", err, c.want)
			}
		})
	}
	if _, err := witness.LoadKey(filepath.Join(dir, "missing")); err == nil {
		t.Error("LoadKey of a missing file succeeded")
	}
}

// flipSeed changes one base64 character inside the key material, so the key
// no longer matches the key hash.
func flipSeed(skey string) string {
	// PRIVATE+KEY+name+hash+base64: the base64 may hold '+' itself.
	prefix := strings.Join(strings.SplitN(skey, "+", 5)[:4], "+") + "+"
	i := len(prefix) + 10
	c := byte('A')
	if skey[i] == 'A' {
		c = 'B'
	}
	return skey[:i] + string(c) + skey[i+1:]
}
