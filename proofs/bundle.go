package proofs

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprolog/reprolog/buildinfo"
	"github.com/reprolog/reprolog/statement"
)

// BundleHeader is the first line of a bundle.
const BundleHeader = "reprolog-bundle v1"

// Limits on what ParseBundle accepts.
const (
	MaxBundleSize = 256 << 20
	MaxEntries    = 4096
	MaxRecordSize = 8 << 20
)

// Bundle is an offline proof: everything a decision about one binary
// package needs, so that it can be made with no network. See BUNDLE.md.
type Bundle struct {
	// Package, Version and Arch name the binary package; Version is as in
	// file names, without the epoch.
	Package, Version, Arch string
	// Checkpoint is the signed checkpoint, with its witness cosignatures,
	// that every entry is proven against.
	Checkpoint []byte
	// Entries are the statements the log lists for the package, by index.
	Entries []Entry
}

// Entry is one statement with its inclusion proof and, when included,
// its record.
type Entry struct {
	Index     int64
	Proof     tlog.RecordProof
	Statement []byte
	Record    []byte // nil when the bundle does not carry it
}

// Marshal returns the bundle's bytes.
func (b *Bundle) Marshal() []byte {
	var w bytes.Buffer
	section := func(kind string, data []byte) {
		w.WriteString(kind + " " + strconv.Itoa(len(data)) + "\n")
		w.Write(data)
		w.WriteString("\n")
	}
	w.WriteString(BundleHeader + "\n")
	w.WriteString("package " + b.Package + " " + b.Version + " " + b.Arch + "\n")
	section("checkpoint", b.Checkpoint)
	for _, e := range b.Entries {
		p := Proof{Extra: e.Statement, Index: e.Index, Hashes: e.Proof, Checkpoint: b.Checkpoint}
		section("entry", p.Marshal())
		if e.Record != nil {
			section("record", e.Record)
		}
	}
	w.WriteString("end\n")
	return w.Bytes()
}

// ParseBundle reads a bundle strictly: the canonical layout only, sizes
// within the limits, entries in increasing index order, each entry a
// tlog-proof carrying its statement as extra data and the bundle's
// checkpoint byte for byte. Errors wrap ErrMalformed.
func ParseBundle(data []byte) (*Bundle, error) {
	b, err := parseBundle(data)
	if err != nil {
		return nil, fmt.Errorf("%w: bundle: %s", ErrMalformed, err)
	}
	return b, nil
}

func parseBundle(data []byte) (*Bundle, error) {
	if len(data) > MaxBundleSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxBundleSize)
	}
	r := &reader{data: data}
	if r.line() != BundleHeader {
		return nil, fmt.Errorf("not a %q", BundleHeader)
	}
	b := &Bundle{}
	f := strings.Split(r.line(), " ")
	if len(f) != 4 || f[0] != "package" || !buildinfo.ValidPackageName(f[1]) ||
		!buildinfo.ValidVersion(f[2]) || strings.Contains(f[2], ":") || !buildinfo.ValidArch(f[3]) {
		return nil, fmt.Errorf("bad package line")
	}
	b.Package, b.Version, b.Arch = f[1], f[2], f[3]
	var ok bool
	if b.Checkpoint, ok = r.section("checkpoint", MaxCheckpointSize); !ok || len(b.Checkpoint) == 0 {
		return nil, fmt.Errorf("bad checkpoint section")
	}
	for !r.failed && !r.atEnd() {
		if len(b.Entries) == MaxEntries {
			return nil, fmt.Errorf("more than %d entries", MaxEntries)
		}
		raw, ok := r.section("entry", MaxCheckpointSize+2*statement.MaxSize)
		if !ok {
			return nil, fmt.Errorf("entry %d: bad section", len(b.Entries))
		}
		p, err := parseProof(raw)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %v", len(b.Entries), err)
		}
		if !bytes.Equal(p.Checkpoint, b.Checkpoint) {
			return nil, fmt.Errorf("entry %d: proof for another checkpoint", len(b.Entries))
		}
		if len(p.Extra) == 0 || len(p.Extra) > statement.MaxSize {
			return nil, fmt.Errorf("entry %d: no statement", len(b.Entries))
		}
		if n := len(b.Entries); n > 0 && p.Index <= b.Entries[n-1].Index {
			return nil, fmt.Errorf("entry %d: index out of order", n)
		}
		e := Entry{Index: p.Index, Proof: p.Hashes, Statement: p.Extra}
		if r.peek("record ") {
			if e.Record, ok = r.section("record", MaxRecordSize); !ok {
				return nil, fmt.Errorf("entry %d: bad record section", len(b.Entries))
			}
		}
		b.Entries = append(b.Entries, e)
	}
	if r.failed || !r.end() {
		return nil, fmt.Errorf("bad end")
	}
	return b, nil
}

// reader cuts a bundle into lines and sized sections.
type reader struct {
	data   []byte
	failed bool
}

func (r *reader) line() string {
	l, rest, ok := bytes.Cut(r.data, []byte("\n"))
	if !ok || len(l) > 1024 {
		r.failed = true
		return ""
	}
	r.data = rest
	return string(l)
}

func (r *reader) peek(prefix string) bool { return bytes.HasPrefix(r.data, []byte(prefix)) }

func (r *reader) atEnd() bool { return r.peek("end\n") }

func (r *reader) end() bool { return string(r.data) == "end\n" }

// section reads "kind SIZE\n", SIZE bytes and a newline.
func (r *reader) section(kind string, max int) ([]byte, bool) {
	if !r.peek(kind + " ") {
		return nil, false
	}
	n, err := parseNumber(strings.TrimPrefix(r.line(), kind+" "))
	if r.failed || err != nil || n > int64(max) || n >= int64(len(r.data)) || r.data[n] != '\n' {
		r.failed = true
		return nil, false
	}
	s := r.data[:n:n]
	r.data = r.data[n+1:]
	return s, true
}
