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

	"golang.org/x/mod/sumdb/note"

	rlog "github.com/reprolog/reprolog/log"
	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/pgp/pgptest"
	"github.com/reprolog/reprolog/statement"
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
// refused with a clear, retryable error, and every one that was
// acknowledged, while full or not, is kept. Once space returns the log
// accepts submissions again; restarted, it holds exactly the acknowledged
// entries, each at its index with its record, no refused record, and
// passes Tessera's fsck.
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
	acked := map[uint64][]byte{} // index: record
	var refusedRecords [][]byte
	ack := func(rec []byte, body []byte) {
		t.Helper()
		var res rlog.Result
		mustJSON(t, body, &res)
		if prev, ok := acked[res.Index]; ok {
			t.Fatalf("index %d acknowledged for two records (%s and %s)", res.Index, sha(prev), sha(rec))
		}
		acked[res.Index] = rec
	}
	first := record(0)
	code, body, _ := post(t, l.URL+"/add", "text/plain", first)
	if code != http.StatusCreated {
		t.Fatalf("first submission: %d %s", code, body)
	}
	ack(first, body)

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

	for i := 1; i <= 5; i++ {
		rec := record(i)
		code, body, hdr := post(t, l.URL+"/add", "text/plain", rec)
		switch code {
		case http.StatusCreated:
			ack(rec, body) // SQLite may still have room in its pages
		case http.StatusServiceUnavailable, http.StatusInsufficientStorage:
			refusedRecords = append(refusedRecords, rec)
			if hdr.Get("Retry-After") == "" || !strings.Contains(string(body), "storage") {
				t.Errorf("refusal without Retry-After or a clear reason: %d %s", code, body)
			}
		default:
			t.Errorf("while full: %d %s", code, body)
		}
	}
	if len(refusedRecords) == 0 {
		t.Fatal("a full disk refused nothing")
	}

	os.Remove(filler)
	for i := 10; i < 13; i++ {
		rec := record(i)
		idx := submitEventually(t, l, rec)
		if _, ok := acked[idx]; ok {
			t.Fatalf("index %d acknowledged twice", idx)
		}
		acked[idx] = rec
	}
	l.Stop()

	l = logtest.StartDir(t, l.Dir)
	v, err := note.NewVerifier(l.VKey)
	if err != nil {
		t.Fatal(err)
	}
	_, entries := logtest.ReadAll(t, l.URL, v)
	if len(entries) != len(acked) {
		t.Errorf("the log holds %d entries, %d were acknowledged", len(entries), len(acked))
	}
	for idx, rec := range acked {
		if idx >= uint64(len(entries)) {
			t.Errorf("acknowledged index %d is beyond the log", idx)
			continue
		}
		st, err := statement.Parse(entries[idx])
		if err != nil || st.Record != sha(rec) {
			t.Errorf("entry %d is not the statement of the record acknowledged there (%v)", idx, err)
		}
		if code, served := get(t, l.URL+"/record/"+sha(rec)); code != http.StatusOK || !bytes.Equal(served, rec) {
			t.Errorf("record acknowledged at %d: %d", idx, code)
		}
	}
	for _, rec := range refusedRecords {
		if code, _ := get(t, l.URL+"/record/"+sha(rec)); code != http.StatusNotFound {
			t.Errorf("a refused record is served (%d)", code)
		}
	}
	logtest.Fsck(t, l.URL, v)
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
