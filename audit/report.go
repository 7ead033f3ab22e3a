package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
)

// Report is what a state directory knows: the audit's position, what the
// entries were, the findings, and the status of every binary package.
type Report struct {
	Log        string          `json:"log"`
	TreeSize   int64           `json:"tree_size"`
	Position   int64           `json:"position"`
	Checkpoint string          `json:"checkpoint,omitempty"`
	Entries    map[string]int  `json:"entries"`  // by status: "verified", "key-revoked", or a Problem
	Findings   map[Kind]int    `json:"findings"` // by kind
	Packages   []PackageStatus `json:"packages"`
	Sources    []SourceStatus  `json:"sources_changed"`
}

// Package statuses, from the worst.
const (
	StatusSelfContradiction = "self-contradiction" // a builder reported two hashes for the same inputs
	StatusDisagreement      = "disagreement"       // builders reported different hashes for the same inputs
	StatusDrift             = "drift"              // other inputs gave another hash
	StatusReproduced        = "reproduced"         // two or more builders, one hash
	StatusSingle            = "single"             // one builder
)

// PackageStatus sums up the verified builds of one binary package.
type PackageStatus struct {
	Package string `json:"package"`
	Version string `json:"version"`
	Arch    string `json:"arch"`
	Status  string `json:"status"`
	// Builders is how many builders reported the package, Inputs how many
	// different build inputs they used.
	Builders int `json:"builders"`
	Inputs   int `json:"inputs"`
	// SHA256 is the hash most builders reported (the earliest on a tie),
	// Agree the builders that reported it.
	SHA256 string   `json:"sha256"`
	Agree  []string `json:"agree"`
	// Dissent are builders that reported another hash from inputs that
	// gave SHA256; Drift builders that reported another hash from other
	// inputs; SelfContradicting builders that reported two hashes from the
	// same inputs.
	Dissent           []string `json:"dissent,omitempty"`
	Drift             []string `json:"drift,omitempty"`
	SelfContradicting []string `json:"self_contradicting,omitempty"`
}

// SourceStatus is a source version built from several .dsc files.
type SourceStatus struct {
	Source  string   `json:"source"`
	Version string   `json:"version"`
	DSCs    []string `json:"dsc_sha256"`
}

// ReadReport reads the report of the state in dir. It does not need the
// auditor to be stopped.
func ReadReport(ctx context.Context, dir string) (*Report, error) {
	st, err := openDB(ctx, filepath.Join(dir, StateFile), true)
	if err != nil {
		return nil, err
	}
	defer st.close()
	// One read transaction: a consistent view while an auditor writes.
	tx, err := st.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	r := &Report{Entries: map[string]int{}, Findings: map[Kind]int{}, Packages: []PackageStatus{}, Sources: []SourceStatus{}}
	if err := tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = 'origin'`).Scan(&r.Log); err != nil {
		return nil, fmt.Errorf("audit: %s holds no audit state: %w", dir, err)
	}
	var signed []byte
	err = tx.QueryRowContext(ctx, `SELECT size, next, signed FROM head WHERE id = 1`).Scan(&r.TreeSize, &r.Position, &signed)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	r.Checkpoint = string(signed)
	counts := func(q string, add func(string, int)) error {
		rows, err := tx.QueryContext(ctx, q)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				k string
				n int
			)
			if err := rows.Scan(&k, &n); err != nil {
				return err
			}
			add(k, n)
		}
		return rows.Err()
	}
	if err := counts(`SELECT status, COUNT(*) FROM entries GROUP BY status`, func(k string, n int) { r.Entries[k] = n }); err != nil {
		return nil, err
	}
	if err := counts(`SELECT kind, COUNT(*) FROM findings GROUP BY kind`, func(k string, n int) { r.Findings[Kind(k)] = n }); err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT package, version, arch, inputs, sha256, builder FROM binaries
		WHERE verified = 1 ORDER BY package, version, arch, idx`)
	if err != nil {
		return nil, err
	}
	var cur []pkgBuild
	for rows.Next() {
		var b pkgBuild
		if err := rows.Scan(&b.pkg, &b.version, &b.arch, &b.inputs, &b.sha, &b.builder); err != nil {
			rows.Close()
			return nil, err
		}
		if len(cur) > 0 && (cur[0].pkg != b.pkg || cur[0].version != b.version || cur[0].arch != b.arch) {
			r.Packages = append(r.Packages, packageStatus(cur))
			cur = cur[:0]
		}
		cur = append(cur, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(cur) > 0 {
		r.Packages = append(r.Packages, packageStatus(cur))
	}
	src, err := tx.QueryContext(ctx, `SELECT source, source_version, group_concat(DISTINCT dsc) FROM sources
		WHERE verified = 1 AND dsc <> '' GROUP BY source, source_version HAVING COUNT(DISTINCT dsc) > 1 ORDER BY source, source_version`)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	for src.Next() {
		var s SourceStatus
		var dscs string
		if err := src.Scan(&s.Source, &s.Version, &dscs); err != nil {
			return nil, err
		}
		s.DSCs = slices.Sorted(slices.Values(strings.Split(dscs, ",")))
		r.Sources = append(r.Sources, s)
	}
	return r, src.Err()
}

// pkgBuild is one verified report of a binary package.
type pkgBuild struct{ pkg, version, arch, inputs, sha, builder string }

// packageStatus sums up the builds of one package, in log order.
func packageStatus(bs []pkgBuild) PackageStatus {
	p := PackageStatus{Package: bs[0].pkg, Version: bs[0].version, Arch: bs[0].arch}
	byHash := map[string]map[string]bool{}
	var order []string
	inputs, builders := map[string]bool{}, map[string]bool{}
	for _, b := range bs {
		if byHash[b.sha] == nil {
			byHash[b.sha] = map[string]bool{}
			order = append(order, b.sha)
		}
		byHash[b.sha][b.builder] = true
		inputs[b.inputs], builders[b.builder] = true, true
	}
	p.Builders, p.Inputs = len(builders), len(inputs)
	for _, h := range order {
		if len(byHash[h]) > len(byHash[p.SHA256]) {
			p.SHA256 = h
		}
	}
	p.Agree = slices.Sorted(maps.Keys(byHash[p.SHA256]))
	agreeing := map[string]bool{} // inputs that gave SHA256
	hashesOf := map[[2]string]map[string]bool{}
	for _, b := range bs {
		if b.sha == p.SHA256 {
			agreeing[b.inputs] = true
		}
		k := [2]string{b.builder, b.inputs}
		if hashesOf[k] == nil {
			hashesOf[k] = map[string]bool{}
		}
		hashesOf[k][b.sha] = true
	}
	dissent, drift, self := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, b := range bs {
		if len(hashesOf[[2]string{b.builder, b.inputs}]) > 1 {
			self[b.builder] = true
		}
		if b.sha == p.SHA256 {
			continue
		}
		if agreeing[b.inputs] {
			dissent[b.builder] = true
		} else {
			drift[b.builder] = true
		}
	}
	p.Dissent = slices.Sorted(maps.Keys(dissent))
	p.Drift = slices.Sorted(maps.Keys(drift))
	p.SelfContradicting = slices.Sorted(maps.Keys(self))
	switch {
	case len(self) > 0:
		p.Status = StatusSelfContradiction
	case len(dissent) > 0:
		p.Status = StatusDisagreement
	case len(drift) > 0:
		p.Status = StatusDrift
	case len(p.Agree) > 1:
		p.Status = StatusReproduced
	default:
		p.Status = StatusSingle
	}
	return p
}

// WriteText writes the report for people: a summary, then one line per
// package.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "log %s: %d of %d entries audited", r.Log, r.Position, r.TreeSize)
	for _, k := range slices.Sorted(maps.Keys(r.Entries)) {
		fmt.Fprintf(&b, ", %d %s", r.Entries[k], k)
	}
	b.WriteString("\nfindings:")
	for _, k := range Kinds {
		fmt.Fprintf(&b, " %s %d", k, r.Findings[k])
	}
	b.WriteString("\n")
	for _, p := range r.Packages {
		fmt.Fprintf(&b, "%s %s %s: %s, %d of %d builders agree on %s", p.Package, p.Version, p.Arch,
			p.Status, len(p.Agree), p.Builders, short(p.SHA256))
		for _, l := range []struct {
			name string
			fprs []string
		}{{"dissent", p.Dissent}, {"self-contradicting", p.SelfContradicting}, {"drift", p.Drift}} {
			if len(l.fprs) > 0 {
				fmt.Fprintf(&b, "; %s: %s", l.name, strings.Join(l.fprs, " "))
			}
		}
		b.WriteString("\n")
	}
	for _, s := range r.Sources {
		fmt.Fprintf(&b, "source %s %s: built from %d different .dsc files\n", s.Source, s.Version, len(s.DSCs))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
