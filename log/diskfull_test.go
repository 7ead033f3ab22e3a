package log_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/pgp/pgptest"
)

// tmpfs mounts a small tmpfs for the test, or skips when this machine
// does not allow it.
func tmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// TestDiskFull fills the data directory's file system: submissions are
// refused with a clear, retryable error and nothing acknowledged is lost;
// once space returns, the log accepts submissions again.
func TestDiskFull(t *testing.T) {
	if logtest.Current() != logtest.Embedded {
		t.Skip("the data directory holds the log only on the embedded backend")
	}
	dir := tmpfs(t, "8m")
	l := logtest.StartDir(t, filepath.Join(dir, "data"))
	s := pgptest.NewSigner(t, "rebuilder")
	l.Register(t, s.PublicArmored())
	text := rbtest(t)
	record := func(i int) []byte {
		return s.ClearSign(t, bytes.Replace(text, []byte("Version: 0.1"), []byte(fmt.Sprintf("Version: 0.1+%d", i)), 1))
	}
	var acked []uint64
	acked = append(acked, l.Submit(t, record(0)))

	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	f.Close()

	var refused int
	for i := 1; i <= 5; i++ {
		code, body, hdr := post(t, l.URL+"/add", "text/plain", record(i))
		switch code {
		case http.StatusCreated:
			t.Logf("accepted while full: %s", body) // SQLite may still have room in its pages
		case http.StatusServiceUnavailable, http.StatusInsufficientStorage:
			refused++
			if hdr.Get("Retry-After") == "" || !strings.Contains(string(body), "storage") {
				t.Errorf("refusal without Retry-After or a clear reason: %d %s", code, body)
			}
		default:
			t.Errorf("while full: %d %s", code, body)
		}
	}
	if refused == 0 {
		t.Fatal("a full disk refused nothing")
	}

	os.Remove(filler)
	for i := 10; i < 13; i++ {
		acked = append(acked, submitEventually(t, l, record(i)))
	}
	for i, idx := range acked {
		if idx != uint64(i) {
			t.Errorf("acknowledged indices %v: the refused submissions left entries behind", acked)
			break
		}
	}
	if _, got := lookup(t, l.URL+"/lookup?source=rbtest&version=0.1%2B10"); len(got) != 1 || got[0] != 1 {
		t.Errorf("lookup after recovery: %v", got)
	}
}

// submitEventually retries a submission through 503s for a few seconds.
func submitEventually(t *testing.T, l *logtest.Log, rec []byte) uint64 {
	t.Helper()
	for range 50 {
		code, body, _ := post(t, l.URL+"/add", "text/plain", rec)
		if code == http.StatusCreated || code == http.StatusOK {
			var res struct{ Index uint64 }
			mustJSON(t, body, &res)
			return res.Index
		}
		t.Logf("%d %s", code, body)
		sleep()
	}
	t.Fatal("the log did not recover")
	return 0
}
