package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprolog/reprolog/internal/testbin"
	"github.com/reprolog/reprolog/pgp/pgptest"
)

// readOnly makes a data directory unwritable and returns how to make it
// writable again. Root writes through file modes, so as root the
// directory is on a tmpfs of its own, remounted read-only; otherwise its
// modes lose every write bit.
func readOnly(t *testing.T, root string) (data string, set func(ro bool)) {
	t.Helper()
	if os.Geteuid() != 0 {
		data = filepath.Join(root, "data")
		modes := map[string]fs.FileMode{}
		return data, func(ro bool) {
			t.Helper()
			err := filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if ro {
					fi, err := d.Info()
					if err != nil {
						return err
					}
					modes[p] = fi.Mode().Perm()
					return os.Chmod(p, fi.Mode().Perm()&^0o222)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !ro {
				for p, m := range modes {
					if err := os.Chmod(p, m); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", root).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", root).Run() })
	return filepath.Join(root, "data"), func(ro bool) {
		t.Helper()
		mode := "rw"
		if ro {
			mode = "ro"
		}
		if out, err := exec.Command("mount", "-o", "remount,"+mode, root).CombinedOutput(); err != nil {
			t.Fatalf("remount %s: %v %s", mode, err, out)
		}
	}
}

// TestUnwritable starts the server on a data directory it cannot write:
// it refuses to start, saying so, rather than fail at the first
// submission; once the directory is writable again it starts with every
// entry, record and key it had.
func TestUnwritable(t *testing.T) {
	data, setReadOnly := readOnly(t, t.TempDir())
	srv := testbin.StartServer(t, data)
	signer := pgptest.NewSigner(t, "rebuilder")
	if code, body := postTo(srv.URL+"/keys", signer.PublicArmored()); code != http.StatusCreated {
		t.Fatalf("registering: %d %s", code, body)
	}
	text := rbtestText(t)
	var records [][]byte
	for i := range 3 {
		r := signer.ClearSign(t, bytes.Replace(text, []byte("Version: 0.1"), []byte(fmt.Sprintf("Version: 0.1+%d", i)), 1))
		if code, body := postTo(srv.URL+"/add", r); code != http.StatusCreated {
			t.Fatalf("add: %d %s", code, body)
		}
		records = append(records, r)
	}
	srv.Cmd.Process.Signal(os.Interrupt)
	srv.Cmd.Wait()

	setReadOnly(true)
	bin := testbin.Build(t, "reprolog-server")
	_, errOut, code := testbin.Run(t, bin, "--data", data, "--listen", "127.0.0.1:0")
	if code == 0 || !strings.Contains(errOut, "data directory "+data+" is not writable") {
		t.Fatalf("read-only data directory: exit %d, stderr %q", code, errOut)
	}

	setReadOnly(false)
	srv = testbin.StartServer(t, data)
	for i, r := range records {
		if code, served := getFrom(srv.URL + "/record/" + sha256Hex(r)); code != http.StatusOK || !bytes.Equal(served, r) {
			t.Errorf("record %d after the restart: %d", i, code)
		}
	}
	if code, _ := getFrom(srv.URL + "/keys/" + signer.Fingerprint()); code != http.StatusOK {
		t.Errorf("the key after the restart: %d", code)
	}
	code, body := postTo(srv.URL+"/add", signer.ClearSign(t, text))
	if code != http.StatusCreated || !strings.Contains(string(body), `"index":3`) {
		t.Errorf("a new record after the restart: %d %s", code, body)
	}
}
