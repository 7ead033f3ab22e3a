package client

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/reprolog/reprolog/buildinfo"
	"github.com/reprolog/reprolog/proofs"
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
// rules. Errors wrap ErrLog when the log or a witness failed verification,
// and ErrPolicy when the keys of a policy from OpenPolicy did not load.
func (v *Verifier) Verify(ctx context.Context, debs []Deb) ([]*Decision, error) {
	targets := make([]Target, len(debs))
	for i, d := range debs {
		targets[i] = d.Target
	}
	bundles, cp, checked, err := v.fetch(ctx, targets)
	if perr := v.Policy.Wait(); perr != nil {
		return nil, perr
	}
	if err != nil {
		return nil, err
	}
	// Checking the records (signatures, derivations) is the costly part:
	// it runs on every core.
	out := make([]*Decision, len(debs))
	err = parallel(ctx, len(debs), func(_ context.Context, i int) (err error) {
		out[i], err = v.decideAt(cp, bundles[i], debs[i], checked)
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
	cp, err := VerifyCheckpoint(v.Policy, b.Checkpoint, v.now())
	if err != nil {
		return nil, err
	}
	return v.decideAt(cp, b, d, nil)
}

// decideAt is decide for a bundle whose checkpoint, cp, is verified. The
// records that checked accepted are not checked again.
func (v *Verifier) decideAt(cp Checkpoint, b *proofs.Bundle, d Deb, checked *proofs.Checked) (*Decision, error) {
	t := d.Target
	if b.Package != t.Package || b.Version != buildinfo.StripEpoch(t.Version) || b.Arch != t.Arch {
		return nil, fmt.Errorf("the proof is for %s %s %s, not for %s %s %s",
			b.Package, b.Version, b.Arch, t.Package, buildinfo.StripEpoch(t.Version), t.Arch)
	}
	verified, err := b.VerifyChecked(cp.Tree(), v.Policy.Key, checked)
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
	lc, err := newLogClient(v.Policy)
	if err != nil {
		return Checkpoint{}, err
	}
	cp, err := v.fetchCheckpoint(ctx, lc)
	if err != nil {
		return Checkpoint{}, err
	}
	return v.advance(ctx, proofs.NewProver(lc.tiles), cp)
}

// fetchCheckpoint fetches the log's checkpoint and verifies it.
func (v *Verifier) fetchCheckpoint(ctx context.Context, lc *logClient) (Checkpoint, error) {
	signed, err := lc.checkpoint(ctx)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: %w", ErrLog, err)
	}
	return VerifyCheckpoint(v.Policy, signed, v.now())
}

// Fetch gathers from the log a bundle for each target: the verified
// checkpoint (made consistent with State-Dir), every statement the log
// lists for the target with its inclusion proof, and the records of the
// trusted builders. Tiles are read once for all targets.
func (v *Verifier) Fetch(ctx context.Context, targets []Target) ([]*proofs.Bundle, error) {
	bundles, _, _, err := v.fetch(ctx, targets)
	if perr := v.Policy.Wait(); perr != nil {
		return nil, perr
	}
	return bundles, err
}

// fetch is Fetch, also returning the bundles' checkpoint, verified, and
// the records already checked.
//
// Requests that do not depend on each other go out together: the lookups
// with the checkpoint's request, and the tiles and records of the
// decision while the checkpoint is proven consistent with the kept one
// (the prover shares the tiles both need). Should State-Dir keep a newer
// checkpoint than the log served, the entries are proven again against it.
func (v *Verifier) fetch(ctx context.Context, targets []Target) ([]*proofs.Bundle, Checkpoint, *proofs.Checked, error) {
	lc, err := newLogClient(v.Policy)
	if err != nil {
		return nil, Checkpoint{}, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lookups := lookupAll(ctx, lc, targets)
	prover := proofs.NewProver(lc.tiles)
	checked := &proofs.Checked{}
	cp, err := v.fetchCheckpoint(ctx, lc)
	if err != nil {
		return nil, Checkpoint{}, nil, err
	}
	type fetched struct {
		perTarget [][]int64
		entries   []proofs.Entry
		err       error
	}
	fetchAt := func(cp Checkpoint) (f fetched) {
		if f.perTarget, f.err = lookups(cp.Size); f.err == nil {
			f.entries, f.err = v.entries(ctx, lc, prover, cp, slices.Concat(f.perTarget...), checked)
		}
		return f
	}
	done := make(chan fetched, 1)
	go func() { done <- fetchAt(cp) }()
	kept, err := v.advance(ctx, prover, cp)
	if err != nil {
		cancel()
		<-done
		return nil, Checkpoint{}, nil, err
	}
	f := <-done
	if kept.Note != cp.Note {
		f = fetchAt(kept)
	}
	if f.err != nil {
		return nil, Checkpoint{}, nil, f.err
	}
	bundles := make([]*proofs.Bundle, len(targets))
	for i, t := range targets {
		b := &proofs.Bundle{Package: t.Package, Version: buildinfo.StripEpoch(t.Version), Arch: t.Arch,
			Checkpoint: []byte(kept.Note)}
		for _, e := range f.entries {
			if slices.Contains(f.perTarget[i], e.Index) {
				b.Entries = append(b.Entries, e)
			}
		}
		bundles[i] = b
	}
	return bundles, kept, checked, nil
}

// lookupAll sends the lookups of targets at once, as of the size the
// log's index has reached. The function it returns waits for their
// answers and gives each target's indices below size, asking again as of
// size where the index answered as of less.
func lookupAll(ctx context.Context, lc *logClient, targets []Target) func(size int64) ([][]int64, error) {
	answers := make([]lookupAnswer, len(targets))
	var sent error
	done := make(chan struct{})
	go func() {
		sent = parallel(ctx, len(targets), func(ctx context.Context, i int) (err error) {
			t := targets[i]
			answers[i], err = lc.lookup(ctx, t.Package, t.Version, t.Arch, 0)
			return err
		})
		close(done)
	}()
	return func(size int64) ([][]int64, error) {
		<-done
		if sent != nil {
			return nil, fmt.Errorf("%w: %w", ErrLog, sent)
		}
		out := make([][]int64, len(targets))
		err := parallel(ctx, len(targets), func(ctx context.Context, i int) error {
			a := answers[i]
			if a.size < size {
				t := targets[i]
				var err error
				if a, err = lc.lookup(ctx, t.Package, t.Version, t.Arch, size); err != nil {
					return err
				}
			}
			out[i] = a.below(size)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrLog, err)
		}
		return out, nil
	}
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
