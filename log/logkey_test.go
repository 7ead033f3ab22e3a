package log_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rlog "github.com/reprolog/reprolog/log"
	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/pgp/pgptest"
)

// setupCurrent prepares the log in dir on the current backend, as
// logtest does, without starting it.
func setupCurrent(t *testing.T, l *logtest.Log) (rlog.Config, error) {
	return logtest.Setup(t, l.Dir)
}

// stoppedLog is a log with one entry, stopped.
func stoppedLog(t *testing.T) (*logtest.Log, []byte) {
	t.Helper()
	l := logtest.Start(t)
	s := pgptest.NewSigner(t, "rebuilder")
	l.Register(t, s.PublicArmored())
	record := s.ClearSign(t, rbtest(t))
	l.Submit(t, record)
	l.Stop()
	return l, record
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestKeyMissing: a log whose checkpoint key is gone does not get a new
// one, which would start another log; the error names what is there, and
// log.pub is left as it was.
func TestKeyMissing(t *testing.T) {
	l, _ := stoppedLog(t)
	skey, vkey := filepath.Join(l.Dir, rlog.SignerKeyFile), filepath.Join(l.Dir, rlog.VerifierKeyFile)
	pub := readFile(t, vkey)
	if err := os.Remove(skey); err != nil {
		t.Fatal(err)
	}
	_, err := setupCurrent(t, l)
	if err == nil || !strings.Contains(err.Error(), vkey+" exists but "+skey+" does not") {
		t.Fatalf("log.key missing: %v", err)
	}
	if got := readFile(t, vkey); !bytes.Equal(got, pub) {
		t.Error("log.pub was replaced")
	}

	// Without log.pub either, the log itself is named.
	if err := os.Remove(vkey); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(l.Dir, rlog.TilesDir) + " exists"
	if l.DSN != "" {
		want = `the MySQL database (the log "reprolog.test/log") holds a log`
	}
	if _, err := setupCurrent(t, l); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("log.key and log.pub missing: %v, want %q", err, want)
	}
	for _, name := range []string{rlog.SignerKeyFile, rlog.VerifierKeyFile, ".log.key.new"} {
		if _, err := os.Stat(filepath.Join(l.Dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s was created (%v)", name, err)
		}
	}
}

// TestSwappedKeys: the key files of another log, even of the same origin,
// are refused, and refusing them changes nothing: with its own keys back,
// the log starts with its entry.
func TestSwappedKeys(t *testing.T) {
	l, record := stoppedLog(t)
	own := map[string][]byte{}
	for _, name := range []string{rlog.SignerKeyFile, rlog.VerifierKeyFile} {
		own[name] = readFile(t, filepath.Join(l.Dir, name))
	}
	otherDir := t.TempDir()
	if _, _, err := rlog.LoadOrCreateKey(otherDir, l.Origin, ""); err != nil {
		t.Fatal(err)
	}
	put := func(name string, b []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(l.Dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// Only log.key swapped: it does not match log.pub.
	put(rlog.SignerKeyFile, readFile(t, filepath.Join(otherDir, rlog.SignerKeyFile)))
	if _, err := setupCurrent(t, l); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("another log.key: %v", err)
	}

	// Both swapped: they match, but the log is not theirs.
	put(rlog.VerifierKeyFile, readFile(t, filepath.Join(otherDir, rlog.VerifierKeyFile)))
	cfg, err := setupCurrent(t, l)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := rlog.New(context.Background(), cfg); err == nil {
		s.Close(context.Background())
		t.Fatal("the log started with another log's keys of the same origin")
	} else if !strings.Contains(err.Error(), "another log's keys") {
		t.Errorf("another log's keys: %v", err)
	}
	cfg.Store.Close()

	for name, b := range own {
		put(name, b)
	}
	l = logtest.StartDir(t, l.Dir)
	if code, served := get(t, l.URL+"/record/"+sha(record)); code != 200 || !bytes.Equal(served, record) {
		t.Errorf("with its own keys back, the log does not serve its record (%d)", code)
	}
}

// TestInterruptedKeyCreation: a crash while the first key was created
// leaves a pending signer key; the next start completes it once log.pub
// was written, and discards it when log.pub was not.
func TestInterruptedKeyCreation(t *testing.T) {
	dir := t.TempDir()
	_, vkey, err := rlog.LoadOrCreateKey(dir, "reprolog.test/log", "")
	if err != nil {
		t.Fatal(err)
	}
	skey, pending := filepath.Join(dir, rlog.SignerKeyFile), filepath.Join(dir, ".log.key.new")
	if err := os.Rename(skey, pending); err != nil {
		t.Fatal(err)
	}
	if _, again, err := rlog.LoadOrCreateKey(dir, "", ""); err != nil || again != vkey {
		t.Fatalf("after a crash before the last step: %v, key %q, want %q", err, again, vkey)
	}
	if _, err := os.Stat(pending); !os.IsNotExist(err) {
		t.Errorf("the pending key is still there: %v", err)
	}

	// Crashed before log.pub was written: a new key.
	if err := os.Rename(skey, pending); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, rlog.VerifierKeyFile)); err != nil {
		t.Fatal(err)
	}
	if _, again, err := rlog.LoadOrCreateKey(dir, "", "reprolog.test/log"); err != nil || again == vkey {
		t.Fatalf("after a crash before log.pub: %v, the same key again: %v", err, again == vkey)
	}
}
