// Package prooftest keeps a small tlog-tiles log in memory for tests: it
// appends entries, signs checkpoints (optionally with witness
// cosignatures), and serves its tiles through torchwood.TileReader. The
// Merkle tree and tiles are computed by golang.org/x/mod/sumdb/tlog.
package prooftest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Log is an in-memory log. It is safe for concurrent use.
type Log struct {
	signer   note.Signer
	verifier note.Verifier
	vkey     string

	mu      sync.Mutex
	entries [][]byte
	hashes  []tlog.Hash // stored hashes, as tlog.StoredHashIndex numbers them
	reads   map[tlog.Tile]int
}

// New makes an empty log whose checkpoints carry origin and are signed with
// a fresh Ed25519 key.
func New(t testing.TB, origin string) *Log {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return &Log{signer: s, verifier: v, vkey: vkey, reads: map[tlog.Tile]int{}}
}

// VKey returns the log's verifier key in note format.
func (l *Log) VKey() string { return l.vkey }

// Verifier returns the log's checkpoint verifier.
func (l *Log) Verifier() note.Verifier { return l.verifier }

// Add appends an entry and returns its index.
func (l *Log) Add(t testing.TB, entry []byte) int64 {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	n := int64(len(l.entries))
	h, err := tlog.StoredHashes(n, entry, l.hashReader())
	if err != nil {
		t.Fatal(err)
	}
	l.entries = append(l.entries, entry)
	l.hashes = append(l.hashes, h...)
	return n
}

// Tree returns the current tree.
func (l *Log) Tree(t testing.TB) tlog.Tree {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tree(t, int64(len(l.entries)))
}

func (l *Log) tree(t testing.TB, n int64) tlog.Tree {
	h, err := tlog.TreeHash(n, l.hashReader())
	if err != nil {
		t.Fatal(err)
	}
	return tlog.Tree{N: n, Hash: h}
}

// Checkpoint returns the current checkpoint signed by the log and then by
// each cosigner (e.g. torchwood.CosignatureSigner witnesses).
func (l *Log) Checkpoint(t testing.TB, cosigners ...note.Signer) []byte {
	t.Helper()
	return l.Sign(t, l.Tree(t), cosigners...)
}

// Sign signs a checkpoint for tree, which need not be a tree of the log.
func (l *Log) Sign(t testing.TB, tree tlog.Tree, cosigners ...note.Signer) []byte {
	t.Helper()
	c := torchwood.Checkpoint{Origin: l.verifier.Name(), Tree: tree}
	signed, err := note.Sign(&note.Note{Text: c.String()}, append([]note.Signer{l.signer}, cosigners...)...)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// NewWitness makes a tlog-cosignature/v1 signer and returns it with its
// verifier key.
func NewWitness(t testing.TB, name string) (*torchwood.CosignatureSigner, string) {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := torchwood.NewCosignatureSigner(name, key)
	if err != nil {
		t.Fatal(err)
	}
	return s, s.Verifier().String()
}

// Reads returns how many times each tile was read.
func (l *Log) Reads() map[tlog.Tile]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make(map[tlog.Tile]int, len(l.reads))
	for k, v := range l.reads {
		m[k] = v
	}
	return m
}

// ReadTiles implements torchwood.TileReader for the log's current state.
func (l *Log) ReadTiles(ctx context.Context, tiles []tlog.Tile) ([][]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	data := make([][]byte, len(tiles))
	for i, t := range tiles {
		l.reads[t]++
		d, err := l.tile(t)
		if err != nil {
			return nil, err
		}
		data[i] = d
	}
	return data, nil
}

func (l *Log) tile(t tlog.Tile) ([]byte, error) {
	if t.H != torchwood.TileHeight {
		return nil, fmt.Errorf("prooftest: tile height %d", t.H)
	}
	if t.L != -1 {
		return tlog.ReadTileData(t, l.hashReader())
	}
	start := t.N * torchwood.TileWidth
	if start+int64(t.W) > int64(len(l.entries)) {
		return nil, fmt.Errorf("prooftest: no tile %s", torchwood.TilePath(t))
	}
	var data []byte
	for _, e := range l.entries[start : start+int64(t.W)] {
		var err error
		if data, err = torchwood.AppendTileEntry(data, e); err != nil {
			return nil, err
		}
	}
	return data, nil
}

// SaveTiles implements torchwood.TileReader.
func (l *Log) SaveTiles([]tlog.Tile, [][]byte) {}

// ReadEndpoint implements torchwood.TileReader; it serves "checkpoint".
func (l *Log) ReadEndpoint(ctx context.Context, path string) ([]byte, error) {
	if path != "checkpoint" {
		return nil, fmt.Errorf("prooftest: no endpoint %q", path)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := int64(len(l.entries))
	h, err := tlog.TreeHash(n, l.hashReader())
	if err != nil {
		return nil, err
	}
	c := torchwood.Checkpoint{Origin: l.verifier.Name(), Tree: tlog.Tree{N: n, Hash: h}}
	return note.Sign(&note.Note{Text: c.String()}, l.signer)
}

// hashReader reads the stored hashes; callers hold l.mu or own l.
func (l *Log) hashReader() tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			if x < 0 || x >= int64(len(l.hashes)) {
				return nil, fmt.Errorf("prooftest: no stored hash %d", x)
			}
			out[i] = l.hashes[x]
		}
		return out, nil
	})
}
