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
// consistency, fetches each tile once, also when they are proven at the
// same time. Tiles are authenticated against the tree each time they are
// used, never when they are cached.
type Prover struct {
	tr    torchwood.TileReader
	mu    sync.Mutex
	tiles map[tlog.Tile]*tileRead
}

// tileRead is a tile read or being read: done is closed once data or err
// is set.
type tileRead struct {
	done chan struct{}
	data []byte
	err  error
	// abandoned is set when the read failed because its caller's context
	// ended: another caller waiting for the tile reads it again.
	abandoned bool
}

// NewProver returns a Prover that reads tiles through tr, typically a
// torchwood.TileFetcher.
func NewProver(tr torchwood.TileReader) *Prover {
	return &Prover{tr: tr, tiles: map[tlog.Tile]*tileRead{}}
}

// ReadTiles implements torchwood.TileReader, reading each tile once: a
// tile that another call is reading is waited for. A failed read is
// forgotten, so that a later call reads the tile again; a read its caller
// gave up on is made again by the calls waiting for it.
func (p *Prover) ReadTiles(ctx context.Context, tiles []tlog.Tile) ([][]byte, error) {
	reads := make([]*tileRead, len(tiles))
	var missing []tlog.Tile
	var mine []*tileRead
	p.mu.Lock()
	for i, t := range tiles {
		r, ok := p.tiles[t]
		if !ok {
			r = &tileRead{done: make(chan struct{})}
			p.tiles[t] = r
			missing, mine = append(missing, t), append(mine, r)
		}
		reads[i] = r
	}
	p.mu.Unlock()
	if len(missing) > 0 {
		got, err := p.tr.ReadTiles(ctx, missing)
		if err == nil && len(got) != len(missing) {
			err = fmt.Errorf("tile reader returned %d tiles for %d", len(got), len(missing))
		}
		p.mu.Lock()
		for i, r := range mine {
			if err != nil {
				r.err, r.abandoned = err, ctx.Err() != nil
				delete(p.tiles, missing[i])
			} else {
				r.data = got[i]
			}
			close(r.done)
		}
		p.mu.Unlock()
	}
	data := make([][]byte, len(tiles))
	for i, r := range reads {
		select {
		case <-r.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		switch {
		case r.err != nil && r.abandoned && ctx.Err() == nil:
			again, err := p.ReadTiles(ctx, tiles[i:i+1])
			if err != nil {
				return nil, err
			}
			data[i] = again[0]
		case r.err != nil:
			return nil, r.err
		default:
			data[i] = r.data
		}
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
// repeats. The entry tiles and the hash tiles of all proofs are read at the
// same time, in one batch each.
func (p *Prover) Entries(ctx context.Context, tree tlog.Tree, indices []int64) ([]Entry, error) {
	indices = slices.Compact(slices.Sorted(slices.Values(indices)))
	data, err := entryTiles(tree, indices)
	if err != nil {
		return nil, err
	}
	// Learn which stored hashes the proofs need (ProveRecord only reads
	// them): no tile is needed for that.
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
	var tiles [][]byte
	var tilesErr error
	var wg sync.WaitGroup
	wg.Go(func() { tiles, tilesErr = p.ReadTiles(ctx, data) })
	known, err := p.hashes(ctx, tree, need)
	wg.Wait()
	if tilesErr != nil {
		return nil, fmt.Errorf("proofs: reading entry tiles: %w", tilesErr)
	}
	if err != nil {
		return nil, err
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
		entry, err := entryIn(tiles[slices.Index(data, entryTile(tree, i))], i)
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

// Statements returns the entries at indices (each below tree.N) as the
// log's entry tiles hold them, in the order of indices, not proven:
// Entries proves them. Called at the same time as Entries, it lets a
// caller act on the entries before their proofs are built; the tiles are
// read once for both.
func (p *Prover) Statements(ctx context.Context, tree tlog.Tree, indices []int64) ([][]byte, error) {
	data, err := entryTiles(tree, indices)
	if err != nil {
		return nil, err
	}
	tiles, err := p.ReadTiles(ctx, data)
	if err != nil {
		return nil, fmt.Errorf("proofs: reading entry tiles: %w", err)
	}
	out := make([][]byte, len(indices))
	for k, i := range indices {
		if out[k], err = entryIn(tiles[slices.Index(data, entryTile(tree, i))], i); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// hashes reads the stored hashes at indices from tiles checked against
// tree, in one batch.
func (p *Prover) hashes(ctx context.Context, tree tlog.Tree, indices []int64) (map[int64]tlog.Hash, error) {
	known := map[int64]tlog.Hash{}
	if len(indices) == 0 {
		return known, nil
	}
	indices = slices.Compact(slices.Sorted(slices.Values(indices)))
	hashes, err := torchwood.TileHashReaderWithContext(ctx, tree, p).ReadHashes(indices)
	if err != nil {
		return nil, fmt.Errorf("proofs: reading hash tiles: %w", err)
	}
	for k, ix := range indices {
		known[ix] = hashes[k]
	}
	return known, nil
}

// entryTiles lists the entry tiles of tree that hold the entries at
// indices, each once.
func entryTiles(tree tlog.Tree, indices []int64) ([]tlog.Tile, error) {
	var data []tlog.Tile
	for _, i := range indices {
		if i < 0 || i >= tree.N {
			return nil, fmt.Errorf("proofs: index %d is not in a tree of size %d", i, tree.N)
		}
		if t := entryTile(tree, i); !slices.Contains(data, t) {
			data = append(data, t)
		}
	}
	return data, nil
}

// entryTile is the entry tile of tree that holds entry i.
func entryTile(tree tlog.Tree, i int64) tlog.Tile {
	t := tlog.Tile{H: torchwood.TileHeight, L: -1, N: i / torchwood.TileWidth}
	t.W = int(min(torchwood.TileWidth, tree.N-t.N*torchwood.TileWidth))
	return t
}

// entryIn cuts entry i out of its entry tile.
func entryIn(rest []byte, i int64) ([]byte, error) {
	for k := int64(0); ; k++ {
		entry, next, err := torchwood.ReadTileEntry(rest)
		if err != nil {
			return nil, fmt.Errorf("proofs: entry tile %d: %w", i/torchwood.TileWidth, err)
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
