package client

import (
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// ErrLog is wrapped by every error that means the log, a witness or an
// offline bundle failed verification, or the log could not be reached: a
// bad signature, a missing quorum, a stale checkpoint, a bad proof, an
// inconsistency, a record that does not check, a timeout.
var ErrLog = errors.New("log verification failed")

// Checkpoint is a verified checkpoint, as a decision records it.
type Checkpoint struct {
	Origin string `json:"origin"`
	Size   int64  `json:"size"`
	Hash   string `json:"hash"` // base64, as in the checkpoint
	// Witnessed is the time of the quorum's oldest cosignature; zero when
	// the policy names no witnesses.
	Witnessed time.Time `json:"witnessed,omitzero"`
	// Note is the signed checkpoint, verbatim, cosignatures included.
	Note string `json:"note"`
}

// Tree returns the tree the checkpoint commits to.
func (c Checkpoint) Tree() tlog.Tree {
	h, _ := base64.StdEncoding.DecodeString(c.Hash)
	var t tlog.Tree
	t.N = c.Size
	copy(t.Hash[:], h)
	return t
}

// VerifyCheckpoint checks a signed checkpoint against the policy: it must
// be signed by the log's key with that key's name as its origin and, when
// the policy names witnesses, carry their quorum's cosignatures, the oldest
// of them at most MaxAge before now. Errors wrap ErrLog.
func VerifyCheckpoint(p *Policy, signed []byte, now time.Time) (Checkpoint, error) {
	c, err := verifyCheckpoint(p, signed, now)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint: %w", ErrLog, err)
	}
	return c, nil
}

func verifyCheckpoint(p *Policy, signed []byte, now time.Time) (Checkpoint, error) {
	if p.Witnesses == nil {
		n, err := note.Open(signed, note.VerifierList(p.Log))
		if err != nil {
			return Checkpoint{}, fmt.Errorf("not signed by the log key %s: %w", p.Log.Name(), err)
		}
		c, err := torchwood.ParseCheckpoint(n.Text)
		if err != nil {
			return Checkpoint{}, err
		}
		if c.Origin != p.Log.Name() {
			return Checkpoint{}, fmt.Errorf("origin %q is not the log key's name %q", c.Origin, p.Log.Name())
		}
		return checkpointOf(c, signed, time.Time{}), nil
	}
	w, err := p.Witnesses.Verify(signed, p.Log)
	if err != nil {
		return Checkpoint{}, err
	}
	if p.MaxAge > 0 {
		if w.Oldest.IsZero() {
			return Checkpoint{}, fmt.Errorf("Max-Age needs witness cosignatures, and the witness policy requires none")
		}
		if age := now.Sub(w.Oldest); age > p.MaxAge {
			return Checkpoint{}, fmt.Errorf("stale: the witness quorum cosigned it %s ago (at %s), more than Max-Age %s: "+
				"the log or a mirror may be serving a frozen or replayed view, which could hide newer entries (such as a dissent)",
				age.Round(time.Second), w.Oldest.UTC().Format(time.RFC3339), p.MaxAge)
		}
	}
	return checkpointOf(w.Checkpoint, signed, w.Oldest), nil
}

func checkpointOf(c torchwood.Checkpoint, signed []byte, witnessed time.Time) Checkpoint {
	return Checkpoint{Origin: c.Origin, Size: c.N, Hash: base64.StdEncoding.EncodeToString(c.Hash[:]),
		Witnessed: witnessed, Note: string(signed)}
}
