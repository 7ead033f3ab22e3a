// Package proofs builds and checks the proofs behind a reprolog decision:
// that each statement is in the log (C2SP tlog-proof inclusion proofs
// against a checkpoint), that a newer checkpoint extends an older one, and
// that a statement is the one its record derives. It also defines the
// offline bundle (BUNDLE.md), which carries all of these for one binary
// package so that a decision can be made with no network.
//
// A Prover reads a tlog-tiles log through a torchwood.TileReader and reads
// each tile once; a Bundle is checked against the tree its checkpoint
// commits to:
//
//	entries, err := proofs.NewProver(fetcher).Entries(ctx, tree, indices)
//	...
//	verified, err := bundle.Verify(tree, keys)
//
// Merkle work is done by golang.org/x/mod/sumdb/tlog and
// filippo.io/torchwood; signatures by the pgp package.
package proofs
