package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// A lookup the log did not answer is pending: it is asked again once per
// Sync, and after cfg.Attempts Syncs without an answer it is a finding.
// The honest log answers 503 only while its index catches up with its
// checkpoint, which takes moments.

// unanswered records that the log did not answer q, and returns the
// finding once it has not answered in cfg.Attempts Syncs.
func (a *Auditor) unanswered(ctx context.Context, tx *sql.Tx, q asked) ([]keyed, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT attempts FROM pending_lookups WHERE source = ? AND name = ? AND version = ? AND arch = ?`,
		q.k.source, q.k.name, q.k.version, q.k.arch).Scan(&n)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	n++
	if n >= a.cfg.Attempts {
		if err := a.answered(ctx, tx, q.k); err != nil {
			return nil, err
		}
		query := q.k.query(q.size)
		f := q.k.finding(Finding{Kind: LogMisbehaviour, Problem: ProblemLookupStale,
			Lookup:  &LookupEvidence{Query: query, Omitted: []int64{}},
			Detail:  fmt.Sprintf("no answer in %d attempts: %v", n, q.err),
			Summary: fmt.Sprintf("the log does not answer the lookup of %s as of %d entries: %v", q.k, q.size, q.err)})
		return []keyed{{key: fmt.Sprintf("%s %s %s unanswered %d", LogMisbehaviour, ProblemLookupStale, q.k, q.size), f: f}}, nil
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO pending_lookups (source, name, version, arch, size, attempts, error) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (source, name, version, arch) DO UPDATE SET size = excluded.size, attempts = excluded.attempts, error = excluded.error`,
		q.k.source, q.k.name, q.k.version, q.k.arch, q.size, n, q.err.Error())
	return nil, err
}

// answered forgets that the log did not answer a lookup of k before.
func (a *Auditor) answered(ctx context.Context, tx *sql.Tx, k lookupKey) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM pending_lookups WHERE source = ? AND name = ? AND version = ? AND arch = ?`,
		k.source, k.name, k.version, k.arch)
	return err
}

// recheck asks the pending lookups again, unless a lookup already failed
// in this Sync, and records what comes of it.
func (a *Auditor) recheck(ctx context.Context, signed []byte, res *Result) error {
	if a.lookupDown {
		return nil
	}
	rows, err := a.st.db.QueryContext(ctx, `SELECT source, name, version, arch, size FROM pending_lookups ORDER BY rowid`)
	if err != nil {
		return err
	}
	var (
		keys []lookupKey
		size = map[lookupKey]int64{}
	)
	for rows.Next() {
		var (
			k lookupKey
			n int64
		)
		if err := rows.Scan(&k.source, &k.name, &k.version, &k.arch, &n); err != nil {
			rows.Close()
			return err
		}
		keys, size[k] = append(keys, k), n
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(keys) == 0 {
		return err
	}
	qs, err := a.ask(ctx, keys, func(k lookupKey) int64 { return size[k] })
	if err != nil {
		return err
	}
	tx, err := a.st.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, q := range qs {
		found, err := a.judge(ctx, tx, q)
		if err != nil {
			return err
		}
		for _, k := range found {
			if err := addFinding(ctx, tx, k.key, a.complete(k.f, signed)); err != nil {
				return err
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	return a.deliver(ctx, res)
}

// olderKeys picks up to n packages and sources named by entries the state
// holds already (before the batch whose first index is seed), the same
// ones for the same batch: looking them up again finds an entry the log's
// index drops after it first named it.
func (a *Auditor) olderKeys(ctx context.Context, n int, seed int64) ([]lookupKey, error) {
	if n <= 0 {
		return nil, nil
	}
	r := rand.New(rand.NewPCG(uint64(seed), 0x6f6c646572))
	var keys []lookupKey
	for _, t := range []struct {
		table, columns string
		scan           func(*sql.Rows) ([]lookupKey, error)
	}{
		{"binaries", "package, version, arch", func(rows *sql.Rows) ([]lookupKey, error) {
			var k lookupKey
			err := rows.Scan(&k.name, &k.version, &k.arch)
			return []lookupKey{k}, err
		}},
		{"sources", "source, source_version, version", func(rows *sql.Rows) ([]lookupKey, error) {
			var sv, v string
			k := lookupKey{source: true}
			err := rows.Scan(&k.name, &sv, &v)
			return sourceKeys(k.name, sv, v), err
		}},
	} {
		var last sql.NullInt64
		if err := a.st.db.QueryRowContext(ctx, `SELECT MAX(rowid) FROM `+t.table).Scan(&last); err != nil {
			return nil, err
		}
		// Rows are never deleted: their rowids are 1 to last. Every row
		// when there are few, else n drawn at random.
		q, args := `SELECT `+t.columns+` FROM `+t.table, []any(nil)
		if last.Int64 > int64(n) {
			q += ` WHERE rowid IN (?` + strings.Repeat(", ?", n-1) + `)`
			for range n {
				args = append(args, 1+r.Int64N(last.Int64))
			}
		}
		rows, err := a.st.db.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			ks, err := t.scan(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			keys = append(keys, ks...)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(keys, compareKeys)
	return sample(slices.Compact(keys), n, seed), nil
}
