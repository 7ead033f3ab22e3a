package client

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/reprolog/reprolog/proofs"
)

// advance proves the log's checkpoint cp consistent with the one kept in
// State-Dir, keeps the newer of the two, and returns it. When the log does
// not prove them consistent, for a reason other than not answering, both
// are kept as evidence and the error is a ForkError.
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
	if string(seenSigned) == cp.Note {
		// The log serves the checkpoint kept, which cp verified.
		return cp, nil
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
	switch {
	case err == nil:
	case unreachable(err):
		return Checkpoint{}, fmt.Errorf("%w: %w", ErrLog, err)
	default:
		// Two validly signed checkpoints that the log proves inconsistent,
		// or cannot prove consistent in the only direction their sizes
		// allow: tiles missing, or not hashing to the larger tree (as when
		// a fork serves a smaller checkpoint with its own tiles).
		return Checkpoint{}, st.Fork(&ForkError{Old: seenSigned, New: []byte(cp.Note),
			Proven: errors.Is(err, proofs.ErrInclusion), Err: err})
	}
	if newer.Note == seen.Note {
		// The log served an older view: decide against the newer one this
		// machine already holds, if it is still fresh.
		return VerifyCheckpoint(v.Policy, seenSigned, v.now())
	}
	return cp, st.Store([]byte(cp.Note))
}

// unreachable reports whether err means the log could not be reached or
// did not answer in time, which proves nothing about its history.
func unreachable(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// seen opens the kept checkpoint: it must be signed by the log.
func (v *Verifier) seen(signed []byte) (Checkpoint, error) {
	// Its witnesses were checked when it was kept; only the log's
	// signature is needed here.
	cp, err := VerifyCheckpoint(&Policy{Log: v.Policy.Log}, signed, v.now())
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
		return st.Fork(&ForkError{Old: seenSigned, New: signed, Proven: true,
			Err: fmt.Errorf("two trees of size %d with different roots", cp.Size)})
	case cp.Size < seen.Size && v.Policy.Witnesses == nil:
		return fmt.Errorf("%w: stale: the bundle's checkpoint (size %d) is older than the one this machine has seen (size %d); "+
			"the policy names no witnesses, so nothing else bounds how old an offline view may be, and an older one could "+
			"hide newer entries (such as a dissent): make a new bundle with \"reprolog proof\"", ErrLog, cp.Size, seen.Size)
	}
	return nil
}
