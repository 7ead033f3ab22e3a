package proofs_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprolog/reprolog/proofs"
	"github.com/reprolog/reprolog/proofs/prooftest"
)

func TestProverReadsEachTileOnce(t *testing.T) {
	f := newFixture(t)
	before := f.log.Reads()
	p := proofs.NewProver(f.log)
	ctx := context.Background()
	if _, err := p.Entries(ctx, f.tree, []int64{299, 5, 257, 5, 6, 7, 258}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Entries(ctx, f.tree, []int64{8}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Consistency(ctx, f.tree, tlog.Tree{N: 0}); err != nil {
		t.Fatal(err)
	}
	total := 0
	for tile, n := range f.log.Reads() {
		total += n - before[tile]
		if n-before[tile] > 1 {
			t.Errorf("tile %+v read %d times", tile, n-before[tile])
		}
	}
	if total == 0 {
		t.Fatal("the prover read no tiles")
	}
}

// TestProverReadsEachTileOnceConcurrently proves entries and a
// consistency, and reads entries unproven, at the same time, as a decision
// does: tiles that several need are read once.
func TestProverReadsEachTileOnceConcurrently(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	old, err := tlog.TreeHash(3, torchwood.TileHashReaderWithContext(ctx, f.tree, f.log))
	if err != nil {
		t.Fatal(err)
	}
	before := f.log.Reads()
	p := proofs.NewProver(f.log)
	var wg sync.WaitGroup
	for _, indices := range [][]int64{{299, 5}, {257, 5, 258}, {8}} {
		wg.Go(func() {
			if _, err := p.Entries(ctx, f.tree, indices); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Go(func() {
		if _, err := p.Consistency(ctx, f.tree, tlog.Tree{N: 3, Hash: old}); err != nil {
			t.Error(err)
		}
	})
	var statements [][]byte
	wg.Go(func() {
		var err error
		if statements, err = p.Statements(ctx, f.tree, []int64{299, 5}); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()
	proven, err := p.Entries(ctx, f.tree, []int64{5, 299})
	if err != nil {
		t.Fatal(err)
	}
	if len(statements) != 2 || !bytes.Equal(statements[0], proven[1].Statement) || !bytes.Equal(statements[1], proven[0].Statement) {
		t.Error("Statements does not return the entries Entries proves, in the order asked")
	}
	for tile, n := range f.log.Reads() {
		if n-before[tile] > 1 {
			t.Errorf("tile %+v read %d times", tile, n-before[tile])
		}
	}
}

// batches counts the calls that reach a tile reader.
type batches struct {
	*prooftest.Log
	calls atomic.Int64
}

func (b *batches) ReadTiles(ctx context.Context, tiles []tlog.Tile) ([][]byte, error) {
	b.calls.Add(1)
	return b.Log.ReadTiles(ctx, tiles)
}

func TestProverBatches(t *testing.T) {
	f := newFixture(t)
	b := &batches{Log: f.log}
	if _, err := proofs.NewProver(b).Entries(context.Background(), f.tree, []int64{299, 5, 257, 6, 100}); err != nil {
		t.Fatal(err)
	}
	if b.calls.Load() != 2 {
		t.Errorf("proving five entries in two tiles took %d batches of tile reads, want 2", b.calls.Load())
	}
}

func TestProverEntries(t *testing.T) {
	f := newFixture(t)
	got, err := proofs.NewProver(f.log).Entries(context.Background(), f.tree, []int64{257, 5, 257})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Index != 5 || got[1].Index != 257 {
		t.Fatalf("Entries returned %d entries", len(got))
	}
	for _, e := range got {
		if err := (&proofs.Proof{Index: e.Index, Hashes: e.Proof}).Check(f.tree, e.Statement); err != nil {
			t.Error(err)
		}
	}
	for _, bad := range []int64{-1, f.tree.N} {
		if _, err := proofs.NewProver(f.log).Entries(context.Background(), f.tree, []int64{bad}); err == nil {
			t.Errorf("Entries(%d) in a tree of size %d succeeded", bad, f.tree.N)
		}
	}
	// A tree the log does not have: its tiles do not hash to it.
	forged := f.tree
	forged.Hash[3] ^= 1
	if _, err := proofs.NewProver(f.log).Entries(context.Background(), forged, []int64{5}); err == nil {
		t.Error("Entries proved an entry in a forged tree")
	}
}

// TestProverConsistency proves every pair of a log's trees consistent,
// then corrupts each proof's inputs every way transparency-dev/merkle's
// proof tests do: the old size ±1, ^2, *2 and /2, each root flipped,
// replaced by the empty tree's or a random one, the roots swapped, the new
// size changed, and the tiles the proof is built from tampered with. Every
// corruption fails. Those that leave the tiles authentic against the new
// tree show a fork (ErrInclusion); the others must not claim one.
func TestProverConsistency(t *testing.T) {
	log := prooftest.New(t, "example.org/log")
	var trees []tlog.Tree
	for i := range 600 {
		log.Add(t, []byte(fmt.Sprintf("entry %d\n", i)))
		if i%97 == 0 || i == 255 || i == 256 || i == 599 {
			trees = append(trees, log.Tree(t))
		}
	}
	ctx := context.Background()
	emptyRoot, randomRoot := tlog.Hash(sha256.Sum256(nil)), tlog.Hash(sha256.Sum256([]byte("random")))
	flip := func(h tlog.Hash) tlog.Hash { h[0] ^= 8; return h }
	checked := 0
	for _, old := range trees {
		for _, tree := range trees {
			_, err := proofs.NewProver(log).Consistency(ctx, tree, old)
			if (err == nil) != (old.N <= tree.N) {
				t.Errorf("Consistency(%d, %d) = %v", tree.N, old.N, err)
			}
			if old.N == 0 || old.N > tree.N {
				continue
			}
			type probe struct {
				name      string
				tree, old tlog.Tree
				tiles     torchwood.TileReader
				fork      bool // the tiles are authentic: the error must be ErrInclusion
			}
			oldSized := func(name string, n int64) probe {
				return probe{name, tree, tlog.Tree{N: n, Hash: old.Hash}, log, n <= tree.N}
			}
			probes := []probe{
				oldSized("old size+1", old.N+1),
				oldSized("old size*2", old.N*2),
				{"old root flipped", tree, tlog.Tree{N: old.N, Hash: flip(old.Hash)}, log, true},
				{"old root empty", tree, tlog.Tree{N: old.N, Hash: emptyRoot}, log, true},
				{"old root random", tree, tlog.Tree{N: old.N, Hash: randomRoot}, log, true},
				{"new root flipped", tlog.Tree{N: tree.N, Hash: flip(tree.Hash)}, old, log, old.N == tree.N},
				{"new root empty", tlog.Tree{N: tree.N, Hash: emptyRoot}, old, log, old.N == tree.N},
				{"new root random", tlog.Tree{N: tree.N, Hash: randomRoot}, old, log, old.N == tree.N},
				{"new size+1", tlog.Tree{N: tree.N + 1, Hash: tree.Hash}, old, log, false},
				{"new size*2", tlog.Tree{N: tree.N * 2, Hash: tree.Hash}, old, log, false},
			}
			for _, n := range []int64{old.N - 1, old.N ^ 2, old.N / 2} {
				if n > 0 { // the empty tree is a prefix of every tree
					probes = append(probes, oldSized(fmt.Sprintf("old size %d for %d", n, old.N), n))
				}
			}
			if old.N < tree.N {
				probes = append(probes,
					probe{"roots swapped", tlog.Tree{N: tree.N, Hash: old.Hash}, tlog.Tree{N: old.N, Hash: tree.Hash}, log, false},
					probe{"new size-1", tlog.Tree{N: tree.N - 1, Hash: tree.Hash}, old, log, tree.N-1 == old.N},
					probe{"new size/2", tlog.Tree{N: tree.N / 2, Hash: tree.Hash}, old, log, tree.N/2 == old.N},
					probe{"hash tiles tampered", tree, old, tampered{log, func(b []byte) { b[len(b)-1] ^= 1 }}, false},
					probe{"hash tiles truncated", tree, old, tampered{log, func(b []byte) { clear(b[len(b)-32:]) }}, false})
			}
			for _, pr := range probes {
				_, err := proofs.NewProver(pr.tiles).Consistency(ctx, pr.tree, pr.old)
				checked++
				if err == nil || pr.fork != errors.Is(err, proofs.ErrInclusion) {
					t.Errorf("%s: Consistency(%d, %d) = %v; want an error, ErrInclusion: %v", pr.name, pr.tree.N, pr.old.N, err, pr.fork)
				}
			}
		}
	}
	if checked < 300 {
		t.Errorf("only %d corrupted proofs checked", checked)
	}
}

// tampered serves a log's tiles with every hash tile edited.
type tampered struct {
	*prooftest.Log
	edit func([]byte)
}

func (tr tampered) ReadTiles(ctx context.Context, tiles []tlog.Tile) ([][]byte, error) {
	data, err := tr.Log.ReadTiles(ctx, tiles)
	for i, t := range tiles {
		if err == nil && t.L >= 0 {
			data[i] = bytes.Clone(data[i])
			tr.edit(data[i])
		}
	}
	return data, err
}

// TestProverSharedReadAbandoned: a caller that gives up on a tile read
// does not fail another caller waiting for the same tile; that one reads
// it again.
func TestProverSharedReadAbandoned(t *testing.T) {
	f := newFixture(t)
	x := tlog.Tile{H: torchwood.TileHeight, L: -1, N: 0, W: torchwood.TileWidth}
	y := tlog.Tile{H: torchwood.TileHeight, L: 0, N: 0, W: torchwood.TileWidth}
	ctxA, cancelA := context.WithCancel(context.Background())
	aInside := make(chan struct{})
	first := true
	p := proofs.NewProver(&stalling{Log: f.log, read: func(ctx context.Context, tiles []tlog.Tile) error {
		switch {
		case tiles[0] == x && first:
			first = false
			close(aInside)
			<-ctx.Done()
			return ctx.Err()
		case tiles[0] == y:
			cancelA()
		}
		return nil
	}})
	aDone := make(chan error)
	go func() {
		_, err := p.ReadTiles(ctxA, []tlog.Tile{x})
		aDone <- err
	}()
	<-aInside
	got, err := p.ReadTiles(context.Background(), []tlog.Tile{y, x})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(<-aDone, context.Canceled) {
		t.Error("the abandoned read did not fail")
	}
	want, err := f.log.ReadTiles(context.Background(), []tlog.Tile{y, x})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[0], want[0]) || !bytes.Equal(got[1], want[1]) {
		t.Error("the waiting caller got other tiles")
	}
}

// stalling lets a test act on each batch of tiles read before it is read.
type stalling struct {
	*prooftest.Log
	read func(ctx context.Context, tiles []tlog.Tile) error
}

func (s *stalling) ReadTiles(ctx context.Context, tiles []tlog.Tile) ([][]byte, error) {
	if err := s.read(ctx, tiles); err != nil {
		return nil, err
	}
	return s.Log.ReadTiles(ctx, tiles)
}
