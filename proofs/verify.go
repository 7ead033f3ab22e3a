package proofs

import (
	"fmt"
	"runtime"
	"sync"

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
	return b.VerifyChecked(tree, keys, nil)
}

// VerifyChecked is Verify, except that a record that checked already
// accepted for the same statement and key is not checked again; checked
// may be nil.
func (b *Bundle) VerifyChecked(tree tlog.Tree, keys Keys, checked *Checked) ([]Verified, error) {
	out := make([]Verified, len(b.Entries))
	check := make([]*pgp.Key, len(b.Entries))
	for i, e := range b.Entries {
		p := Proof{Index: e.Index, Hashes: e.Proof}
		if err := p.Check(tree, e.Statement); err != nil {
			return nil, err
		}
		s, err := statement.Parse(e.Statement)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", e.Index, err)
		}
		out[i] = Verified{Index: e.Index, Statement: s}
		if key := keys(s.Builder); key != nil {
			if e.Record == nil {
				return nil, fmt.Errorf("%w: entry %d: the record of trusted builder %s is missing",
					ErrRecord, e.Index, s.Builder)
			}
			if checked.accepted(s, e.Record, key) {
				out[i].RecordChecked = true
				continue
			}
			check[i] = key
		}
	}
	// Checking the records (signatures, parsing, derivation) is the costly
	// part: it runs on every core. The first failure in index order is
	// reported.
	errs := make([]error, len(b.Entries))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, key := range check {
		if key == nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = CheckRecord(out[i].Statement, b.Entries[i].Record, key)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", b.Entries[i].Index, err)
		}
		if check[i] != nil {
			out[i].RecordChecked = true
		}
	}
	return out, nil
}
