package installed

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/reprolog/reprolog/internal/debtest"
	"github.com/reprolog/reprolog/proofs/prooftest"
)

// BenchmarkGate50 decides an apt-get install of 50 packages, each
// reproduced by two rebuilders, against a real log on localhost: reading
// and hashing the .debs, the checkpoint, the lookups, proofs and records,
// and the journal.
func BenchmarkGate50(b *testing.B) {
	w := newWorld(b)
	var files []string
	var records [][]byte
	for i := range 50 {
		d := w.deb(b, fmt.Sprintf("pkg%02d", i), "1.0-1", "bench")
		files = append(files, d.Path)
		for _, who := range []string{"alice", "bob"} {
			records = append(records, prooftest.Record(b, w.signers[who], build(d.Name, "1.0-1", "", d)))
		}
	}
	w.submitAll(b, records)
	g := &Gate{Policy: w.policy(b, w.log.URL)}
	for b.Loop() {
		out, err := g.Decide(context.Background(), files)
		if err != nil || !out.Pass() || len(out.Decisions) != 50 {
			b.Fatalf("%v %+v", err, out.Failures)
		}
	}
}

// BenchmarkCheckUnchanged3000 checks a system of 3,000 installed packages
// whose hashes apt's lists give, when the log has not grown since the
// last check: one checkpoint request, then the state answers.
func BenchmarkCheckUnchanged3000(b *testing.B) {
	c := system3000(b)
	for b.Loop() {
		rep := mustCheck(b, c)
		if rep.Decided != 0 || rep.Total != 3000 {
			b.Fatalf("decided %d of %d", rep.Decided, rep.Total)
		}
	}
}

// BenchmarkCheckFirst3000 is the first check of the same system: every
// package looked up and decided.
func BenchmarkCheckFirst3000(b *testing.B) {
	c := system3000(b)
	for b.Loop() {
		b.StopTimer()
		if err := os.Remove(filepath.Join(c.Policy.StateDir, stateName)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if rep := mustCheck(b, c); rep.Decided != 3000 {
			b.Fatalf("decided %d", rep.Decided)
		}
	}
}

// system3000 is a log, and a system of 3,000 packages whose hashes apt's
// lists give, checked once.
func system3000(b *testing.B) *Checker {
	w := newWorld(b)
	d := w.deb(b, "pkg0000", "1.0-1", "bench")
	w.submit(b, "alice", build("pkg0000", "1.0-1", "", d))
	w.submit(b, "bob", build("pkg0000", "1.0-1", "", d))
	var keys []Key
	var listed []debtest.Deb
	for i := range 3000 {
		k := Key{Package: fmt.Sprintf("pkg%04d", i), Version: "1.0-1", Arch: debtest.Arch()}
		keys = append(keys, k)
		sum := fmt.Sprintf("%064x", i)
		if i == 0 {
			sum = d.SHA256
		}
		listed = append(listed, debtest.Deb{Package: debtest.Package{Name: k.Package, Version: k.Version, Arch: k.Arch}, SHA256: sum})
	}
	status := filepath.Join(w.dir, "status")
	lists := filepath.Join(w.dir, "lists")
	statusOf(b, status, keys...)
	listsOf(b, lists, listed...)
	c := &Checker{Policy: w.policy(b, w.log.URL), Status: status, Lists: lists}
	first := mustCheck(b, c)
	if first.Total != 3000 || first.Counts[Reproducible] != 1 || first.Counts[Insufficient] != 2999 {
		b.Fatalf("first check: %v", first.Counts)
	}
	return c
}
