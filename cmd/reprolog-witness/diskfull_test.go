package main

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprolog/reprolog/internal/testenv"
	"github.com/reprolog/reprolog/witness/witnesstest"
)

// tmpfs mounts a small tmpfs for the test, or skips (fails with
// REPROLOG_STRICT=1) when this machine does not allow it.
func tmpfs(t *testing.T, size string, opts ...string) string {
	t.Helper()
	dir := t.TempDir()
	o := strings.Join(append([]string{"size=" + size}, opts...), ",")
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", o, "tmpfs", dir).CombinedOutput(); err != nil {
		testenv.Unavailable(t, "cannot mount a tmpfs here (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 16<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			return
		}
	}
}

// TestDiskFull fills the witness's file system: a checkpoint it cannot
// record is refused with a retryable error and no cosignature, the state
// it holds is unchanged, and once space returns it cosigns again.
func TestDiskFull(t *testing.T) {
	bin := buildBinary(t)
	dir := tmpfs(t, "4m")
	data := filepath.Join(dir, "data")
	log := witnesstest.NewMemLog(witnesstest.NewLogKey(t, "example.com/log"))
	log.AppendN(t, 10, "x")
	policy := filepath.Join(t.TempDir(), "policy")
	if err := os.WriteFile(policy, []byte("log "+log.Key.VKey+"\nquorum none\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--data", data, "--listen", "127.0.0.1:0", "--log-policy", policy, "--name", "example.com/full"}
	p := start(t, bin, args...)
	if status, body := postBody(t, p.addr, log.Request(t, 0, 10)); status != http.StatusOK {
		t.Fatalf("first checkpoint: %d %q", status, body)
	}

	filler := filepath.Join(dir, "filler")
	fill(t, filler)
	held := int64(10)
	var refused int
	for range 20 {
		log.AppendN(t, 50, "y")
		resp, err := http.Post("http://"+p.addr+"/add-checkpoint", "text/plain", bytes.NewReader(log.Request(t, held, log.Size())))
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			held = log.Size() // SQLite may still have room in its write-ahead log
		case http.StatusServiceUnavailable:
			refused++
			if resp.Header.Get("Retry-After") == "" || !strings.Contains(b.String(), "storage") {
				t.Errorf("refusal without Retry-After or a clear reason: %q", b.String())
			}
			if size, _, err := state(p.addr, log.Key.Origin); err != nil || size != held {
				t.Errorf("after a refusal the witness holds %d (%v), want %d", size, err, held)
			}
		default:
			t.Fatalf("while full: %d %q", resp.StatusCode, b.String())
		}
	}
	if refused == 0 {
		t.Fatal("a full disk refused nothing")
	}
	t.Logf("while full: %d of 20 checkpoints refused", refused)
	if !strings.Contains(p.stderr.String(), "storage") {
		t.Errorf("the witness's log does not say why:\n%s", p.stderr.String())
	}

	os.Remove(filler)
	log.AppendN(t, 5, "z")
	if status, body := postBody(t, p.addr, log.Request(t, held, log.Size())); status != http.StatusOK {
		t.Fatalf("after space returned: %d %q", status, body)
	}
	p.stop(t)
	p = start(t, bin, args...)
	if size, _, err := state(p.addr, log.Key.Origin); err != nil || size != log.Size() {
		t.Fatalf("after a restart the witness holds %d (%v), want %d", size, err, log.Size())
	}
}

// TestUnwritable starts the witness on a data directory it cannot write:
// it refuses to start, saying why, rather than cosign what it could not
// remember; once the directory is writable again it starts with its state.
func TestUnwritable(t *testing.T) {
	bin := buildBinary(t)
	dir := tmpfs(t, "4m")
	data := filepath.Join(dir, "data")
	log := witnesstest.NewMemLog(witnesstest.NewLogKey(t, "example.com/log"))
	log.AppendN(t, 10, "x")
	policy := filepath.Join(t.TempDir(), "policy")
	if err := os.WriteFile(policy, []byte("log "+log.Key.VKey+"\nquorum none\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--data", data, "--listen", "127.0.0.1:0", "--log-policy", policy, "--name", "example.com/ro"}
	p := start(t, bin, args...)
	if status, body := postBody(t, p.addr, log.Request(t, 0, 10)); status != http.StatusOK {
		t.Fatalf("first checkpoint: %d %q", status, body)
	}
	p.stop(t)

	remount := func(mode string) {
		t.Helper()
		if out, err := exec.Command("mount", "-o", "remount,"+mode, dir).CombinedOutput(); err != nil {
			t.Fatalf("remount %s: %v %s", mode, err, out)
		}
	}
	remount("ro")
	fails(t, bin, data+" is not writable", args...)
	fails(t, bin, "read-only file system", args...)
	fails(t, bin, "is not writable", "--data", filepath.Join(dir, "new"), "--listen", "127.0.0.1:0", "--log-policy", policy)
	remount("rw")
	p = start(t, bin, args...)
	if size, _, err := state(p.addr, log.Key.Origin); err != nil || size != 10 {
		t.Fatalf("after the directory became writable the witness holds %d (%v), want 10", size, err)
	}
}
