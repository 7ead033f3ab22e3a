package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprolog/reprolog/statement"
)

// follow processes entries [next, tree.N), a batch per transaction, in
// order: the pipeline (see pipeline.go) reads them, torchwood's Client
// checking each against the tree, and checks their records ahead.
func (a *Auditor) follow(ctx context.Context, tree tlog.Tree, signed []byte, next int64, res *Result) error {
	start := time.Now()
	p := a.check(ctx, tree, next)
	defer p.close()
	for b := range p.batches {
		select {
		case <-b.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if b.end != nil {
			return a.readFailed(ctx, tree, signed, b.end, res)
		}
		if err := b.error(); err != nil {
			return err
		}
		if err := a.serverFailures(ctx, b.checks, b.failed); err != nil {
			return err
		}
		if err := a.process(ctx, b, signed, res); err != nil {
			return err
		}
		res.Position = b.entries[len(b.entries)-1].idx + 1
		if a.cfg.Progress != nil {
			a.cfg.Progress(Progress{Position: res.Position, TreeSize: tree.N, Processed: res.Processed, Elapsed: time.Since(start)})
		}
	}
	if res.Position < tree.N {
		return ctx.Err() // the reader stopped: the Sync was cancelled
	}
	return nil
}

// readFailed handles why the entries stopped before the checkpoint's
// size: a failure to fetch is an error; tiles that do not match the
// checkpoint are a finding.
func (a *Auditor) readFailed(ctx context.Context, tree tlog.Tree, signed []byte, err error, res *Result) error {
	if errors.Is(err, errStalled) {
		return err
	}
	if operational(ctx, err) {
		return fmt.Errorf("audit: reading entries from %d: %w", res.Position, err)
	}
	sum := sha256.Sum256(signed)
	f := Finding{Kind: LogMisbehaviour, Problem: ProblemTilesMismatch, Checkpoints: []string{string(signed)},
		Detail:  fmt.Sprintf("reading entries from %d: %v", res.Position, err),
		Summary: fmt.Sprintf("the log's tiles do not match its checkpoint of size %d: %v", tree.N, err)}
	if err := a.record(ctx, []keyed{{"checkpoint " + ProblemTilesMismatch + " " + hex.EncodeToString(sum[:]), f}}, nil); err != nil {
		return err
	}
	return a.deliver(ctx, res)
}

// process records, in one transaction, what a checked batch of entries
// teaches and the audit's new position, then delivers the findings.
func (a *Auditor) process(ctx context.Context, b *batch, signed []byte, res *Result) error {
	batch, sts, checks := b.entries, b.sts, b.checks
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
	l, err := openLedger(ctx, tx, sts, checks)
	if err != nil {
		return err
	}
	var found []keyed
	for i, r := range batch {
		st, c := sts[i], checks[i]
		if st == nil {
			l.addEntry(r, ProblemBadEntry, nil)
			found = append(found, entryProblem(r.idx, nil, c, r.data))
			continue
		}
		fs, err := learn(ctx, l, r, st, c.status)
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
	if err := l.flush(ctx); err != nil {
		return err
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
