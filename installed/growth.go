package installed

import (
	"context"
	"fmt"

	"filippo.io/torchwood"

	"github.com/reprolog/reprolog/buildinfo"
	"github.com/reprolog/reprolog/client"
	"github.com/reprolog/reprolog/proofs"
	"github.com/reprolog/reprolog/statement"
)

// touchKey names the binary packages a statement is about: version
// without epoch, as in file names.
type touchKey struct{ Package, Version, Arch string }

func touchKeyOf(k Key) touchKey {
	return touchKey{Package: k.Package, Version: buildinfo.StripEpoch(k.Version), Arch: k.Arch}
}

// touched proves the tree of cp consistent with the tree of old, reads
// the entries the log appended in between (each checked against cp),
// and returns the binary packages their statements name.
func touched(ctx context.Context, p *client.Policy, old, cp client.Checkpoint) (map[touchKey]bool, error) {
	fetcher, err := client.NewTileFetcher(p)
	if err != nil {
		return nil, err
	}
	prover := proofs.NewProver(fetcher)
	cctx, cancel := context.WithTimeout(ctx, p.Timeout)
	_, err = prover.Consistency(cctx, cp.Tree(), old.Tree())
	cancel()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", client.ErrLog, err)
	}
	// Reading entries is bounded per request and per entry (every request
	// by the HTTP client's timeout, the wait for each next entry by the
	// torchwood client's), and as a whole only by the check's Limit: a log
	// that grew a lot takes longer to read, not forever.
	c, err := torchwood.NewClient(prover, torchwood.WithTimeout(p.Timeout))
	if err != nil {
		return nil, err
	}
	out := map[touchKey]bool{}
	next := old.Size
	for next < cp.Size {
		start := next
		for i, entry := range c.Entries(ctx, cp.Tree(), start) {
			s, err := statement.Parse(entry)
			if err != nil {
				return nil, fmt.Errorf("%w: entry %d: %w", client.ErrLog, i, err)
			}
			for _, f := range s.Files {
				if f.IsBinary() {
					out[touchKey{f.Package, f.Version, f.Arch}] = true
				}
			}
			next = i + 1
		}
		if err := c.Err(); err != nil {
			return nil, fmt.Errorf("%w: reading entries from %d: %w", client.ErrLog, start, err)
		}
		if next == start {
			return nil, fmt.Errorf("%w: reading entries from %d: the log returned none", client.ErrLog, start)
		}
	}
	return out, nil
}
