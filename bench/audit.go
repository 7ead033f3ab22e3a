package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"

	"github.com/reprolog/reprolog/audit"
)

// AuditRate follows the whole log at url with an auditor (package audit,
// the auditor of `reprolog audit`) from a fresh state directory: every
// checkpoint, entry and record verified, conflicts looked for, the index
// sampled. It returns the entries processed and how long it took.
func AuditRate(ctx context.Context, url, vkey, stateDir string) (Rate, error) {
	a, err := audit.Open(ctx, audit.Config{Log: url, LogKey: vkey, StateDir: stateDir, LookupSample: 4,
		Deliver: func(audit.Finding) error { return nil }})
	if err != nil {
		return Rate{}, err
	}
	defer a.Close()
	start := time.Now()
	res, err := a.Sync(ctx)
	if err != nil {
		return Rate{}, err
	}
	if res.Verified != res.Processed {
		return Rate{}, fmt.Errorf("the auditor verified %d of %d entries", res.Verified, res.Processed)
	}
	if n := len(res.Findings); n > 0 {
		return Rate{}, fmt.Errorf("the auditor found %v in a log of agreeing builds", res.Findings)
	}
	return Rate{N: int(res.Processed), Elapsed: time.Since(start)}, nil
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
