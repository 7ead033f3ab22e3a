package client

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/reprolog/reprolog/buildinfo"
	"github.com/reprolog/reprolog/proofs"
	"github.com/reprolog/reprolog/statement"
)

// Verifier decides, under one policy, whether binary packages may be
// installed.
type Verifier struct {
	Policy *Policy
	// Now returns the current time; time.Now when nil.
	Now func() time.Time

	// Test hooks in advance: before taking the state lock, and after
	// reading the kept checkpoint under it.
	locking, stall func()
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// Verify decides about each file from the log: it fetches and verifies
// the checkpoint, proves it consistent with the one kept in State-Dir
// (and keeps the newer), looks up every statement naming each file,
// proves them, fetches and checks their records, and applies the counting
// rules. Errors wrap ErrLog when the log or a witness failed verification.
func (v *Verifier) Verify(ctx context.Context, debs []Deb) ([]*Decision, error) {
	targets := make([]Target, len(debs))
	for i, d := range debs {
		targets[i] = d.Target
	}
	bundles, err := v.Fetch(ctx, targets)
	if err != nil {
		return nil, err
	}
	// Checking the records (signatures, derivations) is the costly part:
	// it runs on every core.
	out := make([]*Decision, len(debs))
	err = parallel(ctx, len(debs), func(_ context.Context, i int) (err error) {
		out[i], err = v.decide(bundles[i], debs[i])
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// VerifyOffline decides about a file from a bundle, with no network. The
// bundle's checkpoint must satisfy the policy (witnesses and Max-Age
// included) and be as fresh as the checkpoint kept in State-Dir allows:
// of the same size, it must be the same tree (else both are kept as fork
// evidence); when the policy names no witnesses, it must not be smaller,
// since no cosignature time then bounds how old a bundle may be. State-Dir
// is only read, except to keep evidence.
func (v *Verifier) VerifyOffline(b *proofs.Bundle, d Deb) (*Decision, error) {
	if err := v.checkOffline(b.Checkpoint); err != nil {
		return nil, err
	}
	return v.decide(b, d)
}

// decide verifies a bundle and applies the counting rules to d.
func (v *Verifier) decide(b *proofs.Bundle, d Deb) (*Decision, error) {
	t := d.Target
	if b.Package != t.Package || b.Version != buildinfo.StripEpoch(t.Version) || b.Arch != t.Arch {
		return nil, fmt.Errorf("the proof is for %s %s %s, not for %s %s %s",
			b.Package, b.Version, b.Arch, t.Package, buildinfo.StripEpoch(t.Version), t.Arch)
	}
	cp, err := VerifyCheckpoint(v.Policy, b.Checkpoint, v.now())
	if err != nil {
		return nil, err
	}
	verified, err := b.Verify(cp.Tree(), v.Policy.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLog, err)
	}
	dec := Decide(v.Policy, t, cp, verified)
	dec.File = d.Path
	return dec, nil
}

// Checkpoint fetches the log's checkpoint, verifies it (signature,
// witnesses, age), proves it consistent with the one kept in State-Dir and
// returns the newer of the two, which State-Dir now keeps.
func (v *Verifier) Checkpoint(ctx context.Context) (Checkpoint, error) {
	_, _, cp, err := v.latest(ctx)
	return cp, err
}

// latest is Checkpoint, also returning the log client and prover it used.
func (v *Verifier) latest(ctx context.Context) (*logClient, *proofs.Prover, Checkpoint, error) {
	lc, err := newLogClient(v.Policy)
	if err != nil {
		return nil, nil, Checkpoint{}, err
	}
	prover := proofs.NewProver(lc.tiles)
	signed, err := lc.checkpoint(ctx)
	if err != nil {
		return nil, nil, Checkpoint{}, fmt.Errorf("%w: %w", ErrLog, err)
	}
	cp, err := VerifyCheckpoint(v.Policy, signed, v.now())
	if err != nil {
		return nil, nil, Checkpoint{}, err
	}
	if cp, err = v.advance(ctx, prover, cp); err != nil {
		return nil, nil, Checkpoint{}, err
	}
	return lc, prover, cp, nil
}

// Fetch gathers from the log a bundle for each target: the verified
// checkpoint (made consistent with State-Dir), every statement the log
// lists for the target with its inclusion proof, and the records of the
// trusted builders. Tiles are read once for all targets.
func (v *Verifier) Fetch(ctx context.Context, targets []Target) ([]*proofs.Bundle, error) {
	p := v.Policy
	lc, prover, cp, err := v.latest(ctx)
	if err != nil {
		return nil, err
	}

	perTarget := make([][]int64, len(targets))
	err = parallel(ctx, len(targets), func(ctx context.Context, i int) (err error) {
		t := targets[i]
		perTarget[i], err = lc.lookup(ctx, t.Package, t.Version, t.Arch, cp.Size)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLog, err)
	}
	pctx, cancel := context.WithTimeout(ctx, p.Timeout)
	entries, err := prover.Entries(pctx, cp.Tree(), slices.Concat(perTarget...))
	cancel()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLog, err)
	}
	if err := fetchRecords(ctx, lc, p, entries); err != nil {
		return nil, err
	}

	bundles := make([]*proofs.Bundle, len(targets))
	for i, t := range targets {
		b := &proofs.Bundle{Package: t.Package, Version: buildinfo.StripEpoch(t.Version), Arch: t.Arch,
			Checkpoint: []byte(cp.Note)}
		for _, e := range entries {
			if slices.Contains(perTarget[i], e.Index) {
				b.Entries = append(b.Entries, e)
			}
		}
		bundles[i] = b
	}
	return bundles, nil
}

// fetchRecords fills in the records of the trusted builders' statements,
// fetching each record once.
func fetchRecords(ctx context.Context, lc *logClient, p *Policy, entries []proofs.Entry) error {
	var want []*statement.Statement
	of := make([]int, len(entries)) // entry -> index in want, or -1
	seen := map[string]int{}
	for i, e := range entries {
		s, err := statement.Parse(e.Statement)
		if err != nil {
			return fmt.Errorf("%w: entry %d: %w", ErrLog, e.Index, err)
		}
		of[i] = -1
		if p.Key(s.Builder) == nil {
			continue
		}
		j, ok := seen[s.Record]
		if !ok {
			j = len(want)
			seen[s.Record] = j
			want = append(want, s)
		}
		of[i] = j
	}
	records := make([][]byte, len(want))
	err := parallel(ctx, len(want), func(ctx context.Context, i int) (err error) {
		records[i], err = lc.record(ctx, want[i].Record, want[i].RecordSize)
		return err
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrLog, err)
	}
	for i, j := range of {
		if j >= 0 {
			entries[i].Record = records[j]
		}
	}
	return nil
}

// parallel runs f(ctx, 0..n-1) on a few goroutines. The first error
// cancels the context the others run with, starts no more of them, and is
// returned: one log that stalls costs one timeout, not one per call.
func parallel(ctx context.Context, n int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		once  sync.Once
		first error
		wg    sync.WaitGroup
	)
	sem := make(chan struct{}, 8)
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f(ctx, i); err != nil {
				once.Do(func() { first = err; cancel() }) // before the slot is freed
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err() // the caller's context ended first
}
