package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reprolog/reprolog/internal/testbin"
	"github.com/reprolog/reprolog/witness/witnesstest"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// buildBinary builds reprolog-witness (with -race under -race), once for
// all the tests of this package.
func buildBinary(t *testing.T) string {
	t.Helper()
	return testbin.Build(t, "reprolog-witness")
}

// process is a running reprolog-witness.
type process struct {
	cmd    *exec.Cmd
	vkey   string // first line of stdout
	addr   string // from the "listening" log line
	stderr *lockedBuffer
	done   chan error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

var listening = regexp.MustCompile(`msg=listening addr=(\S+)`)

func start(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), stderr: &lockedBuffer{}, done: make(chan error, 1)}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		l, _ := r.ReadString('\n')
		lines <- l
		io.Copy(io.Discard, r)
		p.done <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
	})
	deadline := time.After(30 * time.Second)
	for p.addr == "" {
		select {
		case l := <-lines:
			p.vkey = strings.TrimSuffix(l, "\n")
		case err := <-p.done:
			t.Fatalf("reprolog-witness exited: %v\n%s", err, p.stderr.String())
		case <-deadline:
			t.Fatalf("reprolog-witness did not start:\n%s", p.stderr.String())
		case <-time.After(20 * time.Millisecond):
			if m := listening.FindStringSubmatch(p.stderr.String()); m != nil && p.vkey != "" {
				p.addr = m[1]
			}
		}
	}
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}

// fails runs the binary and expects it to refuse to start with a message.
func fails(t *testing.T, bin, want string, args ...string) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err == nil {
		t.Fatalf("%v started; want a refusal mentioning %q", args, want)
	}
	if !strings.Contains(string(out), want) {
		t.Fatalf("%v: output %q does not mention %q", args, out, want)
	}
}

func postBody(t *testing.T, addr string, body []byte) (int, string) {
	t.Helper()
	resp, err := http.Post("http://"+addr+"/add-checkpoint", "text/plain", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestBinary(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	log := witnesstest.NewMemLog(witnesstest.NewLogKey(t, "example.com/log"))
	log.AppendN(t, 10, "e2e")
	policy := filepath.Join(dir, "policy")
	if err := os.WriteFile(policy, []byte("# logs to witness\nlog "+log.Key.VKey+" https://log.example/\nquorum none\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--data", data, "--listen", "127.0.0.1:0", "--log-policy", policy, "--name", "example.com/e2e"}

	p := start(t, bin, args...)
	pub, err := os.ReadFile(filepath.Join(data, "witness.pub"))
	if err != nil || string(pub) != p.vkey+"\n" || !strings.HasPrefix(p.vkey, "example.com/e2e+") {
		t.Fatalf("witness.pub %q (%v), printed vkey %q", pub, err, p.vkey)
	}
	if fi, err := os.Stat(filepath.Join(data, "witness.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("witness.key: %v %v, want mode 0600", fi.Mode(), err)
	}
	v, err := fnote.NewVerifierForCosignatureV1(p.vkey)
	if err != nil {
		t.Fatal(err)
	}
	status, body := postBody(t, p.addr, log.Request(t, 0, 6))
	if status != 200 {
		t.Fatalf("add-checkpoint: %d %q", status, body)
	}
	if _, err := note.Open(append(log.Checkpoint(t, 6), body...), note.VerifierList(v)); err != nil {
		t.Fatalf("cosignature does not verify with the printed key: %v", err)
	}
	resp, err := http.Get(fmt.Sprintf("http://%s/%x/checkpoint", p.addr, sha256.Sum256([]byte(log.Key.Origin))))
	if err != nil {
		t.Fatal(err)
	}
	cosigned, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if n, err := note.Open(cosigned, note.VerifierList(v, log.Key.Verifier)); err != nil || len(n.Sigs) != 2 {
		t.Fatalf("GET /<origin hash>/checkpoint: %d %q (%v), want the checkpoint signed by the log and cosigned", resp.StatusCode, cosigned, err)
	}
	resp, err = http.Get("http://" + p.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), p.vkey) || !strings.Contains(string(page), "example.com/log 6 ") {
		t.Errorf("status page:\n%s", page)
	}
	p.stop(t)

	// A restart keeps the key and the state.
	p = start(t, bin, args...)
	if status, body := postBody(t, p.addr, log.Request(t, 0, 10)); status != 409 || body != "6\n" {
		t.Fatalf("after restart, old 0: %d %q, want 409 6", status, body)
	}
	if status, _ := postBody(t, p.addr, log.Request(t, 6, 10)); status != 200 {
		t.Fatalf("after restart, old 6: %d", status)
	}
	// A fork: another checkpoint of size 10, signed by the log.
	fork := witnesstest.NewMemLog(log.Key)
	fork.AppendN(t, 10, "fork")
	forked := fork.Checkpoint(t, 10)
	if status, _ := postBody(t, p.addr, witnesstest.AddCheckpointBody(10, nil, forked)); status != 422 {
		t.Fatalf("fork: %d, want 422", status)
	}
	// A genuine larger checkpoint with a garbage proof: anyone can send it.
	log.AppendN(t, 1, "e2e")
	if status, _ := postBody(t, p.addr, witnesstest.AddCheckpointBody(10, tlog.TreeProof{{1}}, log.Checkpoint(t, 11))); status != 422 {
		t.Fatalf("garbage proof: %d, want 422", status)
	}
	out, err := exec.Command(bin, "evidence", "--data", data).Output()
	if err != nil {
		t.Fatalf("evidence: %v", err)
	}
	var got []map[string]any
	for dec := json.NewDecoder(bytes.NewReader(out)); dec.More(); {
		var e map[string]any
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("evidence output %q: %v", out, err)
		}
		got = append(got, e)
	}
	if len(got) != 2 {
		t.Fatalf("evidence = %s, want two reports", out)
	}
	if f := got[0]; f["kind"] != "fork" || f["proven"] != true || !strings.HasPrefix(f["meaning"].(string), "proof of a fork") ||
		f["origin"] != "example.com/log" || f["held_checkpoint"] != string(log.Checkpoint(t, 10)) || f["received_checkpoint"] != string(forked) {
		t.Fatalf("fork evidence = %v", f)
	}
	checkForkEvidence(t, got[0], log.Key.VKey)
	if j := got[1]; j["kind"] != "inconsistent" || j["proven"] != false || !strings.HasPrefix(j["meaning"].(string), "unproven") {
		t.Fatalf("evidence for a garbage proof = %v, want it labelled unproven", j)
	}
	if !regexp.MustCompile(`level=ERROR msg="log misbehaviour[^\n]*kind=fork`).MatchString(p.stderr.String()) ||
		!regexp.MustCompile(`level=WARN msg="unproven[^\n]*kind=inconsistent`).MatchString(p.stderr.String()) {
		t.Errorf("the fork is not logged at ERROR and the garbage proof at WARN:\n%s", p.stderr.String())
	}
	p.stop(t)
	if !strings.Contains(p.stderr.String(), "shutting down") {
		t.Errorf("no graceful shutdown in the log:\n%s", p.stderr.String())
	}

	// Refusals.
	fails(t, bin, "--log-policy is required", "--data", data)
	fails(t, bin, "key in", append(args[:len(args)-1:len(args)-1], "example.com/other")...)
	empty := filepath.Join(dir, "nologs")
	os.WriteFile(empty, []byte("quorum none\n"), 0o644)
	fails(t, bin, "lists no logs", "--data", data, "--log-policy", empty)
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("log nonsense\nquorum none\n"), 0o644)
	fails(t, bin, "policy line 1", "--data", data, "--log-policy", bad)

	key := filepath.Join(data, "witness.key")
	good, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(key, good[:20], 0o600)
	fails(t, bin, "corrupt", args...)
	os.Chmod(key, 0o000)
	if os.Geteuid() != 0 { // root reads any file
		fails(t, bin, "permission denied", args...)
	}
	os.Chmod(key, 0o600)
	os.WriteFile(key, good, 0o600)
	os.Rename(filepath.Join(data, "witness.db"), filepath.Join(dir, "moved.db"))
	fails(t, bin, "would forget the checkpoints it cosigned", args...)
}
