package log

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/reprolog/reprolog/statement"
)

// TestConcurrentWrites stores records from many goroutines at once, with
// the indexer's transactions in between, as a busy log does: every write
// succeeds, each record is added exactly once, and all of them are there.
func TestConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n, dups = 300, 20
	var wg sync.WaitGroup
	added := make([]bool, n+dups)
	errs := make(chan error, n+dups+1)
	for i := range n + dups {
		sha := fmt.Sprintf("%064x", i)
		if i >= n {
			sha = fmt.Sprintf("%064x", 7) // the same record again
		}
		wg.Go(func() {
			holder, a, err := s.AddPending(ctx, "id"+sha, sha, []byte(sha))
			if err == nil && a {
				err = s.SetRecordIndex(ctx, "id"+sha, sha, []byte(sha), int64(i))
			} else if err == nil && holder != sha {
				err = fmt.Errorf("record %s is held by %s", sha, holder)
			}
			if err != nil {
				errs <- err
			}
			added[i] = a
		})
	}
	wg.Go(func() {
		st := &statement.Statement{Source: "src", SourceVersion: "1", Version: "1", Record: fmt.Sprintf("%064x", 1)}
		for i := range 20 {
			if err := s.IndexEntries(ctx, uint64(i), []*statement.Statement{st}); err != nil {
				errs <- err
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	count := 0
	for i, a := range added {
		if a {
			count++
		} else if i < n && i != 7 {
			t.Errorf("record %d was not added", i)
		}
	}
	if count != n {
		t.Errorf("%d records added, want %d: a duplicate was added twice or a record lost", count, n)
	}
	for i := range n {
		body, idx, err := s.Record(ctx, fmt.Sprintf("%064x", i))
		if err != nil || string(body) != fmt.Sprintf("%064x", i) || idx < 0 {
			t.Fatalf("record %d: %q, index %d, %v", i, body, idx, err)
		}
	}
}

// TestBatchIsolation: a write that fails does not fail the writes
// committed with it, a cancelled write is not made, and writes after Close
// fail.
func TestBatchIsolation(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	bad := errors.New("bad write")
	var wg sync.WaitGroup
	results := make([]error, 40)
	for i := range results {
		wg.Go(func() {
			results[i] = s.batch.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
				if i%10 == 3 {
					return bad
				}
				_, err := tx.ExecContext(ctx, `INSERT INTO meta (name, value) VALUES (?, 'x')`, fmt.Sprint("k", i))
				return err
			})
		})
	}
	wg.Wait()
	for i, err := range results {
		v, _ := s.Meta(ctx, fmt.Sprint("k", i))
		switch {
		case i%10 == 3 && (!errors.Is(err, bad) || v != ""):
			t.Errorf("write %d: %v, stored %q", i, err, v)
		case i%10 != 3 && (err != nil || v != "x"):
			t.Errorf("write %d: %v, stored %q", i, err, v)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := s.AddPending(cancelled, "c", "c", []byte("c")); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled write: %v", err)
	}
	if _, err := s.RecordIndex(ctx, "c"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a cancelled write was made: %v", err)
	}
	s.Close()
	if _, _, err := s.AddPending(ctx, "d", "d", []byte("d")); !errors.Is(err, errStoreClosed) {
		t.Errorf("a write after Close: %v", err)
	}
}
