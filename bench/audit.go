package bench

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"

	"github.com/reprolog/reprolog/audit"
	"github.com/reprolog/reprolog/buildinfo"
	"github.com/reprolog/reprolog/pgp"
	"github.com/reprolog/reprolog/statement"
)

// Audit is what AuditRate measured: the entries processed and the wall
// time it took, and the size of the auditor's state at the end.
type Audit struct {
	Rate
	StateBytes int64
}

// AuditRate follows the whole log at url with an auditor (package audit,
// the auditor of `reprolog audit`) from a fresh state directory: every
// checkpoint, entry and record verified, conflicts looked for, the index
// sampled. It returns the entries processed, how long it took and the
// size of the state directory once the auditor is closed.
func AuditRate(ctx context.Context, url, vkey, stateDir string) (Audit, error) {
	a, err := audit.Open(ctx, audit.Config{Log: url, LogKey: vkey, StateDir: stateDir, LookupSample: 4,
		Deliver: func(audit.Finding) error { return nil }})
	if err != nil {
		return Audit{}, err
	}
	start := time.Now()
	res, err := a.Sync(ctx)
	elapsed := time.Since(start)
	if cerr := a.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Audit{}, err
	}
	if res.Verified != res.Processed {
		return Audit{}, fmt.Errorf("the auditor verified %d of %d entries", res.Verified, res.Processed)
	}
	if n := len(res.Findings); n > 0 {
		return Audit{}, fmt.Errorf("the auditor found %v in a log of agreeing builds", res.Findings)
	}
	size, err := dirSize(stateDir)
	return Audit{Rate: Rate{N: int(res.Processed), Elapsed: elapsed}, StateBytes: size}, err
}

// dirSize adds up the sizes of the files in dir.
func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		n += info.Size()
		return err
	})
	return n, err
}

// RecordBounds measures two bounds of an auditor of a log of w's first
// size entries, on about n records like the log's: about n of its entries,
// in runs of one entry per rebuilder spread evenly over the log, signed
// again (entry e is build e/len(rebs) signed by rebs[e%len(rebs)]), so
// with the same keys, mix and sizes. verify is OpenPGP verification alone
// (VerifyAlone); check is the whole check an auditor makes of a record
// once it has it, alone (CheckAlone). Both run on all cores.
func RecordBounds(w *World, rebs []*Rebuilder, size, n int) (verify, check Rate, err error) {
	builds := size / len(rebs)
	runs := max(1, min(builds, n/len(rebs)))
	var records [][]byte
	var by []*Rebuilder
	for i := range runs {
		e := i * builds / runs * len(rebs)
		recs, err := Sign(w, rebs, e, e+len(rebs))
		if err != nil {
			return Rate{}, Rate{}, err
		}
		records, by = append(records, recs...), append(by, SignedBy(rebs, e, e+len(rebs))...)
	}
	if verify, err = VerifyAlone(records, by); err != nil {
		return Rate{}, Rate{}, err
	}
	check, err = CheckAlone(records, by)
	return verify, check, err
}

// CheckAlone checks each record as an auditor does once it has fetched it
// (record i signed by by[i]), on all cores, and nothing else: its
// signature by its rebuilder's key as of the signature's time, then the
// buildinfo parsed and the statement derived again.
func CheckAlone(records [][]byte, by []*Rebuilder) (Rate, error) {
	keys, err := parseKeys(by)
	if err != nil {
		return Rate{}, err
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, runtime.GOMAXPROCS(0))
	start := time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(records) {
					return
				}
				if err := checkRecord(records[i], keys[i]); err != nil {
					errs <- fmt.Errorf("record %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	return Rate{N: len(records), Elapsed: elapsed}, <-errs
}

func checkRecord(record []byte, key *pgp.Key) error {
	signed, err := pgp.ParseClearsigned(record)
	if err != nil {
		return err
	}
	if err := signed.Verify(key, signed.Created); err != nil {
		return err
	}
	b, err := buildinfo.Parse(signed.Text)
	if err != nil {
		return err
	}
	st, err := statement.Derive(b, key.Fingerprint(), record)
	if err != nil {
		return err
	}
	st.Marshal()
	return nil
}

// TilesRate reads every entry of the log at url with torchwood's
// tlog-tiles client, which fetches the entry bundles and hash tiles and
// checks them against the checkpoint, and does nothing else: the bound of
// any follower.
func TilesRate(ctx context.Context, url, vkey string) (Rate, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return Rate{}, err
	}
	start := time.Now()
	resp, err := http.Get(url + "/checkpoint")
	if err != nil {
		return Rate{}, err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return Rate{}, err
	}
	n, err := note.Open(raw, note.VerifierList(v))
	if err != nil {
		return Rate{}, err
	}
	cp, err := torchwood.ParseCheckpoint(n.Text)
	if err != nil {
		return Rate{}, err
	}
	fetcher, err := torchwood.NewTileFetcher(url+"/", torchwood.WithConcurrencyLimit(8))
	if err != nil {
		return Rate{}, err
	}
	client, err := torchwood.NewClient(fetcher)
	if err != nil {
		return Rate{}, err
	}
	// The iteration may stop before a partial tile; resuming reads it.
	count := int64(0)
	for count < cp.N {
		before := count
		for range client.Entries(ctx, cp.Tree, count) {
			count++
		}
		if err := client.Err(); err != nil {
			return Rate{}, err
		}
		if count == before {
			return Rate{}, fmt.Errorf("read %d entries of %d", count, cp.N)
		}
	}
	return Rate{N: int(count), Elapsed: time.Since(start)}, nil
}
