package proofs

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/tlog"
)

// Prover reads entries and proofs from a tlog-tiles log. It keeps every
// tile it reads in memory, so that proving many entries, or an entry and a
// consistency, fetches each tile once. Tiles are authenticated against the
// tree each time they are used, never when they are cached.
type Prover struct {
	tr    torchwood.TileReader
	mu    sync.Mutex
	tiles map[tlog.Tile][]byte
}

// NewProver returns a Prover that reads tiles through tr, typically a
// torchwood.TileFetcher.
func NewProver(tr torchwood.TileReader) *Prover {
	return &Prover{tr: tr, tiles: map[tlog.Tile][]byte{}}
}

// ReadTiles implements torchwood.TileReader, reading each tile once.
func (p *Prover) ReadTiles(ctx context.Context, tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	var missing []tlog.Tile
	p.mu.Lock()
	for i, t := range tiles {
		if d, ok := p.tiles[t]; ok {
			data[i] = d
		} else if !slices.Contains(missing, t) {
			missing = append(missing, t)
		}
	}
	p.mu.Unlock()
	if len(missing) > 0 {
		got, err := p.tr.ReadTiles(ctx, missing)
		if err != nil {
			return nil, err
		}
		if len(got) != len(missing) {
			return nil, fmt.Errorf("tile reader returned %d tiles for %d", len(got), len(missing))
		}
		p.mu.Lock()
		for i, t := range missing {
			p.tiles[t] = got[i]
		}
		for i, t := range tiles {
			data[i] = p.tiles[t]
		}
		p.mu.Unlock()
	}
	return data, nil
}

// SaveTiles implements torchwood.TileReader.
func (p *Prover) SaveTiles(tiles []tlog.Tile, data [][]byte) { p.tr.SaveTiles(tiles, data) }

// ReadEndpoint implements torchwood.TileReader.
func (p *Prover) ReadEndpoint(ctx context.Context, path string) ([]byte, error) {
	return p.tr.ReadEndpoint(ctx, path)
}

// Entries returns the entries at indices (each below tree.N) with their
// inclusion proofs in tree, checked, in increasing index order and without
// repeats. The tiles of all entries and proofs are fetched together first,
// in two batches (entries, then hashes).
func (p *Prover) Entries(ctx context.Context, tree tlog.Tree, indices []int64) ([]Entry, error) {
	indices = slices.Compact(slices.Sorted(slices.Values(indices)))
	var data []tlog.Tile
	for _, i := range indices {
		if i < 0 || i >= tree.N {
			return nil, fmt.Errorf("proofs: index %d is not in a tree of size %d", i, tree.N)
		}
		t := tlog.Tile{H: torchwood.TileHeight, L: -1, N: i / torchwood.TileWidth}
		t.W = int(min(torchwood.TileWidth, tree.N-t.N*torchwood.TileWidth))
		if !slices.Contains(data, t) {
			data = append(data, t)
		}
	}
	if _, err := p.ReadTiles(ctx, data); err != nil {
		return nil, fmt.Errorf("proofs: reading entry tiles: %w", err)
	}
	// Learn which stored hashes the proofs need (ProveRecord only reads
	// them), then read them in one call: one batch of tiles, each checked
	// against tree.
	var need []int64
	record := tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
		need = append(need, ix...)
		return make([]tlog.Hash, len(ix)), nil
	})
	for _, i := range indices {
		if _, err := tlog.ProveRecord(tree.N, i, record); err != nil {
			return nil, fmt.Errorf("proofs: %w", err)
		}
	}
	// The stored hashes come from tiles checked against tree, once; every
	// proof is then built from them, and checked with its entry.
	known := map[int64]tlog.Hash{}
	if len(need) > 0 {
		need = slices.Compact(slices.Sorted(slices.Values(need)))
		hashes, err := torchwood.TileHashReaderWithContext(ctx, tree, p).ReadHashes(need)
		if err != nil {
			return nil, fmt.Errorf("proofs: reading hash tiles: %w", err)
		}
		for k, ix := range need {
			known[ix] = hashes[k]
		}
	}
	stored := tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(ix))
		for k, x := range ix {
			h, ok := known[x]
			if !ok {
				return nil, fmt.Errorf("hash %d was not read", x)
			}
			out[k] = h
		}
		return out, nil
	})
	entries := make([]Entry, 0, len(indices))
	for _, i := range indices {
		entry, err := p.entry(tree, i)
		if err != nil {
			return nil, err
		}
		proof, err := tlog.ProveRecord(tree.N, i, stored)
		if err != nil {
			return nil, fmt.Errorf("proofs: %w", err)
		}
		if err := tlog.CheckRecord(proof, tree.N, tree.Hash, i, tlog.RecordHash(entry)); err != nil {
			return nil, fmt.Errorf("%w: entry %d is not in the tree: %v", ErrInclusion, i, err)
		}
		entries = append(entries, Entry{Index: i, Proof: proof, Statement: entry})
	}
	return entries, nil
}

// entry cuts entry i out of its entry tile, read by Entries.
func (p *Prover) entry(tree tlog.Tree, i int64) ([]byte, error) {
	t := tlog.Tile{H: torchwood.TileHeight, L: -1, N: i / torchwood.TileWidth}
	t.W = int(min(torchwood.TileWidth, tree.N-t.N*torchwood.TileWidth))
	p.mu.Lock()
	rest, ok := p.tiles[t]
	p.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("proofs: entry tile %d was not read", t.N)
	}
	for k := int64(0); ; k++ {
		entry, next, err := torchwood.ReadTileEntry(rest)
		if err != nil {
			return nil, fmt.Errorf("proofs: entry tile %d: %w", t.N, err)
		}
		if k == i%torchwood.TileWidth {
			return entry, nil
		}
		rest = next
	}
}

// Consistency proves that tree contains old as a prefix, and checks the
// proof. An empty old tree is a prefix of every tree. The error wraps
// ErrInclusion only when the proof, built from tiles that hash to tree,
// shows that old is not a prefix of tree: then the two trees are evidence
// of a fork.
func (p *Prover) Consistency(ctx context.Context, tree, old tlog.Tree) (tlog.TreeProof, error) {
	if old.N > tree.N {
		return nil, fmt.Errorf("proofs: the old tree (size %d) is larger than the new one (size %d)", old.N, tree.N)
	}
	if old.N == 0 {
		return tlog.TreeProof{}, nil
	}
	proof, err := tlog.ProveTree(tree.N, old.N, torchwood.TileHashReaderWithContext(ctx, tree, p))
	if err != nil {
		return nil, fmt.Errorf("proofs: proving size %d consistent with size %d: %w", tree.N, old.N, err)
	}
	if err := tlog.CheckTree(proof, tree.N, tree.Hash, old.N, old.Hash); err != nil {
		return nil, fmt.Errorf("%w: tree of size %d is not consistent with tree of size %d: %v",
			ErrInclusion, tree.N, old.N, err)
	}
	return proof, nil
}
