package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/reprolog/reprolog/internal/testbin"
	rlog "github.com/reprolog/reprolog/log"
	"github.com/reprolog/reprolog/pgp/pgptest"
	"github.com/reprolog/reprolog/witness"
	"github.com/reprolog/reprolog/witness/witnesstest"
)

func rbtestText(t *testing.T) []byte {
	t.Helper()
	text, err := os.ReadFile("../../buildinfo/testdata/gen_local_rbtest_0.1_amd64.build1.buildinfo")
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// startFails runs reprolog-server on a new data directory with flags and
// requires it to stop at once with an error containing want, having
// created nothing.
func startFails(t *testing.T, want string, flags ...string) {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	bin := testbin.Build(t, "reprolog-server")
	_, errOut, code := testbin.Run(t, bin, append([]string{"--data", data, "--listen", "127.0.0.1:0"}, flags...)...)
	if code == 0 || !strings.Contains(errOut, want) {
		t.Errorf("%v: exit %d, stderr %q; want an error with %q", flags, code, errOut, want)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("%v: the data directory was created", flags)
	}
}

// TestSubmittersFlag: with --submitters, a key of the keyring registers
// and its records are logged; any other key, and its records, are refused
// with 403. A keyring that does not parse stops the server at start.
func TestSubmittersFlag(t *testing.T) {
	work := t.TempDir()
	listed, other, stranger := pgptest.NewSigner(t, "listed"), pgptest.NewSigner(t, "other listed"), pgptest.NewSigner(t, "stranger")
	keyring := write(t, work, "rebuilders.asc", append(listed.PublicArmored(), other.PublicArmored()...))
	srv := testbin.StartServer(t, t.TempDir(), "--submitters", keyring)

	if code, body := postTo(srv.URL+"/keys", listed.PublicArmored()); code != http.StatusOK && code != http.StatusCreated {
		t.Errorf("registering a listed key: %d %s", code, body)
	}
	if code, body := postTo(srv.URL+"/add", listed.ClearSign(t, rbtestText(t))); code != http.StatusCreated {
		t.Errorf("a record of a listed key: %d %s", code, body)
	}
	if code, body := postTo(srv.URL+"/keys", stranger.PublicArmored()); code != http.StatusForbidden || !strings.Contains(string(body), "restricted") {
		t.Errorf("registering a key outside the keyring: %d %s", code, body)
	}
	if code, body := postTo(srv.URL+"/add", stranger.ClearSign(t, rbtestText(t))); code != http.StatusForbidden {
		t.Errorf("a record of a key outside the keyring: %d %s", code, body)
	}
	if code, _ := getFrom(srv.URL + "/keys/" + stranger.Fingerprint()); code != http.StatusNotFound {
		t.Errorf("the refused key is served: %d", code)
	}

	startFails(t, "--submitters "+write(t, work, "junk.asc", []byte("not a keyring\n")), "--submitters", filepath.Join(work, "junk.asc"))
	startFails(t, "--submitters", "--submitters", filepath.Join(work, "missing.asc"))
}

// TestWitnessPolicyFlag: with --witness-policy, every acknowledgement
// carries a checkpoint that the policy's witnesses cosigned; a policy file
// that does not parse stops the server at start.
func TestWitnessPolicyFlag(t *testing.T) {
	data := t.TempDir()
	const origin = "reprolog.test/witnessed"
	_, vkey, err := rlog.LoadOrCreateKey(data, origin, "")
	if err != nil {
		t.Fatal(err)
	}
	logV, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	w := witnesstest.StartWitness(t, "witness.test/w", witness.LogEntry{Origin: origin, VKey: vkey, Verifier: logV})
	policyText := []byte(fmt.Sprintf("log %s\nwitness w %s %s\nquorum w\n", vkey, w.VKey, w.URL))
	policy, err := witness.ParsePolicy(policyText)
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	srv := testbin.StartServer(t, data, "--witness-policy", write(t, work, "policy", policyText))

	signer := pgptest.NewSigner(t, "rebuilder")
	if code, body := postTo(srv.URL+"/keys", signer.PublicArmored()); code != http.StatusCreated {
		t.Fatalf("registering: %d %s", code, body)
	}
	code, body := postTo(srv.URL+"/add", signer.ClearSign(t, rbtestText(t)))
	if code != http.StatusCreated {
		t.Fatalf("add: %d %s", code, body)
	}
	var res struct{ Checkpoint string }
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	if _, err := policy.Verify([]byte(res.Checkpoint), logV); err != nil {
		t.Errorf("the acknowledgement's checkpoint does not satisfy the witness policy: %v\n%s", err, res.Checkpoint)
	}
	if _, cp := getFrom(srv.URL + "/checkpoint"); !bytes.Contains(cp, []byte("— witness.test/w ")) {
		t.Errorf("the published checkpoint has no cosignature:\n%s", cp)
	}

	for name, text := range map[string]string{
		"bad witness key": "witness w not-a-key http://127.0.0.1:1\nquorum w\n",
		"unknown quorum":  fmt.Sprintf("witness w %s %s\nquorum nobody\n", w.VKey, w.URL),
		"not a policy":    "<html>hello</html>\n",
	} {
		file := write(t, work, strings.ReplaceAll(name, " ", "-"), []byte(text))
		startFails(t, "--witness-policy "+file+": ", "--witness-policy", file)
	}
	startFails(t, "--witness-policy: ", "--witness-policy", filepath.Join(work, "missing"))
}
