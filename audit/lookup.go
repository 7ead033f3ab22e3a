package audit

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/reprolog/reprolog/statement"
)

// lookupKey is what a lookup asks for: a binary package (name, version,
// arch) or a source version (name, version).
type lookupKey struct {
	source              bool
	name, version, arch string
}

func (k lookupKey) String() string {
	if k.source {
		return "source " + k.name + " " + k.version
	}
	return k.name + " " + k.version + " " + k.arch
}

// query is the lookup's path and query for a log of at least n entries.
func (k lookupKey) query(n int64) string {
	v := url.Values{}
	if k.source {
		v.Set("source", k.name)
	} else {
		v.Set("package", k.name)
		v.Set("arch", k.arch)
	}
	v.Set("version", k.version)
	v.Set("tree_size", strconv.FormatInt(n, 10))
	return "/lookup?" + v.Encode()
}

// lookupKeys lists what the statements name, each once, in order.
func lookupKeys(sts []*statement.Statement) []lookupKey {
	var keys []lookupKey
	seen := map[lookupKey]bool{}
	add := func(k lookupKey) {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for _, st := range sts {
		for _, f := range st.Files {
			if f.IsBinary() {
				add(lookupKey{name: f.Package, version: f.Version, arch: f.Arch})
			}
		}
		add(lookupKey{source: true, name: st.Source, version: st.SourceVersion})
	}
	return keys
}

// sample picks up to n keys, the same ones for the same batch.
func sample(keys []lookupKey, n int, seed int64) []lookupKey {
	keys = slices.Clone(keys)
	r := rand.New(rand.NewPCG(uint64(seed), 0x72657072))
	r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	return keys[:min(n, len(keys))]
}

// lookupAnswer is the log's answer to a lookup.
type lookupAnswer struct {
	TreeSize int64
	Indices  []int64
}

// parseLookup reads a lookup answer: one JSON object with tree_size and
// indices, each index below tree_size. Other members are ignored.
func parseLookup(body []byte) (lookupAnswer, error) {
	var raw struct {
		TreeSize *int64  `json:"tree_size"`
		Indices  []int64 `json:"indices"`
	}
	d := json.NewDecoder(bytes.NewReader(body))
	if err := d.Decode(&raw); err != nil {
		return lookupAnswer{}, fmt.Errorf("malformed lookup answer: %v", err)
	}
	if d.More() {
		return lookupAnswer{}, errors.New("malformed lookup answer: data after the object")
	}
	if raw.TreeSize == nil || *raw.TreeSize < 0 || raw.Indices == nil {
		return lookupAnswer{}, errors.New("malformed lookup answer: want tree_size and indices")
	}
	for _, i := range raw.Indices {
		if i < 0 || i >= *raw.TreeSize {
			return lookupAnswer{}, fmt.Errorf("malformed lookup answer: index %d is not below tree_size %d", i, *raw.TreeSize)
		}
	}
	return lookupAnswer{TreeSize: *raw.TreeSize, Indices: raw.Indices}, nil
}

// checkLookup asks the log for k and compares its answer with the entries
// before end that the auditor knows name k. A failure to ask is logged,
// not fatal: lookups are a sample.
func (a *Auditor) checkLookup(ctx context.Context, tx *sql.Tx, k lookupKey, end int64) ([]keyed, error) {
	q := k.query(end)
	body, err := a.api.get(ctx, q, maxLookupSize)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		a.log.Warn("lookup failed", "query", q, "error", err)
		return nil, nil
	}
	ans, err := parseLookup(body)
	if err != nil {
		a.log.Warn("lookup failed", "query", q, "error", err)
		return nil, nil
	}
	known, err := a.knownIndices(ctx, tx, k, min(end, ans.TreeSize))
	if err != nil {
		return nil, err
	}
	var omitted []int64
	for _, i := range known {
		if !slices.Contains(ans.Indices, i) {
			omitted = append(omitted, i)
		}
	}
	if len(omitted) == 0 {
		return nil, nil
	}
	var entries []Entry
	for _, i := range omitted[:min(len(omitted), maxEvidence)] {
		e := Entry{Index: i}
		var st []byte
		if err := tx.QueryRowContext(ctx, `SELECT statement, builder, record FROM entries WHERE idx = ?`, i).
			Scan(&st, &e.Builder, &e.Record); err != nil {
			return nil, err
		}
		e.Statement = string(st)
		entries = append(entries, e)
	}
	var ids []string
	for _, i := range omitted {
		ids = append(ids, strconv.FormatInt(i, 10))
	}
	f := Finding{Kind: LogMisbehaviour, Problem: ProblemLookupOmission,
		Summary: fmt.Sprintf("the log's lookup of %s leaves out %d entries naming it (%s)", k, len(omitted), strings.Join(ids, ", ")),
		Entries: entries,
		Lookup:  &LookupEvidence{Query: q, Answer: string(body), Omitted: omitted}}
	if k.source {
		f.Source, f.SourceVersion = k.name, k.version
	} else {
		f.Package, f.Version, f.Arch = k.name, k.version, k.arch
	}
	return []keyed{{key: strings.Join([]string{string(LogMisbehaviour), ProblemLookupOmission, k.String(), strings.Join(ids, ",")}, " "), f: f}}, nil
}

// knownIndices lists the entries before n that name k, as the log's index
// should: a source version is found by its own version or the binNMU one.
func (a *Auditor) knownIndices(ctx context.Context, tx *sql.Tx, k lookupKey, n int64) ([]int64, error) {
	q, args := `SELECT idx FROM binaries WHERE package = ? AND version = ? AND arch = ? AND idx < ?`, []any{k.name, k.version, k.arch, n}
	if k.source {
		q = `SELECT idx FROM sources WHERE source = ? AND (source_version = ? OR version = ?) AND idx < ?`
		args = []any{k.name, k.version, k.version, n}
	}
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var i int64
		if err := rows.Scan(&i); err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, rows.Err()
}
