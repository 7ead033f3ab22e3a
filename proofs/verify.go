package proofs

import (
	"fmt"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprolog/reprolog/pgp"
	"github.com/reprolog/reprolog/statement"
)

// Verified is a statement proven to be in the log.
type Verified struct {
	Index     int64
	Statement *statement.Statement
	// RecordChecked reports whether the statement's record was checked
	// with its builder's key: true for every builder the caller trusts.
	RecordChecked bool
}

// Keys returns the key of a builder the caller trusts, or nil.
type Keys func(fingerprint string) *pgp.Key

// Verify checks every entry of b against tree, the tree that b.Checkpoint
// commits to (the caller verifies the checkpoint's signatures and parses
// it): each statement must be canonical and proven at its index, and for
// each statement whose builder keys knows, the bundle must carry the record
// and CheckRecord must accept it. Statements of other builders are returned
// unchecked beyond their inclusion, with RecordChecked false.
func (b *Bundle) Verify(tree tlog.Tree, keys Keys) ([]Verified, error) {
	out := make([]Verified, 0, len(b.Entries))
	for _, e := range b.Entries {
		p := Proof{Index: e.Index, Hashes: e.Proof}
		if err := p.Check(tree, e.Statement); err != nil {
			return nil, err
		}
		s, err := statement.Parse(e.Statement)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", e.Index, err)
		}
		v := Verified{Index: e.Index, Statement: s}
		if key := keys(s.Builder); key != nil {
			if e.Record == nil {
				return nil, fmt.Errorf("%w: entry %d: the record of trusted builder %s is missing",
					ErrRecord, e.Index, s.Builder)
			}
			if err := CheckRecord(s, e.Record, key); err != nil {
				return nil, fmt.Errorf("entry %d: %w", e.Index, err)
			}
			v.RecordChecked = true
		}
		out = append(out, v)
	}
	return out, nil
}
