package proofs_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"slices"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprolog/reprolog/proofs"
)

func TestProofRoundTrip(t *testing.T) {
	f := newFixture(t)
	for _, e := range f.bundle.Entries {
		p := &proofs.Proof{Extra: e.Statement, Index: e.Index, Hashes: e.Proof, Checkpoint: f.bundle.Checkpoint}
		text := p.Marshal()
		got, err := proofs.ParseProof(text)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Marshal(), text) {
			t.Errorf("entry %d: round trip changed the proof", e.Index)
		}
		if err := got.Check(f.tree, got.Extra); err != nil {
			t.Errorf("entry %d: %v", e.Index, err)
		}
	}
}

// TestProofCheckRejects corrupts a valid inclusion proof in every way and
// checks that none of the corruptions verifies.
func TestProofCheckRejects(t *testing.T) {
	f := newFixture(t)
	e := f.bundle.Entries[1] // index 257: a proof with hashes from two tile levels
	good := proofs.Proof{Index: e.Index, Hashes: e.Proof}
	if err := good.Check(f.tree, e.Statement); err != nil {
		t.Fatal(err)
	}
	type corruption struct {
		name  string
		p     proofs.Proof
		tree  tlog.Tree
		entry []byte
	}
	with := func(name string, edit func(p *proofs.Proof, tree *tlog.Tree, entry *[]byte)) corruption {
		c := corruption{name: name, p: proofs.Proof{Index: good.Index, Hashes: slices.Clone(good.Hashes)},
			tree: f.tree, entry: bytes.Clone(e.Statement)}
		edit(&c.p, &c.tree, &c.entry)
		return c
	}
	cases := []corruption{
		with("index+1", func(p *proofs.Proof, _ *tlog.Tree, _ *[]byte) { p.Index++ }),
		with("index-1", func(p *proofs.Proof, _ *tlog.Tree, _ *[]byte) { p.Index-- }),
		with("index negative", func(p *proofs.Proof, _ *tlog.Tree, _ *[]byte) { p.Index = -1 }),
		with("index at size", func(p *proofs.Proof, tr *tlog.Tree, _ *[]byte) { p.Index = tr.N }),
		with("size*2", func(_ *proofs.Proof, tr *tlog.Tree, _ *[]byte) { tr.N *= 2 }),
		with("size/2", func(p *proofs.Proof, tr *tlog.Tree, _ *[]byte) { tr.N /= 2 }),
		with("index^2", func(p *proofs.Proof, _ *tlog.Tree, _ *[]byte) { p.Index ^= 2 }),
		with("root flipped", func(_ *proofs.Proof, tr *tlog.Tree, _ *[]byte) { tr.Hash[0] ^= 1 }),
		with("root of the empty tree", func(_ *proofs.Proof, tr *tlog.Tree, _ *[]byte) { tr.Hash = sha256.Sum256(nil) }),
		with("zero root", func(_ *proofs.Proof, tr *tlog.Tree, _ *[]byte) { tr.Hash = tlog.Hash{} }),
		with("random root", func(_ *proofs.Proof, tr *tlog.Tree, _ *[]byte) { tr.Hash = sha256.Sum256([]byte("random")) }),
		with("root appended", func(p *proofs.Proof, tr *tlog.Tree, _ *[]byte) { p.Hashes = append(p.Hashes, tr.Hash) }),
		with("root prepended", func(p *proofs.Proof, tr *tlog.Tree, _ *[]byte) {
			p.Hashes = append(tlog.RecordProof{tr.Hash}, p.Hashes...)
		}),
		with("hash inserted", func(p *proofs.Proof, _ *tlog.Tree, _ *[]byte) {
			p.Hashes = slices.Insert(p.Hashes, 1, tlog.Hash(sha256.Sum256([]byte("random"))))
		}),
		with("entry changed", func(_ *proofs.Proof, _ *tlog.Tree, en *[]byte) { (*en)[len(*en)-2] ^= 1 }),
		with("entry extended", func(_ *proofs.Proof, _ *tlog.Tree, en *[]byte) { *en = append(*en, '\n') }),
		with("hash added first", func(p *proofs.Proof, _ *tlog.Tree, _ *[]byte) {
			p.Hashes = append(tlog.RecordProof{{}}, p.Hashes...)
		}),
		with("hash added last", func(p *proofs.Proof, _ *tlog.Tree, _ *[]byte) { p.Hashes = append(p.Hashes, p.Hashes[0]) }),
		with("first hash removed", func(p *proofs.Proof, _ *tlog.Tree, _ *[]byte) { p.Hashes = p.Hashes[1:] }),
		with("last hash removed", func(p *proofs.Proof, _ *tlog.Tree, _ *[]byte) { p.Hashes = p.Hashes[:len(p.Hashes)-1] }),
		with("no hashes", func(p *proofs.Proof, _ *tlog.Tree, _ *[]byte) { p.Hashes = nil }),
		with("hashes swapped", func(p *proofs.Proof, _ *tlog.Tree, _ *[]byte) {
			p.Hashes[0], p.Hashes[1] = p.Hashes[1], p.Hashes[0]
		}),
	}
	for i := range good.Hashes {
		for _, bit := range []int{0, 7, 255} {
			cases = append(cases, with("hash flipped", func(p *proofs.Proof, _ *tlog.Tree, _ *[]byte) {
				p.Hashes[i][bit/8] ^= 1 << (bit % 8)
			}))
		}
	}
	for _, c := range cases {
		if err := c.p.Check(c.tree, c.entry); !errors.Is(err, proofs.ErrInclusion) {
			t.Errorf("%s: Check = %v, want ErrInclusion", c.name, err)
		}
	}
}

func TestParseProofRejects(t *testing.T) {
	f := newFixture(t)
	e := f.bundle.Entries[1]
	good := string((&proofs.Proof{Extra: e.Statement, Index: e.Index, Hashes: e.Proof,
		Checkpoint: f.bundle.Checkpoint}).Marshal())
	head, _, _ := bytes.Cut([]byte(good), []byte("\n\n"))
	lines := bytes.Split(head, []byte("\n"))
	indexLine := string(lines[2])
	hashLine := string(lines[3])
	tests := map[string]string{
		"garbage before":       "x" + good,
		"line before":          "\n" + good,
		"other header":         "c2sp.org/tlog-proof@v2" + good[len(proofs.ProofHeader):],
		"index leading zero":   replace(good, indexLine, "index 0257"),
		"index plus":           replace(good, indexLine, "index +257"),
		"index negative":       replace(good, indexLine, "index -257"),
		"index missing":        replace(good, indexLine+"\n", ""),
		"index twice":          replace(good, indexLine, indexLine+"\n"+indexLine),
		"hash not canonical":   replace(good, hashLine, hashLine[:42]+"B="),
		"hash short":           replace(good, hashLine, hashLine[:40]+"=="),
		"hash unpadded":        replace(good, hashLine, hashLine[:43]),
		"hash with space":      replace(good, hashLine, " "+hashLine),
		"extra not base64":     replace(good, "extra ", "extra *"),
		"extra after index":    replace(replace(good, string(lines[1])+"\n", ""), indexLine, indexLine+"\n"+string(lines[1])),
		"no checkpoint":        good[:len(head)+2],
		"no empty line":        replace(good, "\n\n", "\n"),
		"CRLF":                 replace(good, "\n", "\r\n"),
		"too many hashes":      replace(good, hashLine, string(bytes.Repeat([]byte(hashLine+"\n"), 64))+hashLine),
		"truncated in headers": good[:len(head)-5],
		"empty":                "",
	}
	for name, text := range tests {
		t.Run(name, func(t *testing.T) {
			if text == good {
				t.Fatal("the edit changed nothing")
			}
			if _, err := proofs.ParseProof([]byte(text)); !errors.Is(err, proofs.ErrMalformed) {
				t.Errorf("ParseProof = %v, want ErrMalformed", err)
			}
		})
	}
}

func replace(s, old, new string) string {
	return string(bytes.Replace([]byte(s), []byte(old), []byte(new), 1))
}

func FuzzParseProof(f *testing.F) {
	fx := newFixture(f)
	for _, e := range fx.bundle.Entries {
		f.Add((&proofs.Proof{Extra: e.Statement, Index: e.Index, Hashes: e.Proof, Checkpoint: fx.bundle.Checkpoint}).Marshal())
	}
	f.Add([]byte(proofs.ProofHeader + "\nindex 0\n\nx"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := proofs.ParseProof(data)
		if err != nil {
			return
		}
		if !bytes.Equal(p.Marshal(), data) {
			t.Errorf("accepted a non-canonical proof")
		}
		_ = p.Check(fx.tree, p.Extra)
	})
}
