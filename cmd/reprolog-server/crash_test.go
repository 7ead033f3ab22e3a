package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/torchwood"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprolog/reprolog/internal/testbin"
	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/pgp/pgptest"
	"github.com/reprolog/reprolog/statement"
)

type ack struct {
	index  uint64
	record []byte
	entry  string
}

// TestCrash kills the server with SIGKILL at random moments while clients
// submit, twenty times, restarting it each time. Every acknowledged entry
// must be in the log at its index, be the statement of the very record
// submitted, which the log serves byte for byte, and be found by a lookup;
// every checkpoint the log ever published, in an answer or at
// /checkpoint, must be a prefix of the final tree (it never went back nor
// forked); no record is logged twice, none is served without being
// logged; and the log must pass Tessera's fsck.
//
// It runs on the embedded default, and on MySQL and on MySQL with a bucket
// (Tessera's AWS storage) where scripts/test provides them; those publish
// at most every second, so the server lives longer between kills there.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the server twenty times")
	}
	t.Run("embedded", func(t *testing.T) { crash(t, 700*time.Millisecond) })
	for _, b := range logtest.Backends() {
		switch b {
		case logtest.MySQL:
			t.Run("mysql", func(t *testing.T) {
				crash(t, 2*time.Second, "--mysql", logtest.NewDatabase(t), "--checkpoint-interval", "1s")
			})
		case logtest.AWS:
			t.Run("aws", func(t *testing.T) {
				bucket := logtest.NewBucket(t)
				creds, err := bucket.Credentials.Retrieve(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				t.Setenv("AWS_ACCESS_KEY_ID", creds.AccessKeyID)
				t.Setenv("AWS_SECRET_ACCESS_KEY", creds.SecretAccessKey)
				crash(t, 2*time.Second, "--mysql", logtest.NewDatabase(t), "--checkpoint-interval", "1s",
					"--s3-bucket", bucket.Name, "--s3-endpoint", bucket.Endpoint)
			})
		}
	}
}

// crash runs TestCrash on a server started with flags, killing it after
// 100 ms plus up to spread each round.
func crash(t *testing.T, spread time.Duration, flags ...string) {
	dir := t.TempDir()
	srv := testbin.StartServer(t, dir, flags...)
	v, err := note.NewVerifier(srv.VKey)
	if err != nil {
		t.Fatal(err)
	}
	signer := pgptest.NewSigner(t, "rebuilder")
	if code, body := postTo(srv.URL+"/keys", signer.PublicArmored()); code != http.StatusCreated {
		t.Fatalf("registering: %d %s", code, body)
	}
	text, err := os.ReadFile("../../buildinfo/testdata/gen_local_rbtest_0.1_amd64.build1.buildinfo")
	if err != nil {
		t.Fatal(err)
	}

	var base atomic.Value
	base.Store(srv.URL)
	var maxSize atomic.Int64
	var backwards atomic.Value
	var treesMu sync.Mutex
	trees := map[int64]tlog.Hash{} // every published tree seen
	observe := func(cp []byte) {
		n, err := note.Open(cp, note.VerifierList(v))
		if err != nil {
			backwards.Store(fmt.Sprintf("a checkpoint the log did not sign: %v", err))
			return
		}
		c, err := torchwood.ParseCheckpoint(n.Text)
		if err != nil {
			backwards.Store(err.Error())
			return
		}
		treesMu.Lock()
		if h, ok := trees[c.N]; ok && h != c.Hash {
			backwards.Store(fmt.Sprintf("two checkpoints of size %d with different hashes", c.N))
		}
		trees[c.N] = c.Hash
		treesMu.Unlock()
		for {
			m := maxSize.Load()
			if c.N < m {
				backwards.Store(fmt.Sprintf("checkpoint went from %d back to %d", m, c.N))
				return
			}
			if c.N == m || maxSize.CompareAndSwap(m, c.N) {
				return
			}
		}
	}

	ctx, stop := context.WithCancel(context.Background())
	const clients = 6
	var (
		mu      sync.Mutex
		acks    []ack
		working = make([][]byte, clients) // each client's record not yet acknowledged
		wg      sync.WaitGroup
	)
	for c := range clients {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				version := fmt.Sprintf("Version: 0.1+c%dn%d", c, i)
				record := signer.ClearSign(t, bytes.Replace(text, []byte("Version: 0.1"), []byte(version), 1))
				mu.Lock()
				working[c] = record
				mu.Unlock()
				// Retry the same record until the log acknowledges it: a
				// submission a crash interrupted may or may not be logged.
				for ctx.Err() == nil {
					code, body := postTo(base.Load().(string)+"/add", record)
					if code != http.StatusCreated && code != http.StatusOK {
						time.Sleep(20 * time.Millisecond)
						continue
					}
					var res struct {
						Index      uint64
						Statement  string
						Checkpoint string
					}
					if err := json.Unmarshal(body, &res); err != nil {
						t.Error(err)
						return
					}
					observe([]byte(res.Checkpoint))
					mu.Lock()
					acks = append(acks, ack{res.Index, record, res.Statement})
					working[c] = nil
					mu.Unlock()
					break
				}
			}
		})
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			if code, cp := getFrom(base.Load().(string) + "/checkpoint"); code == http.StatusOK {
				observe(cp)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})

	for round := range 20 {
		time.Sleep(100*time.Millisecond + rand.N(spread))
		srv.Cmd.Process.Kill()
		srv.Cmd.Wait()
		srv = testbin.StartServer(t, dir, flags...)
		base.Store(srv.URL)
		if b, ok := backwards.Load().(string); ok {
			t.Fatalf("round %d: %s", round, b)
		}
	}
	time.Sleep(500 * time.Millisecond)
	stop()
	wg.Wait()
	// One more crash, with no submission running, and the checks run on the
	// restarted log once it has integrated what it had sequenced.
	srv.Cmd.Process.Kill()
	srv.Cmd.Wait()
	srv = testbin.StartServer(t, dir, flags...)
	time.Sleep(2 * time.Second)
	if code, cp := getFrom(srv.URL + "/checkpoint"); code == http.StatusOK {
		observe(cp)
	}
	if b, ok := backwards.Load().(string); ok {
		t.Fatal(b)
	}
	if len(acks) < 20 {
		t.Fatalf("only %d submissions acknowledged in twenty rounds", len(acks))
	}

	// Every acknowledged entry is where the log said, with its record.
	_, entries := logtest.ReadAll(t, srv.URL, v)
	seen := map[string]uint64{}
	for i, e := range entries {
		st, err := statement.Parse(e)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if j, dup := seen[st.Record]; dup {
			t.Errorf("record %s logged twice, at %d and %d", st.Record, j, i)
		}
		seen[st.Record] = uint64(i)
		if code, rec := getFrom(srv.URL + "/record/" + st.Record); code != http.StatusOK || sha256Hex(rec) != st.Record {
			t.Errorf("entry %d: record %s: %d", i, st.Record, code)
		}
	}
	for _, a := range acks {
		if a.index >= uint64(len(entries)) || string(entries[a.index]) != a.entry {
			t.Errorf("acknowledged index %d is not the acknowledged statement", a.index)
			continue
		}
		// The acknowledgement is of this very record: its statement names
		// the record's hash, and the log serves exactly its bytes.
		st, err := statement.Parse(entries[a.index])
		if err != nil || st.Record != sha256Hex(a.record) {
			t.Errorf("acknowledged index %d holds the statement of another record (%v)", a.index, err)
			continue
		}
		if code, rec := getFrom(srv.URL + "/record/" + st.Record); code != http.StatusOK || !bytes.Equal(rec, a.record) {
			t.Errorf("acknowledged index %d: /record serves %d bytes (%d), not the record submitted", a.index, len(rec), code)
		}
		_, body := getFrom(srv.URL + "/lookup?source=rbtest&version=" + url.QueryEscape(st.Version) +
			"&tree_size=" + fmt.Sprint(len(entries)))
		var found struct{ Indices []uint64 }
		if json.Unmarshal(body, &found) != nil || len(found.Indices) != 1 || found.Indices[0] != a.index {
			t.Errorf("lookup of acknowledged entry %d (version %s): %s", a.index, st.Version, body)
		}
	}

	// Every published tree is a prefix of the final one.
	published := len(trees)
	f := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	r := f.NewEmptyRange(0)
	for i, e := range entries {
		if err := r.Append(rfc6962.DefaultHasher.HashLeaf(e), nil); err != nil {
			t.Fatal(err)
		}
		if h, ok := trees[int64(i+1)]; ok {
			root, err := r.GetRootHash(nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(root, h[:]) {
				t.Errorf("the checkpoint published at size %d is not a prefix of the final tree", i+1)
			}
			delete(trees, int64(i+1))
		}
	}
	for n := range trees {
		if n != 0 {
			t.Errorf("a checkpoint of size %d was published, and the log now has %d entries", n, len(entries))
		}
	}

	// A record that is served is logged: the submissions left unanswered
	// at the end are either logged or, once the restarted log has caught
	// up, gone.
	for _, rec := range working {
		if _, logged := seen[sha256Hex(rec)]; rec == nil || logged {
			continue
		}
		for try := 0; ; try++ {
			code, _ := getFrom(srv.URL + "/record/" + sha256Hex(rec))
			if code == http.StatusNotFound {
				break
			}
			if try == 100 {
				t.Errorf("record %s is served but not logged", sha256Hex(rec))
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("%d acknowledged submissions, %d entries, %d published trees, through 20 SIGKILLs", len(acks), len(entries), published)

	// Tessera's fsck re-derives every tile and the root from the entries.
	logtest.Fsck(t, srv.URL, v)
}

func postTo(url string, body []byte) (int, []byte) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Post(url, "text/plain", bytes.NewReader(body))
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func getFrom(url string) (int, []byte) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
