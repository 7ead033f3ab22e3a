package proofs

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// ProofHeader is the first line of a C2SP tlog-proof.
const ProofHeader = "c2sp.org/tlog-proof@v1"

// Limits on what ParseProof accepts.
const (
	// MaxCheckpointSize is the size limit of a checkpoint with its
	// signatures (the one golang.org/x/mod/sumdb/note applies).
	MaxCheckpointSize = 1_000_000
	// maxProofHashes is the length of an inclusion proof in the largest
	// tree an int64 index can address.
	maxProofHashes = 63
	maxExtraSize   = 1 << 20
)

// Proof is a C2SP tlog-proof (https://c2sp.org/tlog-proof): an entry's
// index, its Merkle inclusion proof, and the checkpoint the proof leads to,
// with optional extra data. The checkpoint is kept verbatim; Proof does not
// check its signatures.
type Proof struct {
	Extra      []byte // nil when the proof has no extra line
	Index      int64
	Hashes     tlog.RecordProof // from the leaf's sibling up to the root's child
	Checkpoint []byte
}

// Marshal returns the text of p.
func (p *Proof) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(ProofHeader + "\n")
	if p.Extra != nil {
		b.WriteString("extra " + base64.StdEncoding.EncodeToString(p.Extra) + "\n")
	}
	b.WriteString("index " + strconv.FormatInt(p.Index, 10) + "\n")
	for _, h := range p.Hashes {
		b.WriteString(base64.StdEncoding.EncodeToString(h[:]) + "\n")
	}
	b.WriteString("\n")
	b.Write(p.Checkpoint)
	return b.Bytes()
}

// ParseProof reads a tlog-proof. It accepts only the canonical text:
// canonical base64 and decimal, every line ended by a newline, at most 63
// hashes, and a non-empty checkpoint of at most MaxCheckpointSize bytes.
func ParseProof(data []byte) (*Proof, error) {
	p, err := parseProof(data)
	if err != nil {
		return nil, fmt.Errorf("%w: tlog-proof: %s", ErrMalformed, err)
	}
	return p, nil
}

func parseProof(data []byte) (*Proof, error) {
	if len(data) > MaxCheckpointSize+maxExtraSize*2+maxProofHashes*45+100 {
		return nil, fmt.Errorf("too large")
	}
	head, checkpoint, ok := bytes.Cut(data, []byte("\n\n"))
	if !ok {
		return nil, fmt.Errorf("no empty line before the checkpoint")
	}
	if len(checkpoint) == 0 || len(checkpoint) > MaxCheckpointSize {
		return nil, fmt.Errorf("bad checkpoint size")
	}
	lines := strings.Split(string(head), "\n")
	if lines[0] != ProofHeader {
		return nil, fmt.Errorf("not a %s", ProofHeader)
	}
	lines = lines[1:]
	p := &Proof{Checkpoint: checkpoint}
	if len(lines) > 0 && strings.HasPrefix(lines[0], "extra ") {
		extra, err := decodeBase64(strings.TrimPrefix(lines[0], "extra "), maxExtraSize)
		if err != nil {
			return nil, fmt.Errorf("bad extra line")
		}
		p.Extra, lines = extra, lines[1:]
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "index ") {
		return nil, fmt.Errorf("no index line")
	}
	index, err := parseNumber(strings.TrimPrefix(lines[0], "index "))
	if err != nil {
		return nil, fmt.Errorf("bad index")
	}
	p.Index, lines = index, lines[1:]
	if len(lines) > maxProofHashes {
		return nil, fmt.Errorf("more than %d hashes", maxProofHashes)
	}
	p.Hashes = make(tlog.RecordProof, 0, len(lines))
	for _, l := range lines {
		h, err := decodeBase64(l, tlog.HashSize)
		if err != nil || len(h) != tlog.HashSize {
			return nil, fmt.Errorf("bad hash line")
		}
		p.Hashes = append(p.Hashes, tlog.Hash(h))
	}
	return p, nil
}

// Check verifies that p proves entry to be at p.Index in tree.
func (p *Proof) Check(tree tlog.Tree, entry []byte) error {
	if p.Index < 0 || p.Index >= tree.N {
		return fmt.Errorf("%w: index %d is not in a tree of size %d", ErrInclusion, p.Index, tree.N)
	}
	if err := tlog.CheckRecord(p.Hashes, tree.N, tree.Hash, p.Index, tlog.RecordHash(entry)); err != nil {
		return fmt.Errorf("%w: entry %d: %v", ErrInclusion, p.Index, err)
	}
	return nil
}

// decodeBase64 decodes canonical standard base64 of at most max bytes.
func decodeBase64(s string, max int) ([]byte, error) {
	if len(s) > base64.StdEncoding.EncodedLen(max) {
		return nil, fmt.Errorf("too long")
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || base64.StdEncoding.EncodeToString(b) != s {
		return nil, fmt.Errorf("not canonical base64")
	}
	return b, nil
}

// parseNumber reads a canonical non-negative decimal.
func parseNumber(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
		return 0, fmt.Errorf("not a canonical number")
	}
	return n, nil
}
