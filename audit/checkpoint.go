package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// openCheckpoint checks that signed is a checkpoint (c2sp.org/tlog-checkpoint)
// signed by the log's key, whose origin is the key's name.
func openCheckpoint(signed []byte, v note.Verifier) (tlog.Tree, error) {
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return tlog.Tree{}, fmt.Errorf("not signed by the log's key: %v", err)
	}
	c, err := torchwood.ParseCheckpoint(n.Text)
	if err != nil {
		return tlog.Tree{}, fmt.Errorf("not a checkpoint: %v", err)
	}
	if c.Origin != v.Name() {
		return tlog.Tree{}, fmt.Errorf("origin %q is not the log's %q", c.Origin, v.Name())
	}
	return c.Tree, nil
}

// fetchError marks a tile the log did not serve, as opposed to one it
// served with the wrong contents.
type fetchError struct{ err error }

func (e *fetchError) Error() string { return e.err.Error() }
func (e *fetchError) Unwrap() error { return e.err }

// tileReader tells fetch errors apart from bad tiles.
type tileReader struct{ torchwood.TileReader }

func (t tileReader) ReadTiles(ctx context.Context, tiles []tlog.Tile) ([][]byte, error) {
	data, err := t.TileReader.ReadTiles(ctx, tiles)
	if err != nil {
		return nil, &fetchError{err}
	}
	return data, nil
}

// operational reports whether err is a failure to fetch (or a
// cancellation) rather than something the log served.
func operational(ctx context.Context, err error) bool {
	var fe *fetchError
	return ctx.Err() != nil || errors.As(err, &fe)
}

// verdict is what verifyCheckpoint decided: the tree to read entries
// against (the log's newest, or the one held before when the newest is
// refused) and its signed checkpoint, findings about the log, and why a
// checkpoint that is not the log's fault was not used.
type verdict struct {
	tree   tlog.Tree
	signed []byte
	found  []keyed
	unused error
}

// verifyCheckpoint fetches the log's checkpoint and decides whether the
// audit moves to it.
func (a *Auditor) verifyCheckpoint(ctx context.Context, held head, haveHead bool) (verdict, error) {
	old := tlog.Tree{N: held.Size}
	copy(old.Hash[:], held.Hash)
	stay := verdict{tree: old, signed: held.Signed}
	signed, err := a.api.get(ctx, "/checkpoint", maxCheckpointSize)
	if err != nil {
		return stay, fmt.Errorf("fetching the checkpoint: %w", err)
	}
	sum := sha256.Sum256(signed)
	id := hex.EncodeToString(sum[:])
	misbehaviour := func(problem, detail string, proof tlog.TreeProof) verdict {
		f := Finding{Kind: LogMisbehaviour, Problem: problem, Detail: detail,
			Summary: fmt.Sprintf("the log served a bad checkpoint (%s): %s", problem, detail)}
		if haveHead {
			f.Checkpoints = []string{string(held.Signed), string(signed)}
		} else {
			f.Checkpoints = []string{string(signed)}
		}
		for _, h := range proof {
			f.Proof = append(f.Proof, h.String())
		}
		v := stay
		v.found = []keyed{{key: "checkpoint " + problem + " " + id, f: f}}
		return v
	}

	tree, err := openCheckpoint(signed, a.verifier)
	if err != nil {
		return misbehaviour(ProblemCheckpointSignature, err.Error(), nil), nil
	}
	// The log's signature alone binds it: an inconsistency is found before
	// the quorum decides whether the audit moves to this checkpoint.
	next := verdict{tree: tree, signed: signed}
	if a.cfg.Quorum != nil {
		next = a.quorum(stay, tree, signed)
	}
	switch {
	case !haveHead:
		return next, nil
	case tree.N == old.N && tree.Hash == old.Hash:
		return stay, nil
	case tree.N == old.N:
		return misbehaviour(ProblemCheckpointInconsistent,
			fmt.Sprintf("two trees of size %d with different hashes", tree.N), nil), nil
	case tree.N < old.N:
		// A smaller tree: is it at least a prefix of the one held?
		proof, err := tlog.ProveTree(old.N, tree.N, torchwood.TileHashReaderWithContext(ctx, old, tileReader{a.tiles}))
		if err != nil && operational(ctx, err) {
			return stay, fmt.Errorf("proving checkpoint %d consistent with %d: %w", tree.N, old.N, err)
		}
		if err == nil && tlog.CheckTree(proof, old.N, old.Hash, tree.N, tree.Hash) == nil {
			return misbehaviour(ProblemCheckpointBackwards,
				fmt.Sprintf("a tree of size %d after one of size %d", tree.N, old.N), nil), nil
		}
		return misbehaviour(ProblemCheckpointInconsistent,
			fmt.Sprintf("a tree of size %d that is not a prefix of the one of size %d", tree.N, old.N), proof), nil
	}
	proof, err := tlog.ProveTree(tree.N, old.N, torchwood.TileHashReaderWithContext(ctx, tree, tileReader{a.tiles}))
	if err != nil {
		if operational(ctx, err) {
			return stay, fmt.Errorf("proving checkpoint %d consistent with %d: %w", tree.N, old.N, err)
		}
		return misbehaviour(ProblemCheckpointInconsistent,
			fmt.Sprintf("the log's tiles do not prove the tree of size %d consistent with the one of size %d: %v", tree.N, old.N, err), nil), nil
	}
	if err := tlog.CheckTree(proof, tree.N, tree.Hash, old.N, old.Hash); err != nil {
		return misbehaviour(ProblemCheckpointInconsistent,
			fmt.Sprintf("the tree of size %d does not extend the one of size %d", tree.N, old.N), proof), nil
	}
	return next, nil
}

// quorum returns the verdict to move to tree, or, when cfg.Quorum refuses
// its checkpoint, to stay (not a finding: witnesses may not have cosigned
// it yet).
func (a *Auditor) quorum(stay verdict, tree tlog.Tree, signed []byte) verdict {
	if err := a.cfg.Quorum(signed); err != nil {
		a.log.Warn("checkpoint not used yet", "size", tree.N, "error", err)
		stay.unused = fmt.Errorf("checkpoint of size %d not used: %w", tree.N, err)
		return stay
	}
	return verdict{tree: tree, signed: signed}
}
