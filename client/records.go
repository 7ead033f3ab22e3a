package client

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"github.com/reprolog/reprolog/proofs"
	"github.com/reprolog/reprolog/statement"
)

// entries proves the entries at indices in cp's tree and fetches the
// records of the trusted builders' statements. The records are fetched as
// soon as the entry tiles arrive, while the proofs are built, and each is
// checked as it arrives: checked remembers those it accepted.
func (v *Verifier) entries(ctx context.Context, lc *logClient, prover *proofs.Prover, cp Checkpoint, indices []int64,
	checked *proofs.Checked) ([]proofs.Entry, error) {
	pctx, cancel := context.WithTimeout(ctx, v.Policy.Timeout)
	defer cancel()
	tree := cp.Tree()
	var entries []proofs.Entry
	var proveErr error
	var wg sync.WaitGroup
	wg.Go(func() { entries, proveErr = prover.Entries(pctx, tree, indices) })
	var records map[string][]byte
	statements, err := prover.Statements(pctx, tree, indices)
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrLog, err)
	} else {
		records, err = fetchRecords(ctx, lc, v.Policy, statements, checked)
	}
	wg.Wait()
	if proveErr != nil {
		return nil, fmt.Errorf("%w: %w", ErrLog, proveErr)
	}
	if err != nil {
		return nil, err
	}
	for i, e := range entries {
		if s, err := statement.Parse(e.Statement); err == nil && v.Policy.Key(s.Builder) != nil {
			entries[i].Record = records[s.Record]
		}
	}
	return entries, nil
}

// fetchRecords fetches the records of the trusted builders' statements
// among statements (entries read from the log, not yet proven), each
// record once, and checks each with checked as it arrives, on every core.
// It returns them by their SHA-256. A statement that does not parse, or a
// record that does not check, is left for the verification of the bundle
// to report. It waits for the policy's keys, which tell whose records to
// fetch.
func fetchRecords(ctx context.Context, lc *logClient, p *Policy, statements [][]byte, checked *proofs.Checked) (map[string][]byte, error) {
	if err := p.Wait(); err != nil {
		return nil, err
	}
	var want []*statement.Statement
	seen := map[string]bool{}
	for _, raw := range statements {
		s, err := statement.Parse(raw)
		if err != nil || p.Key(s.Builder) == nil || seen[s.Record] {
			continue
		}
		seen[s.Record] = true
		want = append(want, s)
	}
	records := make([][]byte, len(want))
	cpu := make(chan struct{}, runtime.GOMAXPROCS(0))
	err := parallel(ctx, len(want), func(ctx context.Context, i int) (err error) {
		s := want[i]
		if records[i], err = lc.record(ctx, s.Record, s.RecordSize); err != nil {
			return err
		}
		cpu <- struct{}{}
		checked.CheckRecord(s, records[i], p.Key(s.Builder))
		<-cpu
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLog, err)
	}
	out := make(map[string][]byte, len(want))
	for i, s := range want {
		out[s.Record] = records[i]
	}
	return out, nil
}
