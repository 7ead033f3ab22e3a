package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/reprolog/reprolog/internal/testbin"
	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/pgp/pgptest"
)

// TestServerAndSubmit runs the real binaries: a rebuilder registers its key
// and submits files with reprolog submit, as the README shows.
func TestServerAndSubmit(t *testing.T) {
	dataDir := t.TempDir()
	srv := testbin.StartServer(t, dataDir)
	vkeyFile, err := os.ReadFile(filepath.Join(dataDir, "log.pub"))
	if err != nil || strings.TrimSpace(string(vkeyFile)) != srv.VKey {
		t.Fatalf("log.pub %q (%v), printed %q", vkeyFile, err, srv.VKey)
	}
	if fi, err := os.Stat(filepath.Join(dataDir, "log.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("log.key: %v %v", fi, err)
	}

	work := t.TempDir()
	signer := pgptest.NewSigner(t, "rebuilder")
	keyFile := write(t, work, "rebuilder.asc", signer.PublicArmored())
	text, err := os.ReadFile("../../buildinfo/testdata/gen_local_rbtest_0.1_amd64.build1.buildinfo")
	if err != nil {
		t.Fatal(err)
	}
	good := write(t, work, "rbtest_0.1_amd64.buildinfo", signer.ClearSign(t, text))
	unsigned := write(t, work, "unsigned.buildinfo", text)
	other := write(t, work, "other.buildinfo", pgptest.NewSigner(t, "stranger").ClearSign(t, text))

	reprolog := testbin.Build(t, "reprolog")
	out, errOut, code := testbin.Run(t, reprolog, "submit", "--log", srv.URL, "--key", keyFile, good)
	if code != 0 || out != "0 "+good+"\n" {
		t.Fatalf("submit: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// Again, with the key registered again: a no-op, the same index.
	out, errOut, code = testbin.Run(t, reprolog, "submit", "--log", srv.URL, "--key", keyFile, good)
	if code != 0 || out != "0 "+good+"\n" {
		t.Fatalf("resubmit: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// Another encoding of the same signature: the index of the logged
	// record, which the client checks carries the same signature.
	goodRecord, _ := os.ReadFile(good)
	variant := write(t, work, "variant.asc", pgptest.Variants(t, goodRecord)["armor headers"])
	out, errOut, code = testbin.Run(t, reprolog, "submit", "--log", srv.URL, variant)
	if code != 0 || out != "0 "+variant+"\n" || !strings.Contains(errOut, "logged before as record "+sha256Hex(goodRecord)) {
		t.Fatalf("another encoding: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// A rejected file among good ones: its reason, and exit 1.
	out, errOut, code = testbin.Run(t, reprolog, "submit", "--log", srv.URL, unsigned, good, other)
	if code != 1 || out != "0 "+good+"\n" {
		t.Fatalf("mixed submit: exit %d, stdout %q", code, out)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(regexp.QuoteMeta(unsigned) + `: rejected: .*malformed`),
		regexp.MustCompile(regexp.QuoteMeta(other) + `: rejected: .*register the public key`),
	} {
		if !want.MatchString(errOut) {
			t.Errorf("stderr %q does not match %s", errOut, want)
		}
	}
	if _, _, code := testbin.Run(t, reprolog, "submit", good); code != 2 {
		t.Errorf("submit without --log: exit %d, want 2", code)
	}
}

// TestLargeRecordSubmit: reprolog submit logs a record of more than 1 MiB
// through the real server, which serves it back byte for byte.
func TestLargeRecordSubmit(t *testing.T) {
	srv := testbin.StartServer(t, t.TempDir())
	work := t.TempDir()
	signer := pgptest.NewSigner(t, "rebuilder")
	keyFile := write(t, work, "rebuilder.asc", signer.PublicArmored())
	text, err := os.ReadFile("../../buildinfo/testdata/gen_local_rbtest_0.1_amd64.build1.buildinfo")
	if err != nil {
		t.Fatal(err)
	}
	record := signer.ClearSign(t, logtest.LargeBuildinfo(text, 1100<<10))
	if len(record) < 1100<<10 {
		t.Fatalf("the record has only %d bytes", len(record))
	}
	file := write(t, work, "large.buildinfo.asc", record)
	out, errOut, code := testbin.Run(t, testbin.Build(t, "reprolog"), "submit", "--log", srv.URL, "--key", keyFile, file)
	if code != 0 || out != "0 "+file+"\n" {
		t.Fatalf("submit: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, served := getFrom(srv.URL + "/record/" + sha256Hex(record)); code != 200 || !bytes.Equal(served, record) {
		t.Errorf("GET /record: %d, %d bytes of %d", code, len(served), len(record))
	}
}

// TestRefusesOtherOrigin: a data directory holds one log.
func TestRefusesOtherOrigin(t *testing.T) {
	dataDir := t.TempDir()
	srv := testbin.StartServer(t, dataDir, "--origin", "first.example/log")
	if !strings.HasPrefix(srv.VKey, "first.example/log+") {
		t.Fatalf("vkey %q", srv.VKey)
	}
	srv.Cmd.Process.Signal(os.Interrupt)
	srv.Cmd.Wait()
	bin := testbin.Build(t, "reprolog-server")
	_, errOut, code := testbin.Run(t, bin, "--data", dataDir, "--listen", "127.0.0.1:0", "--origin", "second.example/log")
	if code == 0 || !strings.Contains(errOut, `holds the log "first.example/log"`) {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

func write(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
