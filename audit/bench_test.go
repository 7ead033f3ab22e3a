package audit_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"

	"github.com/reprolog/reprolog/audit"
	rlog "github.com/reprolog/reprolog/log"
	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/pgp/pgptest"
	"github.com/reprolog/reprolog/proofs/prooftest"
)

// The benchmarks follow a log of REPROLOG_AUDIT_BENCH_ENTRIES entries
// (2,000 by default). Building a large log takes a while: with
// REPROLOG_AUDIT_BENCH_DIR set, the log is kept in that directory and used
// again by the next run. The log's database syncs every submission, so a
// directory on tmpfs builds it several times faster; the auditor's state
// stays in the test's temporary directory. For the million-entry run:
//
//	REPROLOG_AUDIT_BENCH_ENTRIES=1000000 REPROLOG_AUDIT_BENCH_DIR=/dev/shm/auditbench \
//	    go test -run '^$' -bench . -benchtime 1x -timeout 3h ./audit
func benchEntries(b *testing.B) int {
	n := 2000
	if s := os.Getenv("REPROLOG_AUDIT_BENCH_ENTRIES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n <= 0 {
			b.Fatalf("REPROLOG_AUDIT_BENCH_ENTRIES=%q", s)
		}
	}
	return n
}

var (
	benchMu   sync.Mutex
	benchLogs = map[int]*logtest.Log{}
	benchTemp []string // directories to remove when the benchmarks end
)

func TestMain(m *testing.M) {
	code := m.Run()
	benchMu.Lock()
	for _, l := range benchLogs {
		l.Stop()
	}
	for _, d := range benchTemp {
		os.RemoveAll(d)
	}
	benchMu.Unlock()
	os.Exit(code)
}

// benchLog returns a log of n entries: builds of n/4 packages by four
// builders, one of which gets another hash for one package in a hundred.
func benchLog(b *testing.B, n int) *logtest.Log {
	benchMu.Lock()
	defer benchMu.Unlock()
	if l := benchLogs[n]; l != nil {
		return l
	}
	dir := os.Getenv("REPROLOG_AUDIT_BENCH_DIR")
	if dir == "" {
		d, err := os.MkdirTemp("", "reprolog-audit-bench-")
		if err != nil {
			b.Fatal(err)
		}
		dir = d
		benchTemp = append(benchTemp, d)
	}
	marker := filepath.Join(dir, "bench-entries")
	have, _ := os.ReadFile(marker)
	if string(have) != strconv.Itoa(n) {
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		buildBenchLog(b, dir, n)
		if err := os.WriteFile(marker, []byte(strconv.Itoa(n)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	// The log outlives each benchmark: it is shared by all of them.
	l := logtest.StartDir(&keepAlive{b}, dir)
	benchLogs[n] = l
	return l
}

// keepAlive runs a log past the end of the benchmark that started it.
type keepAlive struct{ testing.TB }

func (keepAlive) Cleanup(func()) {}

func buildBenchLog(b *testing.B, dir string, n int) {
	b.Logf("building a log of %d entries in %s", n, dir)
	start := time.Now()
	l := logtest.StartDir(b, dir)
	defer l.Stop()
	var signers []*pgptest.Signer
	for i := range 4 {
		s := pgptest.NewSigner(b, fmt.Sprintf("bench-%d", i))
		l.Register(b, s.PublicArmored())
		signers = append(signers, s)
	}
	ctx := context.Background()
	next := make(chan int)
	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		failed  error
	)
	for range 256 {
		wg.Go(func() {
			for i := range next {
				pkg, builder := i/4, i%4
				sum := sha256.Sum256([]byte(strconv.Itoa(pkg)))
				if builder == 3 && pkg%100 == 0 {
					sum[0] ^= 1
				}
				rec := prooftest.Record(b, signers[builder], prooftest.Build{
					Source: fmt.Sprintf("src%07d", pkg), Version: "1.0-1",
					Debs: []prooftest.Deb{{Package: fmt.Sprintf("pkg%07d", pkg), Arch: "amd64", SHA256: hex.EncodeToString(sum[:]), Size: 1000 + int64(pkg)}},
				})
				for {
					_, err := l.Server.Submit(ctx, rec)
					var busy *rlog.Error
					if errors.As(err, &busy) && busy.RetryAfter > 0 {
						time.Sleep(50 * time.Millisecond)
						continue
					}
					if err != nil {
						errOnce.Do(func() { failed = err })
					}
					break
				}
			}
		})
	}
	for i := range n {
		if i%100000 == 0 && i > 0 {
			b.Logf("%d entries, %.0f/s", i, float64(i)/time.Since(start).Seconds())
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if failed != nil {
		b.Fatal(failed)
	}
	b.Logf("built in %v", time.Since(start))
}

// BenchmarkFollow audits the whole log from scratch, as reprolog audit
// does by default: every checkpoint, entry and record checked, every
// statement compared, 8 lookups per batch of 1,024 entries.
func BenchmarkFollow(b *testing.B) {
	n := benchEntries(b)
	l := benchLog(b, n)
	b.ResetTimer()
	for range b.N {
		var c collector
		a, err := audit.Open(context.Background(), audit.Config{Log: l.URL, LogKey: l.VKey, StateDir: b.TempDir(),
			Deliver: c.deliver, LookupSample: 8})
		if err != nil {
			b.Fatal(err)
		}
		res, err := a.Sync(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		a.Close()
		dissent := map[string]bool{}
		for _, f := range c.ofKind(audit.Disagreement) {
			dissent[f.Package] = true
		}
		if res.Verified != int64(n) || len(dissent) != (n/4+99)/100 {
			b.Fatalf("%+v, disagreements on %d packages", res, len(dissent))
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkReadTiles reads the same log's entries with torchwood's Client
// and nothing else: the tiles fetched and hashed against the checkpoint.
func BenchmarkReadTiles(b *testing.B) {
	n := benchEntries(b)
	l := benchLog(b, n)
	v, err := note.NewVerifier(l.VKey)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		tf, err := torchwood.NewTileFetcher(l.URL)
		if err != nil {
			b.Fatal(err)
		}
		signed, err := tf.ReadEndpoint(context.Background(), "checkpoint")
		if err != nil {
			b.Fatal(err)
		}
		nt, err := note.Open(signed, note.VerifierList(v))
		if err != nil {
			b.Fatal(err)
		}
		cp, err := torchwood.ParseCheckpoint(nt.Text)
		if err != nil {
			b.Fatal(err)
		}
		c, err := torchwood.NewClient(tf)
		if err != nil {
			b.Fatal(err)
		}
		var read int64
		for read < cp.N {
			for range c.Entries(context.Background(), cp.Tree, read) {
				read++
			}
			if err := c.Err(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}
