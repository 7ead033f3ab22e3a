package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/reprolog/reprolog/internal/testbin"
	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/pgp/pgptest"
	"github.com/reprolog/reprolog/statement"
)

var soak = flag.Duration("soak", 0, "run TestSoak for this long (e.g. 3m)")

// TestSoak submits to the real server for -soak (skipped when 0): many
// clients for several builders, one in five submissions a resubmission of
// an acknowledged record, faster than the per-builder rate limit allows.
// The server must push back (429 or 503 with Retry-After) rather than fail,
// its memory must stay flat, every acknowledged entry must be in the log at
// its index, each record once, and every resubmission must answer the
// first index.
//
//	go test -run TestSoak ./cmd/reprolog-server -soak=3m -v
func TestSoak(t *testing.T) {
	if *soak == 0 {
		t.Skip("a sustained load test: run with -soak=3m")
	}
	const (
		builders = 8
		clients  = 32
	)
	srv := testbin.StartServer(t, t.TempDir(), "--rate-limit", "6", "--burst", "12")
	v, err := note.NewVerifier(srv.VKey)
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile("../../buildinfo/testdata/gen_local_rbtest_0.1_amd64.build1.buildinfo")
	if err != nil {
		t.Fatal(err)
	}
	signers := make([]*pgptest.Signer, builders)
	for i := range signers {
		signers[i] = pgptest.NewSigner(t, fmt.Sprintf("soak%d", i))
		if code, body := postTo(srv.URL+"/keys", signers[i].PublicArmored()); code != http.StatusCreated {
			t.Fatalf("registering: %d %s", code, body)
		}
	}

	var (
		mu       sync.Mutex
		acked    = map[string]ack{} // by record SHA-256
		ackList  []string
		counts   sync.Map // outcome -> *atomic.Int64
		wrongDup atomic.Int64
		n        atomic.Int64
	)
	count := func(outcome string) {
		c, _ := counts.LoadOrStore(outcome, new(atomic.Int64))
		c.(*atomic.Int64).Add(1)
	}
	hc := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	submit := func(record []byte) (int, string, []byte) {
		resp, err := hc.Post(srv.URL+"/add", "text/plain", bytes.NewReader(record))
		if err != nil {
			return 0, "", []byte(err.Error())
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Retry-After"), b
	}

	ctx, stop := context.WithTimeout(context.Background(), *soak)
	defer stop()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			s := signers[c%builders]
			for ctx.Err() == nil {
				var record []byte
				var dup *ack
				mu.Lock()
				if len(ackList) > 0 && rand.IntN(5) == 0 {
					a := acked[ackList[rand.IntN(len(ackList))]]
					dup, record = &a, a.record
				}
				mu.Unlock()
				if record == nil {
					version := fmt.Sprintf("Version: 0.1+soak%d", n.Add(1))
					record = s.ClearSign(t, bytes.Replace(text, []byte("Version: 0.1"), []byte(version), 1))
				}
				code, retry, body := submit(record)
				switch {
				case code == http.StatusCreated || code == http.StatusOK:
					var res struct {
						Index     uint64
						Statement string
						Duplicate bool
					}
					if err := json.Unmarshal(body, &res); err != nil {
						t.Errorf("%d: %s", code, body)
						return
					}
					if dup != nil {
						count("resubmission answered")
						if res.Index != dup.index || !res.Duplicate {
							wrongDup.Add(1)
						}
						continue
					}
					count("acknowledged")
					sha := sha256Hex(record)
					mu.Lock()
					if _, ok := acked[sha]; !ok {
						acked[sha] = ack{res.Index, record, res.Statement}
						ackList = append(ackList, sha)
					}
					mu.Unlock()
				case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
					count(strconv.Itoa(code))
					if retry == "" {
						t.Errorf("%d without Retry-After: %s", code, body)
					}
					select { // a client that honours Retry-After, more or less
					case <-ctx.Done():
					case <-time.After(time.Duration(100+rand.IntN(900)) * time.Millisecond):
					}
				case code == 0 && ctx.Err() != nil:
				default:
					count(fmt.Sprintf("failed %d", code))
					t.Errorf("%d: %.200s", code, body)
				}
			}
		})
	}

	// Sample the server's resident memory.
	var rss []int64
	sample := time.NewTicker(5 * time.Second)
	start := time.Now()
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-sample.C:
			rss = append(rss, vmRSS(t, srv.Cmd.Process.Pid))
		}
	}
	sample.Stop()
	wg.Wait()
	elapsed := time.Since(start)
	final := vmRSS(t, srv.Cmd.Process.Pid)

	_, entries := logtest.ReadAll(t, srv.URL, v)
	seen := map[string]int{}
	for i, e := range entries {
		st, err := statement.Parse(e)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if j, ok := seen[st.Record]; ok {
			t.Errorf("record %s logged at %d and %d", st.Record, j, i)
		}
		seen[st.Record] = i
	}
	for sha, a := range acked {
		if a.index >= uint64(len(entries)) || string(entries[a.index]) != a.entry {
			t.Errorf("acknowledged record %s is not at its index %d", sha, a.index)
		}
	}
	if wrongDup.Load() > 0 {
		t.Errorf("%d resubmissions answered another index, or not as duplicates", wrongDup.Load())
	}

	var summary []string
	counts.Range(func(k, v any) bool {
		summary = append(summary, fmt.Sprintf("%s %d", k, v.(*atomic.Int64).Load()))
		return true
	})
	slices.Sort(summary)
	t.Logf("%v of load: %s; %d entries, %.1f appended/s", elapsed.Round(time.Second), strings.Join(summary, ", "),
		len(entries), float64(len(entries))/elapsed.Seconds())
	t.Logf("server RSS (MiB) every 5s: %v; at the end %d", mib(rss), final>>20)

	// Flat memory: the last third of the run holds no more than the
	// middle third plus a margin, so the footprint stopped growing.
	if len(rss) >= 6 {
		third := len(rss) / 3
		mid, last := slices.Max(rss[third:2*third]), slices.Max(rss[2*third:])
		if last > mid+mid/4+16<<20 {
			t.Errorf("server memory still growing: %d MiB in the middle third, %d MiB in the last", mid>>20, last>>20)
		}
	}
	if len(acked) == 0 {
		t.Fatal("nothing was acknowledged")
	}
	if c, ok := counts.Load("429"); !ok || c.(*atomic.Int64).Load() == 0 {
		t.Error("the clients, faster than the rate limit, were never pushed back")
	}
}

// vmRSS reads a process's resident set size, in bytes, from /proc.
func vmRSS(t *testing.T, pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

func mib(b []int64) []int64 {
	out := make([]int64, len(b))
	for i, v := range b {
		out[i] = v >> 20
	}
	return out
}
