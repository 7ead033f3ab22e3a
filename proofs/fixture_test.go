package proofs_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprolog/reprolog/pgp"
	"github.com/reprolog/reprolog/pgp/pgptest"
	"github.com/reprolog/reprolog/proofs"
	"github.com/reprolog/reprolog/proofs/prooftest"
)

// fixture is a log of 300 entries holding statements about hello 2.10-3
// amd64 by two builders at 5, 257 and 299 (another toolchain); the rest are filler entries.
type fixture struct {
	log     *prooftest.Log
	tree    tlog.Tree
	bundle  *proofs.Bundle
	alice   *pgptest.Signer
	bob     *pgptest.Signer
	keys    proofs.Keys
	indices []int64
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{log: prooftest.New(t, "example.org/reprolog"),
		alice: pgptest.NewSigner(t, "alice"), bob: pgptest.NewSigner(t, "bob")}
	deb := prooftest.Deb{Package: "hello", Arch: "amd64", SHA256: sum("hello"), Size: 5}
	build := prooftest.Build{Source: "hello", Version: "2.10-3", Debs: []prooftest.Deb{deb}}
	keys := map[string]*pgp.Key{}
	for _, s := range []*pgptest.Signer{f.alice, f.bob} {
		k, err := pgp.ParseKey(s.PublicArmored(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		keys[k.Fingerprint()] = k
	}
	f.keys = func(fp string) *pgp.Key { return keys[fp] }
	records := map[int64][]byte{}
	for i := range 300 {
		var signer *pgptest.Signer
		switch i {
		case 5, 299:
			signer = f.alice
		case 257:
			signer = f.bob
		default:
			f.log.Add(t, []byte(fmt.Sprintf("filler %d\n", i)))
			continue
		}
		b := build
		if i == 299 {
			b.Toolchain = "12.2.0-14+deb12u1"
		}
		rec := prooftest.Record(t, signer, b)
		records[f.log.Add(t, prooftest.Statement(t, signer, rec))] = rec
		f.indices = append(f.indices, int64(i))
	}
	f.tree = f.log.Tree(t)
	entries, err := proofs.NewProver(f.log).Entries(context.Background(), f.tree, f.indices)
	if err != nil {
		t.Fatal(err)
	}
	for i := range entries {
		entries[i].Record = records[entries[i].Index]
	}
	f.bundle = &proofs.Bundle{Package: "hello", Version: "2.10-3", Arch: "amd64",
		Checkpoint: f.log.Checkpoint(t), Entries: entries}
	return f
}
