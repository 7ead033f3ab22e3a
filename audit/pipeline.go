package audit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprolog/reprolog/statement"
)

// The entries of a Sync pass through three stages at once. One goroutine
// reads them from the tiles, authenticated against the checkpoint, and
// cuts them into batches; cfg.Workers goroutines parse each entry and
// check its record (fetch, hash, signature, derivation), on every core;
// and follow takes the batches in log order, each once all of its records
// are checked, and commits what it teaches. Only follow writes to the
// state's position and findings, batch after batch in order, so a Sync
// stopped at any point loses nothing but checks not committed yet, which
// the next Sync makes again.

// ahead is how many batches the reader may cut before follow takes them:
// enough to keep every core checking records while follow commits.
const ahead = 2

// raw is a log entry as read from the tiles, authenticated against the
// checkpoint.
type raw struct {
	idx  int64
	data []byte
}

// batch is a run of consecutive entries, committed in one transaction.
type batch struct {
	seq     int64 // 0, 1, ... in this Sync
	entries []raw
	sts     []*statement.Statement // nil where the entry is not a statement
	checks  []check                // ProblemBadEntry where it is not
	failed  []error                // the log answered the record or key with a server error
	left    atomic.Int64           // entries not checked yet
	done    chan struct{}          // closed when left reaches 0

	mu  sync.Mutex
	err error // a failure to check a record, not the log's fault

	// end, in the last batch (which has no entries), is why the reader
	// stopped before the checkpoint's size: the error of torchwood's
	// Client, or errStalled.
	end error
}

func newBatch(entries []raw) *batch {
	b := &batch{entries: entries, sts: make([]*statement.Statement, len(entries)),
		checks: make([]check, len(entries)), failed: make([]error, len(entries)), done: make(chan struct{})}
	b.left.Store(int64(len(entries)))
	if len(entries) == 0 {
		close(b.done)
	}
	return b
}

// endBatch is the last batch, saying why there are no more entries.
func endBatch(err error) *batch {
	b := newBatch(nil)
	b.end = err
	return b
}

// checked counts one entry of b as checked.
func (b *batch) checked() {
	if b.left.Add(-1) == 0 {
		close(b.done)
	}
}

func (b *batch) fail(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err == nil {
		b.err = err
	}
}

func (b *batch) error() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// job is one entry of a batch to check.
type job struct {
	b *batch
	i int
}

// pipeline reads and checks the entries of one Sync.
type pipeline struct {
	batches chan *batch // in log order, closed after the last
	// stop is the first batch not to check any more: a record of it
	// could not be checked, so neither it nor any later batch will be
	// committed in this Sync.
	stop   atomic.Int64
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// check starts reading the entries [next, tree.N) and checking their
// records. Call close when done with the batches.
func (a *Auditor) check(ctx context.Context, tree tlog.Tree, next int64) *pipeline {
	ctx, cancel := context.WithCancel(ctx)
	p := &pipeline{batches: make(chan *batch, ahead), cancel: cancel}
	p.stop.Store(1<<63 - 1)
	jobs := make(chan job)
	p.wg.Go(func() { a.read(ctx, p, jobs, tree, next) })
	for range a.cfg.Workers {
		p.wg.Go(func() {
			for j := range jobs {
				a.checkEntry(ctx, p, j)
			}
		})
	}
	return p
}

// close stops the pipeline and waits for its goroutines.
func (p *pipeline) close() {
	p.cancel()
	p.wg.Wait()
}

// read reads the entries, cuts them into batches of up to cfg.BatchSize
// (and where an iteration of torchwood's Client ends), sends each batch to
// follow and its entries to the workers.
func (a *Auditor) read(ctx context.Context, p *pipeline, jobs chan<- job, tree tlog.Tree, pos int64) {
	defer close(p.batches)
	defer close(jobs)
	var seq int64
	send := func(b *batch) bool {
		b.seq, seq = seq, seq+1
		select {
		case p.batches <- b:
		case <-ctx.Done():
			return false
		}
		for i := range b.entries {
			select {
			case jobs <- job{b, i}:
			case <-ctx.Done():
				return false
			}
		}
		return true
	}
	for pos < tree.N {
		c, err := torchwood.NewClient(tileReader{a.tiles})
		if err != nil {
			send(endBatch(err))
			return
		}
		from := pos
		var entries []raw
		for i, e := range c.Entries(ctx, tree, pos) {
			entries, pos = append(entries, raw{i, e}), i+1
			if len(entries) >= a.cfg.BatchSize {
				if !send(newBatch(entries)) {
					return
				}
				entries = nil
			}
		}
		if len(entries) > 0 && !send(newBatch(entries)) {
			return
		}
		switch err := c.Err(); {
		case err != nil:
			send(endBatch(err))
			return
		case pos == from:
			send(endBatch(fmt.Errorf("%w at %d of %d", errStalled, pos, tree.N)))
			return
		}
	}
}

// checkEntry parses entry j and checks its record, unless an earlier
// batch failed.
func (a *Auditor) checkEntry(ctx context.Context, p *pipeline, j job) {
	b, e := j.b, j.b.entries[j.i]
	defer b.checked()
	st, err := statement.Parse(e.data)
	if err != nil {
		b.checks[j.i] = check{ProblemBadEntry, err.Error()}
		return
	}
	b.sts[j.i] = st
	if b.seq >= p.stop.Load() {
		return
	}
	c, err := a.checkRecord(ctx, st, e.data)
	if _, ok := serverFailed(err); ok && ctx.Err() == nil {
		b.failed[j.i] = err
		return
	}
	if err != nil {
		b.fail(fmt.Errorf("audit: entry %d with record %s: %w", e.idx, st.Record, err))
		for s := p.stop.Load(); b.seq < s && !p.stop.CompareAndSwap(s, b.seq); s = p.stop.Load() {
		}
		return
	}
	b.checks[j.i] = c
}
