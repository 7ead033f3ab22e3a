package proofs_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

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

// batches counts the calls that reach a tile reader.
type batches struct {
	*prooftest.Log
	calls int
}

func (b *batches) ReadTiles(ctx context.Context, tiles []tlog.Tile) ([][]byte, error) {
	b.calls++
	return b.Log.ReadTiles(ctx, tiles)
}

func TestProverBatches(t *testing.T) {
	f := newFixture(t)
	b := &batches{Log: f.log}
	if _, err := proofs.NewProver(b).Entries(context.Background(), f.tree, []int64{299, 5, 257, 6, 100}); err != nil {
		t.Fatal(err)
	}
	if b.calls != 2 {
		t.Errorf("proving five entries in two tiles took %d batches of tile reads, want 2", b.calls)
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
	for _, old := range trees {
		for _, tree := range trees {
			_, err := proofs.NewProver(log).Consistency(ctx, tree, old)
			if (err == nil) != (old.N <= tree.N) {
				t.Errorf("Consistency(%d, %d) = %v", tree.N, old.N, err)
			}
			if old.N == 0 || old.N > tree.N {
				continue
			}
			forked := old
			forked.Hash[0] ^= 1
			if _, err := proofs.NewProver(log).Consistency(ctx, tree, forked); !errors.Is(err, proofs.ErrInclusion) {
				t.Errorf("Consistency(%d, forked %d) = %v, want ErrInclusion", tree.N, old.N, err)
			}
		}
	}
}
