package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/reprolog/reprolog/internal/testbin"
	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/pgp/pgptest"
)

// TestMySQLFrontEnds runs two reprolog-server processes with --mysql on one
// database and one key directory: a record submitted to one is served by
// the other, and resubmitting it there answers the same index.
func TestMySQLFrontEnds(t *testing.T) {
	dsn := logtest.NewDatabase(t)
	keys := t.TempDir()
	a := testbin.StartServer(t, keys, "--mysql", dsn, "--checkpoint-interval", "1s")
	b := testbin.StartServer(t, keys, "--mysql", dsn, "--checkpoint-interval", "1s")
	if a.VKey != b.VKey {
		t.Fatalf("front ends with different keys: %s, %s", a.VKey, b.VKey)
	}
	entries, _ := os.ReadDir(keys)
	for _, e := range entries {
		if e.Name() != "log.key" && e.Name() != "log.pub" {
			t.Errorf("the data directory holds %s besides the key", e.Name())
		}
	}
	signer := pgptest.NewSigner(t, "rebuilder")
	postStatus(t, a.URL+"/keys", signer.PublicArmored(), http.StatusCreated)
	text, err := os.ReadFile("../../buildinfo/testdata/gen_local_rbtest_0.1_amd64.build1.buildinfo")
	if err != nil {
		t.Fatal(err)
	}
	rec := signer.ClearSign(t, text)
	first := postStatus(t, a.URL+"/add", rec, http.StatusCreated)
	again := postStatus(t, b.URL+"/add", rec, http.StatusOK)
	if first.Index != again.Index || !again.Duplicate {
		t.Errorf("resubmission to the other front end: index %d (duplicate %v), first %d", again.Index, again.Duplicate, first.Index)
	}
	resp, err := http.Get(b.URL + "/record/" + sha256Hex(rec))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, rec) {
		t.Errorf("the other front end serves the record: %d", resp.StatusCode)
	}
}

// TestMySQLFlags: what --mysql refuses before it touches anything.
func TestMySQLFlags(t *testing.T) {
	bin := testbin.Build(t, "reprolog-server")
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--mysql", "u:p@tcp(127.0.0.1:1)/db", "--checkpoint-interval", "100ms"}, "at most every 1s"},
		{[]string{"--mysql", "u:p@tcp(127.0.0.1:1)/"}, "names no database"},
	} {
		dir := t.TempDir() + "/data"
		_, errOut, code := testbin.Run(t, bin, append([]string{"--data", dir, "--listen", "127.0.0.1:0"}, tt.args...)...)
		if code == 0 || !strings.Contains(errOut, tt.msg) {
			t.Errorf("%q: exit %d, %s", tt.args, code, errOut)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%q: the data directory was created", tt.args)
		}
	}
}

type addResult struct {
	Index     uint64
	Duplicate bool
}

func postStatus(t *testing.T, url string, body []byte, want int) addResult {
	t.Helper()
	resp, err := http.Post(url, "text/plain", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("POST %s: %s %s", url, resp.Status, b)
	}
	var res addResult
	json.Unmarshal(b, &res)
	return res
}
