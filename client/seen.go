package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/reprolog/reprolog/proofs"
)

// advance proves the log's checkpoint cp consistent with the one kept in
// State-Dir, keeps the newer of the two, and returns it.
func (v *Verifier) advance(ctx context.Context, prover *proofs.Prover, cp Checkpoint) (Checkpoint, error) {
	st, err := OpenState(v.Policy.StateDir)
	if err != nil {
		return Checkpoint{}, err
	}
	if v.locking != nil {
		v.locking()
	}
	unlock, err := st.Lock()
	if err != nil {
		return Checkpoint{}, err
	}
	defer unlock()
	seenSigned, err := st.Checkpoint()
	if err != nil {
		return Checkpoint{}, err
	}
	if v.stall != nil {
		v.stall()
	}
	if seenSigned == nil {
		return cp, st.Store([]byte(cp.Note))
	}
	seen, err := v.seen(seenSigned)
	if err != nil {
		return Checkpoint{}, err
	}
	older, newer := seen, cp
	if seen.Size > cp.Size {
		older, newer = cp, seen
	}
	pctx, cancel := context.WithTimeout(ctx, v.Policy.Timeout)
	_, err = prover.Consistency(pctx, newer.Tree(), older.Tree())
	cancel()
	if errors.Is(err, proofs.ErrInclusion) {
		return Checkpoint{}, st.Fork(seenSigned, []byte(cp.Note), err)
	} else if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: %w", ErrLog, err)
	}
	if newer.Note == seen.Note {
		// The log served an older view: decide against the newer one this
		// machine already holds, if it is still fresh.
		return VerifyCheckpoint(v.Policy, seenSigned, v.now())
	}
	return cp, st.Store([]byte(cp.Note))
}

// seen opens the kept checkpoint: it must be signed by the log.
func (v *Verifier) seen(signed []byte) (Checkpoint, error) {
	p := *v.Policy
	p.Witnesses = nil // checked when it was kept; only its signature is needed here
	cp, err := VerifyCheckpoint(&p, signed, v.now())
	if err != nil {
		return Checkpoint{}, fmt.Errorf("the checkpoint kept in %s: %w", v.Policy.StateDir, err)
	}
	return cp, nil
}

// checkOffline compares a bundle's checkpoint with the one kept in
// State-Dir, which offline cannot be proven consistent with it unless both
// have the same size. A bundle of the same size must be the same tree. A
// smaller one is stale when the policy names no witnesses: then nothing
// else bounds how old the view it shows may be (with witnesses, Max-Age
// does). It creates nothing in State-Dir but fork evidence.
func (v *Verifier) checkOffline(signed []byte) error {
	st := &State{dir: v.Policy.StateDir}
	seenSigned, err := st.Checkpoint()
	if err != nil || seenSigned == nil {
		return err
	}
	seen, err := v.seen(seenSigned)
	if err != nil {
		return err
	}
	cp, err := VerifyCheckpoint(v.Policy, signed, v.now())
	if err != nil {
		return err
	}
	switch {
	case cp.Size == seen.Size && cp.Hash != seen.Hash:
		unlock, err := st.Lock()
		if err != nil {
			return err
		}
		defer unlock()
		return st.Fork(seenSigned, signed, fmt.Errorf("two trees of size %d with different roots", cp.Size))
	case cp.Size < seen.Size && v.Policy.Witnesses == nil:
		return fmt.Errorf("%w: stale: the bundle's checkpoint (size %d) is older than the one this machine has seen (size %d); "+
			"the policy names no witnesses, so nothing else bounds how old an offline view may be, and an older one could "+
			"hide newer entries (such as a dissent): make a new bundle with \"reprolog proof\"", ErrLog, cp.Size, seen.Size)
	}
	return nil
}
