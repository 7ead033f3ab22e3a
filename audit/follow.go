package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprolog/reprolog/statement"
)

// raw is a log entry as read from the tiles, authenticated against the
// checkpoint.
type raw struct {
	idx  int64
	data []byte
}

// follow processes entries [next, tree.N), a batch per transaction.
// torchwood's Client reads the entry bundles and checks each entry
// against the tree before handing it over.
func (a *Auditor) follow(ctx context.Context, tree tlog.Tree, signed []byte, next int64, res *Result) error {
	start := time.Now()
	pos := next
	for pos < tree.N {
		c, err := torchwood.NewClient(tileReader{a.tiles})
		if err != nil {
			return err
		}
		var (
			batch []raw
			perr  error
			from  = pos
		)
		flush := func() {
			if len(batch) == 0 || perr != nil {
				return
			}
			if perr = a.process(ctx, batch, signed, res); perr != nil {
				return
			}
			pos = batch[len(batch)-1].idx + 1
			batch = batch[:0]
			res.Position = pos
			if a.cfg.Progress != nil {
				a.cfg.Progress(Progress{Position: pos, TreeSize: tree.N, Processed: res.Processed, Elapsed: time.Since(start)})
			}
		}
		for i, e := range c.Entries(ctx, tree, pos) {
			batch = append(batch, raw{i, e})
			if len(batch) >= a.cfg.BatchSize {
				if flush(); perr != nil {
					break
				}
			}
		}
		flush()
		if perr != nil {
			return perr
		}
		if err := c.Err(); err != nil {
			if operational(ctx, err) {
				return fmt.Errorf("audit: reading entries from %d: %w", pos, err)
			}
			sum := sha256.Sum256(signed)
			f := Finding{Kind: LogMisbehaviour, Problem: ProblemTilesMismatch, Checkpoints: []string{string(signed)},
				Detail:  fmt.Sprintf("reading entries from %d: %v", pos, err),
				Summary: fmt.Sprintf("the log's tiles do not match its checkpoint of size %d: %v", tree.N, err)}
			if err := a.record(ctx, []keyed{{"checkpoint " + ProblemTilesMismatch + " " + hex.EncodeToString(sum[:]), f}}, nil); err != nil {
				return err
			}
			return a.deliver(ctx, res)
		}
		if pos == from {
			return fmt.Errorf("%w at %d of %d", errStalled, pos, tree.N)
		}
	}
	return nil
}

// process checks a batch of entries and records, in one transaction, what
// they teach and the audit's new position, then delivers the findings.
func (a *Auditor) process(ctx context.Context, batch []raw, signed []byte, res *Result) error {
	sts := make([]*statement.Statement, len(batch))
	for i, r := range batch {
		sts[i], _ = statement.Parse(r.data)
	}
	checks, err := a.checkAll(ctx, sts)
	if err != nil {
		return err
	}
	end := batch[len(batch)-1].idx + 1
	var valid []*statement.Statement
	for _, st := range sts {
		if st != nil {
			valid = append(valid, st)
		}
	}
	// The lookups are made before the transaction, and compared in it
	// with what the batch teaches.
	lookups, err := a.lookups(ctx, valid, batch[0].idx, end)
	if err != nil {
		return err
	}
	tx, err := a.st.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	q, err := prepare(ctx, tx)
	if err != nil {
		return err
	}
	defer q.close()
	var found []keyed
	for i, r := range batch {
		st, c := sts[i], checks[i]
		if st == nil {
			_, perr := statement.Parse(r.data)
			if _, err := q.insertEntry.ExecContext(ctx, r.idx, ProblemBadEntry, "", "", r.data); err != nil {
				return err
			}
			found = append(found, entryProblem(r.idx, nil, check{ProblemBadEntry, perr.Error()}, r.data))
			continue
		}
		fs, err := learn(ctx, q, r.idx, st, c.status)
		if err != nil {
			return err
		}
		found = append(found, fs...)
		switch c.status {
		case statusVerified:
			res.Verified++
		case statusKeyRevoked:
			a.log.Info("entry not compared: its builder's key is revoked", "index", r.idx, "builder", st.Builder, "detail", c.detail)
		default:
			found = append(found, entryProblem(r.idx, st, c, nil))
		}
	}
	for _, q := range lookups {
		fs, err := a.judge(ctx, tx, q)
		if err != nil {
			return err
		}
		found = append(found, fs...)
	}
	for _, k := range found {
		if err := addFinding(ctx, tx, k.key, a.complete(k.f, signed)); err != nil {
			return err
		}
	}
	r, err := tx.ExecContext(ctx, `UPDATE head SET next = ? WHERE id = 1 AND next = ?`, end, batch[0].idx)
	if err != nil {
		return err
	}
	if n, err := r.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("audit: the state moved under the auditor (position is not %d)", batch[0].idx)
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	res.Processed += int64(len(batch))
	return a.deliver(ctx, res)
}

// lookups looks up in the log, as of end, a sample of the packages and
// sources the batch names and of those named before it.
func (a *Auditor) lookups(ctx context.Context, sts []*statement.Statement, first, end int64) ([]asked, error) {
	keys := sample(lookupKeys(sts), a.cfg.LookupSample, first)
	older, err := a.olderKeys(ctx, a.cfg.LookupRecheck, first)
	if err != nil {
		return nil, err
	}
	for _, k := range older {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return a.ask(ctx, keys, func(lookupKey) int64 { return end })
}

// entryProblem is the finding about an entry the log got wrong.
func entryProblem(idx int64, st *statement.Statement, c check, data []byte) keyed {
	e := Entry{Index: idx, Raw: data}
	if st != nil {
		e = entryOf(idx, st, "")
	}
	return keyed{fmt.Sprintf("%s %s %d", LogMisbehaviour, c.status, idx), Finding{
		Kind: LogMisbehaviour, Problem: c.status, Detail: c.detail, Entries: []Entry{e},
		Summary: fmt.Sprintf("entry %d: %s: %s", idx, c.status, c.detail)}}
}

// checkAll checks the records of the statements (nil ones are skipped),
// cfg.Workers at a time.
func (a *Auditor) checkAll(ctx context.Context, sts []*statement.Statement) ([]check, error) {
	checks := make([]check, len(sts))
	failed := make([]error, len(sts)) // the log answered with a server error
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(a.cfg.Workers, len(sts)) {
		wg.Go(func() {
			for i := range next {
				c, err := a.checkRecord(ctx, sts[i])
				if _, ok := serverFailed(err); ok && ctx.Err() == nil {
					failed[i] = err
					continue
				}
				if err != nil {
					cancel(fmt.Errorf("audit: entry with record %s: %w", sts[i].Record, err))
					continue
				}
				checks[i] = c
			}
		})
	}
feed:
	for i, st := range sts {
		if st == nil {
			continue
		}
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return checks, a.serverFailures(ctx, checks, failed)
}

// serverFailures counts a Sync in which the log answered a record or a key
// with a server error. Once it has in cfg.Attempts Syncs, the entry's
// check says the record (or key) is missing, with the status; before, the
// batch fails, to be tried again at the next Sync.
func (a *Auditor) serverFailures(ctx context.Context, checks []check, failed []error) error {
	errs := map[string]error{}
	for _, err := range failed {
		if path, ok := serverFailed(err); ok {
			errs[path] = err
		}
	}
	if len(errs) == 0 {
		return nil
	}
	n, err := a.st.countFailures(ctx, errs)
	if err != nil {
		return err
	}
	var again error
	for i, err := range failed {
		path, ok := serverFailed(err)
		switch {
		case !ok:
		case n[path] < a.cfg.Attempts:
			again = fmt.Errorf("audit: %w (attempt %d of %d, tried again at the next sync)", err, n[path], a.cfg.Attempts)
		case strings.HasPrefix(path, "/keys/"):
			checks[i] = check{ProblemKeyMissing, fmt.Sprintf("%v, in %d syncs", err, n[path])}
		default:
			checks[i] = check{ProblemRecordMissing, fmt.Sprintf("%v, in %d syncs", err, n[path])}
		}
	}
	return again
}
