package log

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"filippo.io/torchwood"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"golang.org/x/mod/sumdb/note"

	"github.com/reprolog/reprolog/statement"
)

// indexer follows the published log and keeps the lookup index: it reads
// every entry back from the log's own storage, so the index can always be
// rebuilt from the log.
type indexer struct {
	s   *Server
	log *slog.Logger

	mu      sync.Mutex
	cond    *sync.Cond
	size    uint64 // entries indexed
	err     error
	waiters int
	wake    chan struct{}
	stopped bool
}

func newIndexer(s *Server, logger *slog.Logger) *indexer {
	ix := &indexer{s: s, log: logger, wake: make(chan struct{}, 1)}
	ix.cond = sync.NewCond(&ix.mu)
	return ix
}

// run indexes new entries whenever the published checkpoint grows.
func (ix *indexer) run(ctx context.Context) {
	size, err := ix.s.store.IndexedSize(ctx)
	if err != nil {
		ix.fail(err)
		return
	}
	ix.set(size, nil)
	for ctx.Err() == nil {
		published, err := ix.publishedSize(ctx)
		if isNotFound(err) {
			err = nil // no checkpoint published yet
		}
		if err == nil && published > size {
			size, err = ix.catchUp(ctx, size, published)
		}
		ix.set(size, err)
		if err != nil && ctx.Err() == nil {
			ix.log.Warn("indexing the log", "error", err)
		}
		ix.mu.Lock()
		waiting := ix.waiting()
		ix.mu.Unlock()
		pause := 500 * time.Millisecond
		if waiting {
			pause = 20 * time.Millisecond
		}
		select {
		case <-ctx.Done():
		case <-ix.wake:
		case <-time.After(pause):
		}
	}
}

// catchUp indexes entries [from, to), a bundle at a time.
func (ix *indexer) catchUp(ctx context.Context, from, to uint64) (uint64, error) {
	for ri := range layout.Range(from, to-from, to) {
		raw, err := ix.s.reader.ReadEntryBundle(ctx, ri.Index, ri.Partial)
		if err != nil {
			return from, fmt.Errorf("reading entry bundle %d: %w", ri.Index, err)
		}
		var b api.EntryBundle
		if err := b.UnmarshalText(raw); err != nil {
			return from, fmt.Errorf("entry bundle %d: %w", ri.Index, err)
		}
		if uint(len(b.Entries)) < ri.First+ri.N {
			return from, fmt.Errorf("entry bundle %d is short", ri.Index)
		}
		sts := make([]*statement.Statement, 0, ri.N)
		for _, e := range b.Entries[ri.First : ri.First+ri.N] {
			st, err := statement.Parse(e)
			if err != nil {
				return from, fmt.Errorf("entry %d: %w", from+uint64(len(sts)), err)
			}
			sts = append(sts, st)
		}
		if err := ix.s.store.IndexEntries(ctx, from, sts); err != nil {
			return from, err
		}
		from += uint64(len(sts))
		ix.set(from, nil)
	}
	return from, nil
}

func (ix *indexer) publishedSize(ctx context.Context) (uint64, error) {
	raw, err := ix.s.reader.ReadCheckpoint(ctx)
	if err != nil {
		return 0, err
	}
	n, err := note.Open(raw, note.VerifierList(ix.s.verifier))
	if err != nil {
		return 0, fmt.Errorf("published checkpoint: %w", err)
	}
	cp, err := torchwood.ParseCheckpoint(n.Text)
	if err != nil {
		return 0, err
	}
	return uint64(cp.N), nil
}

func (ix *indexer) set(size uint64, err error) {
	ix.mu.Lock()
	ix.size, ix.err = size, err
	ix.cond.Broadcast()
	ix.mu.Unlock()
}

func (ix *indexer) fail(err error) { ix.set(ix.size, err) }

// waiters counts goroutines in waitFor; guarded by mu.
func (ix *indexer) waiting() bool { return ix.waiters > 0 }

// waitFor blocks until the index covers the first n entries.
func (ix *indexer) waitFor(ctx context.Context, n uint64) error {
	stop := context.AfterFunc(ctx, func() {
		ix.mu.Lock()
		ix.cond.Broadcast()
		ix.mu.Unlock()
	})
	defer stop()
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.waiters++
	defer func() { ix.waiters-- }()
	select {
	case ix.wake <- struct{}{}:
	default:
	}
	for ix.size < n && ctx.Err() == nil && !ix.stopped {
		ix.cond.Wait()
	}
	if ix.size >= n {
		return nil
	}
	if ix.stopped {
		return fmt.Errorf("the log is shutting down")
	}
	return ctx.Err()
}

// indexed returns how many entries the index covers.
func (ix *indexer) indexed() uint64 {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.size
}

func (ix *indexer) stop() {
	ix.mu.Lock()
	ix.stopped = true
	ix.cond.Broadcast()
	ix.mu.Unlock()
}
