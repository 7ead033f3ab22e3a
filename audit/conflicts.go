package audit

import (
	"context"
	"database/sql"
	"fmt"
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

// learn records entry idx, whose statement is st and whose record check
// gave status, and returns the conflicts it reveals. Only verified entries
// are compared.
func learn(ctx context.Context, tx *sql.Tx, idx int64, st *statement.Statement, status string) ([]keyed, error) {
	if _, err := tx.ExecContext(ctx, `INSERT INTO entries (idx, status, builder, record, statement) VALUES (?, ?, ?, ?, ?)`,
		idx, status, st.Builder, st.Record, st.Marshal()); err != nil {
		return nil, err
	}
	verified := status == statusVerified
	var found []keyed
	seen := map[[3]string]bool{}
	for _, f := range st.Files {
		k := [3]string{f.Package, f.Version, f.Arch}
		if !f.IsBinary() || seen[k] {
			continue
		}
		seen[k] = true
		if verified {
			fs, err := binaryConflicts(ctx, tx, idx, st, f)
			if err != nil {
				return nil, err
			}
			found = append(found, fs...)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO binaries (package, version, arch, inputs, sha256, builder, idx, verified) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			f.Package, f.Version, f.Arch, st.Inputs, f.SHA256, st.Builder, idx, verified); err != nil {
			return nil, err
		}
	}
	dsc, _ := st.DSC()
	if verified && dsc.SHA256 != "" {
		fs, err := sourceConflicts(ctx, tx, idx, st, dsc)
		if err != nil {
			return nil, err
		}
		found = append(found, fs...)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO sources (source, source_version, version, dsc, idx, verified) VALUES (?, ?, ?, ?, ?, ?)`,
		st.Source, st.SourceVersion, st.Version, dsc.SHA256, idx, verified); err != nil {
		return nil, err
	}
	return found, nil
}

// binaryConflicts compares the binary f of a new verified statement with
// the verified statements before it.
func binaryConflicts(ctx context.Context, tx *sql.Tx, idx int64, st *statement.Statement, f statement.File) ([]keyed, error) {
	group := []any{f.Package, f.Version, f.Arch}
	inGroup := `package = ? AND version = ? AND arch = ? AND verified = 1`
	newPair, err := none(ctx, tx, `SELECT 1 FROM binaries WHERE `+inGroup+` AND inputs = ? AND sha256 = ? AND builder = ? LIMIT 1`,
		append(group, st.Inputs, f.SHA256, st.Builder)...)
	if err != nil {
		return nil, err
	}
	self := entryOf(idx, st, f.SHA256)
	base := Finding{Package: f.Package, Version: f.Version, Arch: f.Arch}
	name := fmt.Sprintf("%s %s %s", f.Package, f.Version, f.Arch)
	var found []keyed
	if newPair {
		// The same builder, the same inputs, another hash.
		others, err := earliest(ctx, tx, `SELECT builder, sha256, inputs, MIN(idx) FROM binaries WHERE `+inGroup+
			` AND inputs = ? AND builder = ? AND sha256 <> ? GROUP BY sha256 ORDER BY MIN(idx) LIMIT ?`,
			append(group, st.Inputs, st.Builder, f.SHA256, maxEvidence)...)
		if err != nil {
			return nil, err
		}
		if len(others) > 0 {
			k := base
			k.Kind = SelfContradiction
			k.Summary = fmt.Sprintf("builder %s contradicts itself on %s built from the same inputs: %s, and before %s",
				st.Builder, name, short(f.SHA256), hashes(others))
			k.Entries = append([]Entry{self}, others...)
			found = append(found, keyed{strings.Join([]string{string(SelfContradiction), name, st.Inputs, st.Builder, f.SHA256}, " "), k})
		}
		// Other builders, the same inputs, another hash.
		others, err = earliest(ctx, tx, `SELECT builder, sha256, inputs, MIN(idx) FROM binaries WHERE `+inGroup+
			` AND inputs = ? AND builder <> ? AND sha256 <> ? GROUP BY builder, sha256 ORDER BY MIN(idx) LIMIT ?`,
			append(group, st.Inputs, st.Builder, f.SHA256, maxEvidence)...)
		if err != nil {
			return nil, err
		}
		if len(others) > 0 {
			k := base
			k.Kind = Disagreement
			k.Summary = fmt.Sprintf("builders disagree on %s built from the same inputs: %s has %s; %s",
				name, st.Builder, short(f.SHA256), builderHashes(others))
			k.Entries = append([]Entry{self}, others...)
			found = append(found, keyed{strings.Join([]string{string(Disagreement), name, st.Inputs, st.Builder, f.SHA256}, " "), k})
		}
	}
	// Other inputs, another hash: is this output new for these inputs?
	newOutput, err := none(ctx, tx, `SELECT 1 FROM binaries WHERE `+inGroup+` AND inputs = ? AND sha256 = ? LIMIT 1`,
		append(group, st.Inputs, f.SHA256)...)
	if err != nil || !newOutput {
		return found, err
	}
	others, err := earliest(ctx, tx, `SELECT builder, sha256, inputs, MIN(idx) FROM binaries WHERE `+inGroup+
		` AND inputs <> ? AND sha256 <> ? GROUP BY inputs, sha256 ORDER BY MIN(idx) LIMIT ?`,
		append(group, st.Inputs, f.SHA256, maxEvidence)...)
	if err != nil {
		return nil, err
	}
	if len(others) > 0 {
		k := base
		k.Kind = Drift
		k.Summary = fmt.Sprintf("%s built from other inputs gives another file: inputs %s give %s; %s",
			name, short(st.Inputs), short(f.SHA256), inputHashes(others))
		k.Entries = append([]Entry{self}, others...)
		found = append(found, keyed{strings.Join([]string{string(Drift), name, st.Inputs, f.SHA256}, " "), k})
	}
	return found, nil
}

// sourceConflicts looks for another .dsc of the same source version.
func sourceConflicts(ctx context.Context, tx *sql.Tx, idx int64, st *statement.Statement, dsc statement.File) ([]keyed, error) {
	isNew, err := none(ctx, tx, `SELECT 1 FROM sources WHERE source = ? AND source_version = ? AND dsc = ? AND verified = 1 LIMIT 1`,
		st.Source, st.SourceVersion, dsc.SHA256)
	if err != nil || !isNew {
		return nil, err
	}
	others, err := earliest(ctx, tx, `SELECT '', dsc, '', MIN(idx) FROM sources WHERE source = ? AND source_version = ? AND verified = 1
		AND dsc <> ? AND dsc <> '' GROUP BY dsc ORDER BY MIN(idx) LIMIT ?`, st.Source, st.SourceVersion, dsc.SHA256, maxEvidence)
	if err != nil || len(others) == 0 {
		return nil, err
	}
	name := st.Source + " " + st.SourceVersion
	k := Finding{Kind: SourceChanged, Source: st.Source, SourceVersion: st.SourceVersion,
		Summary: fmt.Sprintf("source %s was built from two different .dsc files: %s %s, and before %s",
			name, dsc.Name, short(dsc.SHA256), hashes(others)),
		Entries: append([]Entry{entryOf(idx, st, dsc.SHA256)}, others...)}
	return []keyed{{strings.Join([]string{string(SourceChanged), name, dsc.SHA256}, " "), k}}, nil
}

func none(ctx context.Context, tx *sql.Tx, q string, args ...any) (bool, error) {
	var one int
	err := tx.QueryRowContext(ctx, q, args...).Scan(&one)
	if err == sql.ErrNoRows {
		return true, nil
	}
	return false, err
}

// earliest runs a query answering (builder, sha256, inputs, idx) rows and
// returns them as entries, with their statements.
func earliest(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]Entry, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for rows.Next() {
		var e Entry
		if err := rows.Scan(&e.Builder, &e.SHA256, &e.Inputs, &e.Index); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		var st []byte
		if err := tx.QueryRowContext(ctx, `SELECT statement, builder, record FROM entries WHERE idx = ?`, out[i].Index).
			Scan(&st, &out[i].Builder, &out[i].Record); err != nil {
			return nil, err
		}
		out[i].Statement = string(st)
	}
	return out, nil
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

func hashes(es []Entry) string {
	var s []string
	for _, e := range es {
		s = append(s, fmt.Sprintf("%s (entry %d)", short(e.SHA256), e.Index))
	}
	return strings.Join(s, ", ")
}

func builderHashes(es []Entry) string {
	var s []string
	for _, e := range es {
		s = append(s, fmt.Sprintf("%s has %s (entry %d)", e.Builder, short(e.SHA256), e.Index))
	}
	return strings.Join(s, "; ")
}

func inputHashes(es []Entry) string {
	var s []string
	for _, e := range es {
		s = append(s, fmt.Sprintf("inputs %s give %s (entry %d)", short(e.Inputs), short(e.SHA256), e.Index))
	}
	return strings.Join(s, "; ")
}
