package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprolog/reprolog/witness/witnesstest"
)

// growingLog is a witnesstest.MemLog that grows while clients ask for its
// checkpoints; MemLog itself is not safe for concurrent use.
type growingLog struct {
	mu  sync.Mutex
	log *witnesstest.MemLog
}

func (g *growingLog) request(t *testing.T, old int64) (body []byte, size int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := g.log.Size()
	if old > n {
		old = 0 // a size this branch never had: the witness answers 409 with its own
	}
	return g.log.Request(t, old, n), n
}

func (g *growingLog) hash(t *testing.T, n int64) tlog.Hash {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.log.Hash(t, n)
}

func (g *growingLog) grow(t *testing.T, tag string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.log.AppendN(t, 1+rand.IntN(3), tag)
}

// cosigned is an acknowledged cosignature: a 200 answer whose cosignature
// verifies with the witness key.
type cosigned struct {
	size int64
	hash tlog.Hash
	fork bool
}

// TestCrash kills reprolog-witness with SIGKILL at random moments, twenty
// times, while four clients submit the checkpoints of a growing log and
// one submits checkpoints of a fork of that log signed with the same key.
// After every restart the witness must hold at least the largest
// checkpoint it acknowledged, on the honest branch; over the whole run it
// must never have cosigned two hashes for one size, nor any checkpoint of
// the fork.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the witness twenty times")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	key := witnesstest.NewLogKey(t, "example.com/log")
	honest := &growingLog{log: witnesstest.NewMemLog(key)}
	honest.log.AppendN(t, 10, "shared")
	forked := &growingLog{log: honest.log.Fork()}
	honest.log.AppendN(t, 10, "honest")
	forked.log.AppendN(t, 10, "fork")
	policy := filepath.Join(dir, "policy")
	if err := os.WriteFile(policy, []byte("log "+key.VKey+"\nquorum none\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--data", data, "--listen", "127.0.0.1:0", "--log-policy", policy, "--name", "example.com/crash"}
	p := start(t, bin, args...)
	vkey := p.vkey
	v, err := fnote.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		t.Fatal(err)
	}
	// The witness holds the honest branch past the fork point before the
	// fork is offered, so every fork checkpoint from now on is refused.
	first, _ := honest.request(t, 0)
	if status, body := postBody(t, p.addr, first); status != http.StatusOK {
		t.Fatalf("first checkpoint: %d %q", status, body)
	}

	var (
		addr     atomic.Value
		mu       sync.Mutex
		acks     []cosigned
		refusals atomic.Int64 // fork checkpoints refused
		wg       sync.WaitGroup
	)
	addr.Store(p.addr)
	done := make(chan struct{})
	running := func() bool {
		select {
		case <-done:
			return false
		default:
			return true
		}
	}
	// submit posts the branch's newest checkpoint for a witness believed to
	// hold size old, and returns the size the witness is now known to hold.
	submit := func(g *growingLog, old int64, fork bool) int64 {
		body, n := g.request(t, old)
		status, ctype, answer := postQuiet(addr.Load().(string), body)
		switch {
		case status == http.StatusOK:
			cp := body[bytes.Index(body, []byte("\n\n"))+2:]
			if _, err := note.Open(append(bytes.Clone(cp), answer...), note.VerifierList(v)); err != nil {
				t.Errorf("a 200 answer without a valid cosignature: %v: %q", err, answer)
				return old
			}
			mu.Lock()
			acks = append(acks, cosigned{size: n, hash: g.hash(t, n), fork: fork})
			mu.Unlock()
			return n
		case status == http.StatusConflict && ctype == "text/x.tlog.size":
			if fork {
				refusals.Add(1)
			}
			held, err := strconv.ParseInt(strings.TrimSpace(string(answer)), 10, 64)
			if err != nil {
				t.Errorf("409 without a size: %q", answer)
				return old
			}
			return held
		case fork && (status == http.StatusConflict || status == http.StatusUnprocessableEntity):
			refusals.Add(1)
		}
		time.Sleep(5 * time.Millisecond) // restarting, or a refusal
		return old
	}
	for range 4 {
		wg.Go(func() {
			var old int64
			for running() {
				old = submit(honest, old, false)
			}
		})
	}
	wg.Go(func() {
		var old int64
		for running() {
			old = submit(forked, old, true)
			time.Sleep(10 * time.Millisecond)
		}
	})
	wg.Go(func() {
		for running() {
			honest.grow(t, "honest")
			forked.grow(t, "fork")
			time.Sleep(3 * time.Millisecond)
		}
	})

	held := func(p *process) (int64, string) {
		t.Helper()
		size, hash, err := state(p.addr, key.Origin)
		if err != nil {
			t.Fatal(err)
		}
		return size, hash
	}
	for round := range 20 {
		time.Sleep(time.Duration(100+rand.IntN(600)) * time.Millisecond)
		p.cmd.Process.Kill()
		<-p.done
		// Every answer read from now on was written before the kill.
		mu.Lock()
		acked := append([]cosigned(nil), acks...)
		mu.Unlock()
		p = start(t, bin, args...)
		addr.Store(p.addr)
		if p.vkey != vkey {
			t.Fatalf("round %d: the witness key changed to %s", round, p.vkey)
		}
		size, hash := held(p)
		for _, a := range acked {
			if a.size > size {
				t.Fatalf("round %d: the witness cosigned size %d, and holds %d after a crash", round, a.size, size)
			}
		}
		if want := honest.hash(t, size).String(); hash != want {
			t.Fatalf("round %d: after a crash the witness holds size %d with hash %s, not the honest %s", round, size, hash, want)
		}
		t.Logf("round %d: %d cosignatures so far, the witness holds size %d", round, len(acked), size)
	}
	time.Sleep(300 * time.Millisecond)
	close(done)
	wg.Wait()

	size, _ := held(p)
	bySize := map[int64]tlog.Hash{}
	for _, a := range acks {
		if a.fork && a.size > 10 {
			t.Errorf("the witness cosigned the fork at size %d", a.size)
		}
		if h, ok := bySize[a.size]; ok && h != a.hash {
			t.Errorf("the witness cosigned two hashes for size %d", a.size)
		}
		bySize[a.size] = a.hash
		if a.size > size {
			t.Errorf("cosigned size %d, holds %d", a.size, size)
		}
	}
	if len(bySize) < 20 || refusals.Load() == 0 {
		t.Fatalf("%d sizes cosigned and %d fork checkpoints refused: the crashes left too little work", len(bySize), refusals.Load())
	}
	t.Logf("%d cosignatures of %d sizes, %d fork checkpoints refused, final size %d, through 20 SIGKILLs",
		len(acks), len(bySize), refusals.Load(), size)
}

// postQuiet posts an add-checkpoint body, answering status 0 when the
// witness is not there.
func postQuiet(addr string, body []byte) (status int, ctype string, answer []byte) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Post("http://"+addr+"/add-checkpoint", "text/plain", bytes.NewReader(body))
	if err != nil {
		return 0, "", nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", nil
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// state reads the size and hash the witness holds for origin from its
// status page.
func state(addr, origin string) (int64, string, error) {
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == origin {
			n, err := strconv.ParseInt(f[1], 10, 64)
			return n, f[2], err
		}
	}
	return 0, "", fmt.Errorf("the status page does not show %s", origin)
}
