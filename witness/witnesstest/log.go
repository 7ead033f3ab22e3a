// Package witnesstest runs witnesses and logs for tests: a signed in-memory
// log with real Merkle proofs (from golang.org/x/mod/sumdb/tlog), a real
// Tessera log on disk, reprolog's witness on 127.0.0.1, and torchwood's
// litewitness as a separate process, so that logs and clients can be tested
// against independent witness implementations.
package witnesstest

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"testing"

	"filippo.io/torchwood"
	"github.com/reprolog/reprolog/witness"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// A LogKey is a log's Ed25519 checkpoint key; its name is the log's origin.
type LogKey struct {
	Origin   string
	SKey     string // signer key, as note.GenerateKey writes it
	VKey     string
	Signer   note.Signer
	Verifier note.Verifier
}

// NewLogKey generates a log key for origin.
func NewLogKey(t testing.TB, origin string) LogKey {
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
	return LogKey{Origin: origin, SKey: skey, VKey: vkey, Signer: s, Verifier: v}
}

// Entry returns the key as a witness.LogEntry, for witness.Config.Logs.
func (k LogKey) Entry() witness.LogEntry {
	return witness.LogEntry{Origin: k.Origin, VKey: k.VKey, Verifier: k.Verifier}
}

// A MemLog is an in-memory transparency log whose tree hashes and proofs
// come from golang.org/x/mod/sumdb/tlog, signing checkpoints with its key.
type MemLog struct {
	Key    LogKey
	hashes []tlog.Hash
	size   int64
}

// NewMemLog returns an empty log signing with key.
func NewMemLog(key LogKey) *MemLog { return &MemLog{Key: key} }

func (l *MemLog) reader() tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x < 0 || x >= int64(len(l.hashes)) {
				return nil, fmt.Errorf("memlog: no stored hash %d", x)
			}
			out[i] = l.hashes[x]
		}
		return out, nil
	})
}

// Append adds records to the log.
func (l *MemLog) Append(t testing.TB, records ...[]byte) {
	t.Helper()
	for _, r := range records {
		h, err := tlog.StoredHashes(l.size, r, l.reader())
		if err != nil {
			t.Fatal(err)
		}
		l.hashes = append(l.hashes, h...)
		l.size++
	}
}

// AppendN adds n distinct records derived from tag.
func (l *MemLog) AppendN(t testing.TB, n int, tag string) {
	t.Helper()
	for i := 0; i < n; i++ {
		l.Append(t, fmt.Appendf(nil, "%s %d", tag, l.size))
	}
}

// Size returns the number of records.
func (l *MemLog) Size() int64 { return l.size }

// Fork returns a copy of the log: records appended to one are not in the
// other, so their trees diverge while both are signed with the same key.
func (l *MemLog) Fork() *MemLog {
	return &MemLog{Key: l.Key, hashes: append([]tlog.Hash(nil), l.hashes...), size: l.size}
}

// Hash returns the tree hash at size n <= Size().
func (l *MemLog) Hash(t testing.TB, n int64) tlog.Hash {
	t.Helper()
	h, err := tlog.TreeHash(n, l.reader())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Checkpoint returns the signed checkpoint at size n <= Size().
func (l *MemLog) Checkpoint(t testing.TB, n int64) []byte {
	t.Helper()
	text := torchwood.Checkpoint{Origin: l.Key.Origin, Tree: tlog.Tree{N: n, Hash: l.Hash(t, n)}}.String()
	signed, err := note.Sign(&note.Note{Text: text}, l.Key.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// Proof returns the consistency proof from size old to size n.
func (l *MemLog) Proof(t testing.TB, old, n int64) tlog.TreeProof {
	t.Helper()
	if old == 0 {
		return nil
	}
	p, err := tlog.ProveTree(n, old, l.reader())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Request returns the add-checkpoint body that moves a witness holding size
// old to the log's checkpoint at size n.
func (l *MemLog) Request(t testing.TB, old, n int64) []byte {
	t.Helper()
	return AddCheckpointBody(old, l.Proof(t, old, n), l.Checkpoint(t, n))
}

// AddCheckpointBody formats a C2SP tlog-witness add-checkpoint request body.
func AddCheckpointBody(old int64, proof tlog.TreeProof, checkpoint []byte) []byte {
	b := fmt.Appendf(nil, "old %d\n", old)
	for _, h := range proof {
		b = append(b, base64.StdEncoding.EncodeToString(h[:])...)
		b = append(b, '\n')
	}
	b = append(b, '\n')
	return append(b, checkpoint...)
}
