package audit

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/reprolog/reprolog/statement"
)

// keyed is a finding and the key that makes it unique: a finding whose
// key was recorded before is not recorded again.
type keyed struct {
	key string
	f   Finding
}

// maxEvidence bounds the other entries a finding names.
const maxEvidence = 16

// batchSQL holds the statements one batch runs for every entry, prepared
// once on its transaction.
type batchSQL struct {
	insertEntry, insertBinary, insertSource *sql.Stmt
	binaries, sources, entry                *sql.Stmt
}

func prepare(ctx context.Context, tx *sql.Tx) (*batchSQL, error) {
	q := &batchSQL{}
	for _, s := range []struct {
		stmt **sql.Stmt
		text string
	}{
		{&q.insertEntry, `INSERT INTO entries (idx, status, builder, record, statement) VALUES (?, ?, ?, ?, ?)`},
		{&q.insertBinary, `INSERT INTO binaries (package, version, arch, inputs, sha256, builder, idx, verified) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`},
		{&q.insertSource, `INSERT INTO sources (source, source_version, version, dsc, idx, verified) VALUES (?, ?, ?, ?, ?, ?)`},
		{&q.binaries, `SELECT inputs, sha256, builder, idx FROM binaries WHERE package = ? AND version = ? AND arch = ? AND verified = 1 ORDER BY idx`},
		{&q.sources, `SELECT dsc, idx FROM sources WHERE source = ? AND source_version = ? AND verified = 1 AND dsc <> '' ORDER BY idx`},
		{&q.entry, `SELECT statement, builder, record FROM entries WHERE idx = ?`},
	} {
		st, err := tx.PrepareContext(ctx, s.text)
		if err != nil {
			q.close()
			return nil, err
		}
		*s.stmt = st
	}
	return q, nil
}

func (q *batchSQL) close() {
	for _, s := range []*sql.Stmt{q.insertEntry, q.insertBinary, q.insertSource, q.binaries, q.sources, q.entry} {
		if s != nil {
			s.Close()
		}
	}
}

// learn records entry e, whose statement is st and whose record check
// gave status, and returns the conflicts it reveals. Only verified entries
// are compared.
func learn(ctx context.Context, q *batchSQL, e raw, st *statement.Statement, status string) ([]keyed, error) {
	idx := e.idx
	if _, err := q.insertEntry.ExecContext(ctx, idx, status, st.Builder, st.Record, e.data); err != nil {
		return nil, err
	}
	verified := status == statusVerified
	var conflicts []conflict
	seen := map[[3]string]bool{}
	for _, f := range st.Files {
		k := [3]string{f.Package, f.Version, f.Arch}
		if !f.IsBinary() || seen[k] {
			continue
		}
		seen[k] = true
		if verified {
			cs, err := binaryConflicts(ctx, q, idx, st, f)
			if err != nil {
				return nil, err
			}
			conflicts = append(conflicts, cs...)
		}
		if _, err := q.insertBinary.ExecContext(ctx, f.Package, f.Version, f.Arch, st.Inputs, f.SHA256, st.Builder, idx, verified); err != nil {
			return nil, err
		}
	}
	found, err := group(ctx, q, idx, st, conflicts)
	if err != nil {
		return nil, err
	}
	dsc, _ := st.DSC()
	if verified && dsc.SHA256 != "" {
		fs, err := sourceConflicts(ctx, q, idx, st, dsc)
		if err != nil {
			return nil, err
		}
		found = append(found, fs...)
	}
	if _, err := q.insertSource.ExecContext(ctx, st.Source, st.SourceVersion, st.Version, dsc.SHA256, idx, verified); err != nil {
		return nil, err
	}
	return found, nil
}

// build is one verified report of a binary package.
type build struct {
	inputs, sha, builder string
	idx                  int64
}

// binaryConflicts compares the binary f of a new verified statement with
// the verified statements before it, all read at once: one binary package
// has a handful of builds.
func binaryConflicts(ctx context.Context, q *batchSQL, idx int64, st *statement.Statement, f statement.File) ([]conflict, error) {
	rows, err := q.binaries.QueryContext(ctx, f.Package, f.Version, f.Arch)
	if err != nil {
		return nil, err
	}
	var before []build
	for rows.Next() {
		var b build
		if err := rows.Scan(&b.inputs, &b.sha, &b.builder, &b.idx); err != nil {
			rows.Close()
			return nil, err
		}
		before = append(before, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	me := build{inputs: st.Inputs, sha: f.SHA256, builder: st.Builder, idx: idx}
	// earliest picks, for each distinct key, the first build that matches.
	earliest := func(match func(build) bool, key func(build) string) []build {
		var out []build
		seen := map[string]bool{}
		for _, b := range before {
			if match(b) && !seen[key(b)] && len(out) < maxEvidence {
				seen[key(b)] = true
				out = append(out, b)
			}
		}
		return out
	}
	has := func(match func(build) bool) bool { return slices.ContainsFunc(before, match) }
	var found []conflict
	add := func(kind Kind, others []build) {
		if len(others) > 0 {
			found = append(found, conflict{kind, f, others})
		}
	}
	if !has(func(b build) bool { return b.inputs == me.inputs && b.sha == me.sha && b.builder == me.builder }) {
		// The same builder, the same inputs, another hash.
		add(SelfContradiction, earliest(func(b build) bool { return b.inputs == me.inputs && b.builder == me.builder && b.sha != me.sha },
			func(b build) string { return b.sha }))
		// Other builders, the same inputs, another hash.
		add(Disagreement, earliest(func(b build) bool { return b.inputs == me.inputs && b.builder != me.builder && b.sha != me.sha },
			func(b build) string { return b.builder + " " + b.sha }))
	}
	// Other inputs, another hash, and this output new for these inputs.
	if !has(func(b build) bool { return b.inputs == me.inputs && b.sha == me.sha }) {
		add(Drift, earliest(func(b build) bool { return b.inputs != me.inputs && b.sha != me.sha },
			func(b build) string { return b.inputs + " " + b.sha }))
	}
	return found, nil
}

// sourceConflicts looks for another .dsc of the same source version.
func sourceConflicts(ctx context.Context, q *batchSQL, idx int64, st *statement.Statement, dsc statement.File) ([]keyed, error) {
	rows, err := q.sources.QueryContext(ctx, st.Source, st.SourceVersion)
	if err != nil {
		return nil, err
	}
	var others []Entry
	seen := map[string]bool{}
	known := false
	for rows.Next() {
		var e Entry
		if err := rows.Scan(&e.SHA256, &e.Index); err != nil {
			rows.Close()
			return nil, err
		}
		known = known || e.SHA256 == dsc.SHA256
		if e.SHA256 != dsc.SHA256 && !seen[e.SHA256] && len(others) < maxEvidence {
			seen[e.SHA256] = true
			others = append(others, e)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil || known || len(others) == 0 {
		return nil, err
	}
	for i := range others {
		if err := statementOf(ctx, q, &others[i]); err != nil {
			return nil, err
		}
	}
	name := st.Source + " " + st.SourceVersion
	k := Finding{Kind: SourceChanged, Source: st.Source, SourceVersion: st.SourceVersion,
		Summary: fmt.Sprintf("source %s was built from two different .dsc files: %s %s, and before %s",
			name, dsc.Name, short(dsc.SHA256), entryHashes(others)),
		Entries: append([]Entry{entryOf(idx, st, dsc.SHA256)}, others...)}
	return []keyed{{strings.Join([]string{string(SourceChanged), name, dsc.SHA256}, " "), k}}, nil
}

// statementOf fills in e's statement, builder and record from the state.
func statementOf(ctx context.Context, q *batchSQL, e *Entry) error {
	var st []byte
	if err := q.entry.QueryRowContext(ctx, e.Index).Scan(&st, &e.Builder, &e.Record); err != nil {
		return err
	}
	e.Statement = string(st)
	return nil
}

func entryOf(idx int64, st *statement.Statement, sha string) Entry {
	return Entry{Index: idx, Builder: st.Builder, SHA256: sha, Inputs: st.Inputs, Statement: string(st.Marshal()), Record: st.Record}
}

// short abbreviates a hash for summaries; the evidence has it whole.
func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func entryHashes(es []Entry) string {
	var s []string
	for _, e := range es {
		s = append(s, fmt.Sprintf("%s (entry %d)", short(e.SHA256), e.Index))
	}
	return strings.Join(s, ", ")
}

func buildHashes(bs []build) string {
	var s []string
	for _, b := range bs {
		s = append(s, fmt.Sprintf("%s (entry %d)", short(b.sha), b.idx))
	}
	return strings.Join(s, ", ")
}

func builderHashes(bs []build) string {
	var s []string
	for _, b := range bs {
		s = append(s, fmt.Sprintf("%s has %s (entry %d)", b.builder, short(b.sha), b.idx))
	}
	return strings.Join(s, "; ")
}

func inputHashes(bs []build) string {
	var s []string
	for _, b := range bs {
		s = append(s, fmt.Sprintf("inputs %s give %s (entry %d)", short(b.inputs), short(b.sha), b.idx))
	}
	return strings.Join(s, "; ")
}
