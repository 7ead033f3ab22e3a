package audit

import (
	"context"
	"fmt"
	"strings"

	"github.com/reprolog/reprolog/statement"
)

// conflict is one binary package of a new entry in conflict of one kind
// with earlier builds.
type conflict struct {
	kind   Kind
	file   statement.File
	others []build
}

// group makes one finding per kind of the conflicts of entry idx, listing
// every binary package in it: a record of 19 binary packages that
// disagrees with another is one finding, not 19.
func group(ctx context.Context, l *ledger, idx int64, st *statement.Statement, conflicts []conflict) ([]keyed, error) {
	var found []keyed
	for _, kind := range Kinds {
		var cs []conflict
		for _, c := range conflicts {
			if c.kind == kind {
				cs = append(cs, c)
			}
		}
		if len(cs) == 0 {
			continue
		}
		f := Finding{Kind: kind, Source: st.Source, SourceVersion: st.SourceVersion, Entries: []Entry{entryOf(idx, st, "")}}
		in := map[int64]bool{idx: true}
		for _, c := range cs {
			b := Binary{Package: c.file.Package, Version: c.file.Version, Arch: c.file.Arch, Hashes: []EntryHash{{idx, c.file.SHA256}}}
			for _, o := range c.others {
				if !in[o.idx] && len(f.Entries) <= maxEvidence {
					e := Entry{Index: o.idx, Builder: o.builder, Inputs: o.inputs}
					if err := l.statementOf(ctx, &e); err != nil {
						return nil, err
					}
					f.Entries, in[o.idx] = append(f.Entries, e), true
				}
				if in[o.idx] {
					b.Hashes = append(b.Hashes, EntryHash{o.idx, o.sha})
				}
			}
			f.Binaries = append(f.Binaries, b)
		}
		if len(cs) == 1 {
			c := cs[0]
			f.Package, f.Version, f.Arch = c.file.Package, c.file.Version, c.file.Arch
			for i := range f.Entries {
				f.Entries[i].SHA256 = f.Binaries[0].Hashes[i].SHA256
			}
			f.Summary = summaryOne(st, idx, c)
		} else {
			f.Summary = summaryMany(st, idx, kind, cs, f.Entries[1:])
		}
		found = append(found, keyed{fmt.Sprintf("%s entry %d", kind, idx), f})
	}
	return found, nil
}

// summaryOne says what the conflict of one binary package is.
func summaryOne(st *statement.Statement, idx int64, c conflict) string {
	name := fmt.Sprintf("%s %s %s", c.file.Package, c.file.Version, c.file.Arch)
	switch c.kind {
	case SelfContradiction:
		return fmt.Sprintf("builder %s contradicts itself on %s built from the same inputs: %s, and before %s",
			st.Builder, name, short(c.file.SHA256), buildHashes(c.others))
	case Disagreement:
		return fmt.Sprintf("builders disagree on %s built from the same inputs: %s has %s; %s",
			name, st.Builder, short(c.file.SHA256), builderHashes(c.others))
	default:
		return fmt.Sprintf("%s built from other inputs gives another file: inputs %s give %s; %s",
			name, short(st.Inputs), short(c.file.SHA256), inputHashes(c.others))
	}
}

// summaryMany says what the conflicts of several binary packages of one
// entry are.
func summaryMany(st *statement.Statement, idx int64, kind Kind, cs []conflict, others []Entry) string {
	var names []string
	for _, c := range cs {
		if len(names) == 8 {
			names = append(names, fmt.Sprintf("and %d more", len(cs)-8))
			break
		}
		names = append(names, c.file.Package)
	}
	var before []string
	for _, e := range others {
		switch kind {
		case Disagreement:
			before = append(before, fmt.Sprintf("%s (entry %d)", e.Builder, e.Index))
		case Drift:
			before = append(before, fmt.Sprintf("inputs %s (entry %d)", short(e.Inputs), e.Index))
		default:
			before = append(before, fmt.Sprintf("entry %d", e.Index))
		}
	}
	what := fmt.Sprintf("%d binary packages of %s %s", len(cs), st.Source, st.SourceVersion)
	list := strings.Join(names, ", ")
	switch kind {
	case SelfContradiction:
		return fmt.Sprintf("builder %s contradicts itself on %s built from the same inputs (entry %d, and before %s): %s",
			st.Builder, what, idx, strings.Join(before, ", "), list)
	case Disagreement:
		return fmt.Sprintf("builders disagree on %s built from the same inputs: %s (entry %d) has other files than %s: %s",
			what, st.Builder, idx, strings.Join(before, ", "), list)
	default:
		return fmt.Sprintf("%s built from other inputs give other files: inputs %s (entry %d), and before %s: %s",
			what, short(st.Inputs), idx, strings.Join(before, ", "), list)
	}
}
