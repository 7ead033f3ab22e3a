package proofs_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/reprolog/reprolog/proofs"
	"github.com/reprolog/reprolog/proofs/prooftest"
)

func Example() {
	t := &testing.T{}
	log := prooftest.New(t, "example.org/log")
	for _, e := range []string{"first\n", "second\n", "third\n"} {
		log.Add(t, []byte(e))
	}
	tree := log.Tree(t)

	// Prove an entry and write it down as a C2SP tlog-proof.
	entries, err := proofs.NewProver(log).Entries(context.Background(), tree, []int64{1})
	if err != nil {
		panic(err)
	}
	p := &proofs.Proof{Index: 1, Hashes: entries[0].Proof, Checkpoint: log.Checkpoint(t)}
	text := p.Marshal()

	// Anyone holding the entry and the tree of the (verified) checkpoint
	// can check it offline.
	parsed, err := proofs.ParseProof(text)
	if err != nil {
		panic(err)
	}
	fmt.Println(parsed.Check(tree, []byte("second\n")))
	fmt.Println(parsed.Check(tree, []byte("third\n")) != nil)
	// Output:
	// <nil>
	// true
}
