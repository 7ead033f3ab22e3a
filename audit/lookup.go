package audit

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
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
		for _, k := range sourceKeys(st.Source, st.SourceVersion, st.Version) {
			add(k)
		}
	}
	return keys
}

// sourceKeys are the lookups of a source version: by the source's own
// version, and by the binNMU version (1.0-1+b1) when there is one, which
// the log's index names too.
func sourceKeys(source, sourceVersion, version string) []lookupKey {
	keys := []lookupKey{{source: true, name: source, version: sourceVersion}}
	if version != sourceVersion {
		keys = append(keys, lookupKey{source: true, name: source, version: version})
	}
	return keys
}

// compareKeys orders keys, to sort them before slices.Compact.
func compareKeys(a, b lookupKey) int {
	if a.source != b.source {
		if a.source {
			return 1
		}
		return -1
	}
	return cmp.Or(strings.Compare(a.name, b.name), strings.Compare(a.version, b.version), strings.Compare(a.arch, b.arch))
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

// asked is a lookup made of the log, as of a tree size, and its answer or
// why there is none.
type asked struct {
	k    lookupKey
	size int64 // the tree size asked for: the answer must cover it
	body []byte
	err  error // the log did not answer (after the fetcher's retries)
}

// ask looks up keys as of size, in order, until the log fails to answer
// one: then no more lookups are made in this Sync, so that a log whose
// index is down costs one failed lookup per Sync. Only a cancelled ctx is
// an error.
func (a *Auditor) ask(ctx context.Context, keys []lookupKey, size func(lookupKey) int64) ([]asked, error) {
	var out []asked
	for _, k := range keys {
		if a.lookupDown {
			break
		}
		q := asked{k: k, size: size(k)}
		q.body, q.err = a.api.get(ctx, k.query(q.size), maxLookupSize)
		if q.err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			a.lookupDown = true
			a.log.Warn("lookup failed: tried again at the next sync", "query", k.query(q.size), "error", q.err)
		}
		out = append(out, q)
	}
	return out, nil
}

// judge compares the log's answer to q with the entries the auditor knows
// name q.k, and returns what the log got wrong. An honest log answers for
// at least the size asked (it answers 503 while its index catches up): an
// answer for fewer entries is a finding too. A lookup the log did not
// answer is kept to be asked again (see pending).
func (a *Auditor) judge(ctx context.Context, tx *sql.Tx, q asked) ([]keyed, error) {
	if q.err != nil {
		return a.unanswered(ctx, tx, q)
	}
	if err := a.answered(ctx, tx, q.k); err != nil {
		return nil, err
	}
	query := q.k.query(q.size)
	f := q.k.finding(Finding{Kind: LogMisbehaviour, Lookup: &LookupEvidence{Query: query, Answer: string(q.body), Omitted: []int64{}}})
	ans, err := parseLookup(q.body)
	if err != nil {
		sum := sha256.Sum256(q.body)
		f.Problem, f.Detail = ProblemLookupInvalid, err.Error()
		f.Summary = fmt.Sprintf("the log's answer to the lookup of %s is not a lookup answer: %v", q.k, err)
		return []keyed{{key: strings.Join([]string{string(LogMisbehaviour), ProblemLookupInvalid, hex.EncodeToString(sum[:])}, " "), f: f}}, nil
	}
	known, err := a.knownIndices(ctx, tx, q.k, q.size)
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
		if ans.TreeSize >= q.size {
			return nil, nil
		}
		f.Problem = ProblemLookupStale
		f.Detail = fmt.Sprintf("asked as of %d entries, the log answered as of %d", q.size, ans.TreeSize)
		f.Summary = fmt.Sprintf("the log's lookup of %s covers %d entries, not the %d asked for", q.k, ans.TreeSize, q.size)
		// One finding per size the log's answers are stuck at.
		return []keyed{{key: fmt.Sprintf("%s %s %d", LogMisbehaviour, ProblemLookupStale, ans.TreeSize), f: f}}, nil
	}
	for _, i := range omitted[:min(len(omitted), maxEvidence)] {
		e := Entry{Index: i}
		var st []byte
		if err := tx.QueryRowContext(ctx, `SELECT statement, builder, record FROM entries WHERE idx = ?`, i).
			Scan(&st, &e.Builder, &e.Record); err != nil {
			return nil, err
		}
		e.Statement = string(st)
		f.Entries = append(f.Entries, e)
	}
	var ids []string
	for _, i := range omitted {
		ids = append(ids, strconv.FormatInt(i, 10))
	}
	f.Problem, f.Lookup.Omitted = ProblemLookupOmission, omitted
	f.Summary = fmt.Sprintf("the log's lookup of %s leaves out %d entries naming it (%s)", q.k, len(omitted), strings.Join(ids, ", "))
	if ans.TreeSize < q.size {
		f.Detail = fmt.Sprintf("asked as of %d entries, the log answered as of %d", q.size, ans.TreeSize)
	}
	return []keyed{{key: strings.Join([]string{string(LogMisbehaviour), ProblemLookupOmission, q.k.String(), strings.Join(ids, ",")}, " "), f: f}}, nil
}

// finding fills in what f is about: k's package or source.
func (k lookupKey) finding(f Finding) Finding {
	if k.source {
		f.Source, f.SourceVersion = k.name, k.version
	} else {
		f.Package, f.Version, f.Arch = k.name, k.version, k.arch
	}
	return f
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
