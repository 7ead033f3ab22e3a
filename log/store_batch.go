package log

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// maxBatch bounds the writes committed together.
const maxBatch = 512

// errStoreClosed is returned for writes after Close.
var errStoreClosed = errors.New("the store is closed")

// batcher commits the small writes of concurrent submissions (storing a
// record, recording its index) together: one transaction, so one sync to
// disk, for every write waiting when the previous commit ends. A write
// returns only once its transaction is committed, so what a caller was
// told is durable exactly as if it had committed alone. When anything in a
// batch fails, each of its writes is retried in a transaction of its own,
// so that one failing write never fails another.
type batcher struct {
	db   *sql.DB
	ops  chan *batchOp
	quit chan struct{}
	done chan struct{}
	once sync.Once
}

type batchOp struct {
	ctx context.Context
	fn  func(ctx context.Context, tx *sql.Tx) error
	err chan error
}

func newBatcher(db *sql.DB) *batcher {
	b := &batcher{db: db, ops: make(chan *batchOp), quit: make(chan struct{}), done: make(chan struct{})}
	go b.run()
	return b
}

// do runs fn in a transaction shared with other writers. fn may run twice
// (the second time alone, after the shared transaction was rolled back),
// so it must only execute statements and set results.
func (b *batcher) do(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	op := &batchOp{ctx: ctx, fn: fn, err: make(chan error, 1)}
	select {
	case b.ops <- op:
	case <-ctx.Done():
		return ctx.Err()
	case <-b.quit:
		return errStoreClosed
	}
	// Once queued, the write may commit: wait for the outcome even if ctx
	// ends, so that an error never hides a committed write.
	return <-op.err
}

func (b *batcher) run() {
	defer close(b.done)
	for {
		var batch []*batchOp
		select {
		case op := <-b.ops:
			batch = append(batch, op)
		case <-b.quit:
			return
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case op := <-b.ops:
				batch = append(batch, op)
			default:
				break fill
			}
		}
		b.commit(batch)
	}
}

// commit runs the batch in one transaction, or, when that fails, each
// write alone.
func (b *batcher) commit(batch []*batchOp) {
	live := batch[:0]
	for _, op := range batch {
		if err := op.ctx.Err(); err != nil {
			op.err <- err // never run: nothing to hide
			continue
		}
		live = append(live, op)
	}
	if len(live) == 0 {
		return
	}
	if len(live) > 1 && b.tx(live) == nil {
		for _, op := range live {
			op.err <- nil
		}
		return
	}
	for _, op := range live {
		op.err <- b.tx([]*batchOp{op})
	}
}

func (b *batcher) tx(ops []*batchOp) error {
	ctx := context.Background() // one caller's cancellation must not undo the others' writes
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	for _, op := range ops {
		if err := op.fn(ctx, tx); err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

// close stops the batcher once the write being committed is done; later
// writes fail.
func (b *batcher) close() {
	b.once.Do(func() { close(b.quit) })
	<-b.done
}
