package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprolog/reprolog/witness"
	"github.com/reprolog/reprolog/witness/witnesstest"
)

// TestRestartsUnderTessera restarts reprolog-witness eight times, by SIGTERM
// and SIGKILL in turn, on one address while a plain Tessera log, which
// needs its cosignature to publish, keeps adding entries and sending it
// checkpoints. Every restarted witness holds at least what Tessera
// published, and cosigns new checkpoints. Then the log forks: the witness
// refuses, and what "reprolog-witness evidence" prints is proof that anyone
// can check with the log's verifier key alone.
func TestRestartsUnderTessera(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts the witness eight times under a running Tessera log")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	key := witnesstest.NewLogKey(t, "example.com/tessera")
	policyFile := filepath.Join(dir, "policy")
	if err := os.WriteFile(policyFile, []byte("log "+key.VKey+"\nquorum none\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--data", data, "--listen", freeAddr(t), "--log-policy", policyFile, "--name", "example.com/restarts"}
	p := start(t, bin, args...)
	text := fmt.Sprintf("log %s\nwitness ours %s http://%s\nquorum ours\n", key.VKey, p.vkey, p.addr)
	policy, err := witness.ParsePolicy([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	log := witnesstest.StartTesseraLog(t, key, []byte(text))

	var (
		mu      sync.Mutex
		largest torchwood.Checkpoint // the largest checkpoint Tessera published
		wg      sync.WaitGroup
	)
	ctx, stop := context.WithCancel(context.Background())
	for w := range 3 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				cp, err := log.AddContext(ctx, fmt.Appendf(nil, "writer %d entry %d", w, i))
				if errors.Is(err, context.Canceled) {
					return
				} else if err != nil {
					t.Errorf("Tessera: %v", err)
					return
				}
				wit, err := policy.Verify(cp, nil)
				if err != nil {
					t.Errorf("Tessera published a checkpoint without our cosignature: %v\n%s", err, cp)
					return
				}
				mu.Lock()
				if wit.Checkpoint.N > largest.N {
					largest = wit.Checkpoint
				}
				mu.Unlock()
			}
		})
	}
	defer func() {
		stop()
		wg.Wait()
	}()
	// publishedBeyond waits until Tessera has published a checkpoint larger
	// than size, and returns the largest.
	publishedBeyond := func(size int64) torchwood.Checkpoint {
		t.Helper()
		for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			mu.Lock()
			c := largest
			mu.Unlock()
			if c.N > size {
				return c
			}
		}
		t.Fatalf("Tessera published nothing beyond size %d with the witness at %s:\n%s", size, p.addr, p.stderr.String())
		return torchwood.Checkpoint{}
	}

	var held int64
	for round := range 8 {
		last := publishedBeyond(held)
		time.Sleep(time.Duration(rand.IntN(200)) * time.Millisecond) // requests in flight
		if round%2 == 0 {
			p.stop(t)
		} else {
			p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
		}
		mu.Lock()
		last = largest // published before the witness went down
		mu.Unlock()
		p = start(t, bin, args...)
		size, hash, err := state(p.addr, key.Origin)
		if err != nil {
			t.Fatal(err)
		}
		if size < last.N || (size == last.N && hash != last.Hash.String()) {
			t.Fatalf("round %d: Tessera published size %d %v cosigned, and the restarted witness holds %d %s", round, last.N, last.Hash, size, hash)
		}
		// Tessera publishes beyond what the witness held at its restart:
		// only the restarted witness can have cosigned that.
		next := publishedBeyond(size)
		t.Logf("round %d: published size %d when the witness went down, it held %d on restart, then published %d", round, last.N, size, next.N)
		held = next.N
	}
	stop()
	wg.Wait()

	// The log forks: it signs another tree of the size the witness holds.
	var forked []byte
	for attempt := 0; forked == nil; attempt++ {
		size, _, err := state(p.addr, key.Origin)
		if err != nil {
			t.Fatal(err)
		}
		other := witnesstest.NewMemLog(key)
		other.AppendN(t, int(size), "fork")
		cp := other.Checkpoint(t, size)
		switch status, body := postBody(t, p.addr, witnesstest.AddCheckpointBody(size, nil, cp)); {
		case status == http.StatusUnprocessableEntity:
			forked = cp
		case status != http.StatusConflict || attempt == 10: // 409: Tessera moved the witness on
			t.Fatalf("fork at size %d: %d %q, want 422", size, status, body)
		}
	}
	out := evidence(t, bin, data)
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	if after := evidence(t, bin, data); !bytes.Equal(after, out) {
		t.Fatalf("evidence changed after SIGKILL:\n%s\nthen\n%s", out, after)
	}
	var reports []map[string]any
	for dec := json.NewDecoder(bytes.NewReader(out)); dec.More(); {
		var r map[string]any
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("evidence output %q: %v", out, err)
		}
		reports = append(reports, r)
	}
	if len(reports) != 1 || reports[0]["received_checkpoint"] != string(forked) {
		t.Fatalf("evidence = %s, want the one fork", out)
	}
	checkForkEvidence(t, reports[0], key.VKey)
}

// checkForkEvidence checks a fork report of "reprolog-witness evidence" the
// way anyone holding only the log's verifier key would: it is marked as
// proof, and its two checkpoints verify with that key, have one size and
// different root hashes.
func checkForkEvidence(t *testing.T, report map[string]any, logVKey string) {
	t.Helper()
	if report["kind"] != "fork" || report["proven"] != true {
		t.Fatalf("report %v is not marked as proof of a fork", report)
	}
	v, err := note.NewVerifier(logVKey)
	if err != nil {
		t.Fatal(err)
	}
	var trees []tlog.Tree
	for _, field := range []string{"held_checkpoint", "received_checkpoint"} {
		s, _ := report[field].(string)
		n, err := note.Open([]byte(s), note.VerifierList(v))
		if err != nil {
			t.Fatalf("%s does not verify with the log's key: %v\n%s", field, err, s)
		}
		c, err := torchwood.ParseCheckpoint(n.Text)
		if err != nil || c.Origin != v.Name() {
			t.Fatalf("%s is not a checkpoint of %s: %v\n%s", field, v.Name(), err, s)
		}
		trees = append(trees, c.Tree)
	}
	if trees[0].N != trees[1].N || trees[0].Hash == trees[1].Hash {
		t.Fatalf("held %d %v and received %d %v: not two trees of one size", trees[0].N, trees[0].Hash, trees[1].N, trees[1].Hash)
	}
}

// evidence runs "reprolog-witness evidence" on data.
func evidence(t *testing.T, bin, data string) []byte {
	t.Helper()
	out, err := exec.Command(bin, "evidence", "--data", data).Output()
	if err != nil {
		t.Fatalf("reprolog-witness evidence: %v", err)
	}
	return out
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment
// ago, so that a witness can be restarted where its log looks for it.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
