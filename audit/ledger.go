package audit

import (
	"context"
	"database/sql"
	"strings"

	"github.com/reprolog/reprolog/statement"
)

// A ledger is what the transaction of one batch reads and writes. The
// verified builds of every binary package and source version the batch
// names are read from the state in a few queries before the batch is
// learnt, and each entry's builds are added to them as it is learnt, so
// that an entry is compared with every verified entry before it, in the
// state or earlier in the batch. The batch's rows are written together at
// the end (flush), a few statements for the whole batch.
type ledger struct {
	tx       *sql.Tx
	builds   map[binaryKey][]build // verified builds, in log order
	dscs     map[sourceKey][]Entry // verified .dsc hashes (SHA256, Index), in log order
	statedAt map[int64]stored      // the batch's entries
	entries  [][]any               // rows to insert, in the order of their tables' columns
	binaries [][]any
	sources  [][]any
}

type (
	binaryKey struct{ pkg, version, arch string }
	sourceKey struct{ source, version string }
	stored    struct{ statement, builder, record string }
)

// Columns of the rows a ledger writes.
var (
	entryColumns  = []string{"idx", "status", "builder", "record", "statement"}
	binaryColumns = []string{"package", "version", "arch", "inputs", "sha256", "builder", "idx", "verified"}
	sourceColumns = []string{"source", "source_version", "version", "dsc", "idx", "verified"}
)

// keysPerQuery bounds the keys of one query, and rowsPerInsert the rows of
// one INSERT: SQLite takes at most 32,766 parameters.
const (
	keysPerQuery  = 256
	rowsPerInsert = 256
)

// openLedger reads the verified builds of what the verified statements of
// sts name (the others are not compared).
func openLedger(ctx context.Context, tx *sql.Tx, sts []*statement.Statement, checks []check) (*ledger, error) {
	l := &ledger{tx: tx, builds: map[binaryKey][]build{}, dscs: map[sourceKey][]Entry{}, statedAt: map[int64]stored{}}
	var bins []binaryKey
	var srcs []sourceKey
	for i, st := range sts {
		if st == nil || checks[i].status != statusVerified {
			continue
		}
		for _, f := range st.Files {
			k := binaryKey{f.Package, f.Version, f.Arch}
			if _, ok := l.builds[k]; f.IsBinary() && !ok {
				l.builds[k] = nil
				bins = append(bins, k)
			}
		}
		k := sourceKey{st.Source, st.SourceVersion}
		if _, ok := l.dscs[k]; !ok {
			l.dscs[k] = nil
			srcs = append(srcs, k)
		}
	}
	for len(bins) > 0 {
		n := min(len(bins), keysPerQuery)
		var args []any
		for _, k := range bins[:n] {
			args = append(args, k.pkg, k.version, k.arch)
		}
		err := l.query(ctx, `SELECT package, version, arch, inputs, sha256, builder, idx FROM binaries
			WHERE verified = 1 AND (package, version, arch) IN (VALUES `+tuples(n, 3)+`) ORDER BY idx`, args, func(rows *sql.Rows) error {
			var k binaryKey
			var b build
			err := rows.Scan(&k.pkg, &k.version, &k.arch, &b.inputs, &b.sha, &b.builder, &b.idx)
			l.builds[k] = append(l.builds[k], b)
			return err
		})
		if err != nil {
			return nil, err
		}
		bins = bins[n:]
	}
	for len(srcs) > 0 {
		n := min(len(srcs), keysPerQuery)
		var args []any
		for _, k := range srcs[:n] {
			args = append(args, k.source, k.version)
		}
		err := l.query(ctx, `SELECT source, source_version, dsc, idx FROM sources
			WHERE verified = 1 AND dsc <> '' AND (source, source_version) IN (VALUES `+tuples(n, 2)+`) ORDER BY idx`, args, func(rows *sql.Rows) error {
			var k sourceKey
			var e Entry
			err := rows.Scan(&k.source, &k.version, &e.SHA256, &e.Index)
			l.dscs[k] = append(l.dscs[k], e)
			return err
		})
		if err != nil {
			return nil, err
		}
		srcs = srcs[n:]
	}
	return l, nil
}

func (l *ledger) query(ctx context.Context, q string, args []any, scan func(*sql.Rows) error) error {
	rows, err := l.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// tuples is n placeholder tuples of width values: (?, ?), (?, ?), ...
func tuples(n, width int) string {
	t := "(?" + strings.Repeat(", ?", width-1) + ")"
	return t + strings.Repeat(", "+t, n-1)
}

// addEntry records entry idx; st is nil for an entry that is not a
// statement.
func (l *ledger) addEntry(e raw, status string, st *statement.Statement) {
	var builder, record string
	if st != nil {
		builder, record = st.Builder, st.Record
		l.statedAt[e.idx] = stored{string(e.data), builder, record}
	}
	l.entries = append(l.entries, []any{e.idx, status, builder, record, e.data})
}

// addBinary records a build of f by the statement st of entry idx.
func (l *ledger) addBinary(idx int64, st *statement.Statement, f statement.File, verified bool) {
	l.binaries = append(l.binaries, []any{f.Package, f.Version, f.Arch, st.Inputs, f.SHA256, st.Builder, idx, verified})
	if verified {
		k := binaryKey{f.Package, f.Version, f.Arch}
		l.builds[k] = append(l.builds[k], build{inputs: st.Inputs, sha: f.SHA256, builder: st.Builder, idx: idx})
	}
}

// addSource records the source of the statement st of entry idx, and its
// .dsc hash (empty when it lists none).
func (l *ledger) addSource(idx int64, st *statement.Statement, dsc string, verified bool) {
	l.sources = append(l.sources, []any{st.Source, st.SourceVersion, st.Version, dsc, idx, verified})
	if verified && dsc != "" {
		k := sourceKey{st.Source, st.SourceVersion}
		l.dscs[k] = append(l.dscs[k], Entry{SHA256: dsc, Index: idx})
	}
}

// statementOf fills in e's statement, builder and record.
func (l *ledger) statementOf(ctx context.Context, e *Entry) error {
	if s, ok := l.statedAt[e.Index]; ok {
		e.Statement, e.Builder, e.Record = s.statement, s.builder, s.record
		return nil
	}
	var st []byte
	if err := l.tx.QueryRowContext(ctx, `SELECT statement, builder, record FROM entries WHERE idx = ?`, e.Index).
		Scan(&st, &e.Builder, &e.Record); err != nil {
		return err
	}
	e.Statement = string(st)
	return nil
}

// flush writes the rows recorded so far.
func (l *ledger) flush(ctx context.Context) error {
	for _, t := range []struct {
		table   string
		columns []string
		rows    *[][]any
	}{{"entries", entryColumns, &l.entries}, {"binaries", binaryColumns, &l.binaries}, {"sources", sourceColumns, &l.sources}} {
		for rows := *t.rows; len(rows) > 0; {
			n := min(len(rows), rowsPerInsert)
			var args []any
			for _, r := range rows[:n] {
				args = append(args, r...)
			}
			q := `INSERT INTO ` + t.table + ` (` + strings.Join(t.columns, ", ") + `) VALUES ` + tuples(n, len(t.columns))
			if _, err := l.tx.ExecContext(ctx, q, args...); err != nil {
				return err
			}
			rows = rows[n:]
		}
		*t.rows = nil
	}
	return nil
}
