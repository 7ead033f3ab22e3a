package audit

import (
	"context"
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

// learn records entry e, whose statement is st and whose record check
// gave status, and returns the conflicts it reveals. Only verified entries
// are compared.
func learn(ctx context.Context, l *ledger, e raw, st *statement.Statement, status string) ([]keyed, error) {
	idx := e.idx
	l.addEntry(e, status, st)
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
			conflicts = append(conflicts, binaryConflicts(l, idx, st, f)...)
		}
		l.addBinary(idx, st, f, verified)
	}
	found, err := group(ctx, l, idx, st, conflicts)
	if err != nil {
		return nil, err
	}
	dsc, _ := st.DSC()
	if verified && dsc.SHA256 != "" {
		fs, err := sourceConflicts(ctx, l, idx, st, dsc)
		if err != nil {
			return nil, err
		}
		found = append(found, fs...)
	}
	l.addSource(idx, st, dsc.SHA256, verified)
	return found, nil
}

// build is one verified report of a binary package.
type build struct {
	inputs, sha, builder string
	idx                  int64
}

// binaryConflicts compares the binary f of a new verified statement with
// the verified statements before it: one binary package has a handful of
// builds.
func binaryConflicts(l *ledger, idx int64, st *statement.Statement, f statement.File) []conflict {
	before := l.builds[binaryKey{f.Package, f.Version, f.Arch}]
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
	return found
}

// sourceConflicts looks for another .dsc of the same source version.
func sourceConflicts(ctx context.Context, l *ledger, idx int64, st *statement.Statement, dsc statement.File) ([]keyed, error) {
	var others []Entry
	seen := map[string]bool{}
	known := false
	for _, e := range l.dscs[sourceKey{st.Source, st.SourceVersion}] {
		known = known || e.SHA256 == dsc.SHA256
		if e.SHA256 != dsc.SHA256 && !seen[e.SHA256] && len(others) < maxEvidence {
			seen[e.SHA256] = true
			others = append(others, e)
		}
	}
	if known || len(others) == 0 {
		return nil, nil
	}
	for i := range others {
		if err := l.statementOf(ctx, &others[i]); err != nil {
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
