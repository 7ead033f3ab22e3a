package statement

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/reprolog/reprolog/buildinfo"
)

// MaxSize is the largest statement: the largest entry a tlog-tiles log holds.
const MaxSize = 65535

// Header is the first line of every statement of this version.
const Header = "reprolog-statement v1"

var (
	// ErrMalformed is wrapped by Parse's errors.
	ErrMalformed = errors.New("malformed statement")
	// ErrTooLarge means that a build lists more files than one statement holds.
	ErrTooLarge = errors.New("statement too large")
)

// File is a file the build produced; binary packages have Package, Version
// (as in the file name: without the epoch) and Arch set.
type File = buildinfo.File

// Statement is one log entry.
type Statement struct {
	Source            string
	SourceVersion     string
	Version           string
	Architectures     []string // sorted
	BuildArchitecture string
	Inputs            string // hex SHA-256 of the build inputs (buildinfo.InputsDigest)
	Builder           string // OpenPGP primary key fingerprint, upper-case hex
	Record            string // hex SHA-256 of the record
	RecordSize        int64
	Files             []File // binary packages first, each group sorted by name
}

// Derive makes the statement of a record: b is the record's parsed signed
// text, builder the fingerprint of the key that signed it.
func Derive(b *buildinfo.Buildinfo, builder string, record []byte) (*Statement, error) {
	sum := sha256.Sum256(record)
	s := &Statement{
		Source:            b.Source,
		SourceVersion:     b.SourceVersion,
		Version:           b.Version,
		Architectures:     slices.Sorted(slices.Values(b.Architectures)),
		BuildArchitecture: b.BuildArchitecture,
		Inputs:            b.InputsDigest(),
		Builder:           builder,
		Record:            hex.EncodeToString(sum[:]),
		RecordSize:        int64(len(record)),
		Files:             slices.Clone(b.Files),
	}
	sortFiles(s.Files)
	if !validFingerprint(builder) {
		return nil, fmt.Errorf("statement: bad builder fingerprint %q", builder)
	}
	if n := len(s.Marshal()); n > MaxSize {
		return nil, fmt.Errorf("%w: %d files make %d bytes, more than the %d a log entry holds",
			ErrTooLarge, len(s.Files), n, MaxSize)
	}
	return s, nil
}

// Marshal returns the canonical text of s.
func (s *Statement) Marshal() []byte {
	var b strings.Builder
	line := func(fields ...string) { b.WriteString(strings.Join(fields, " ") + "\n") }
	line(Header)
	line("source", s.Source, s.SourceVersion)
	line("version", s.Version)
	line(append([]string{"architecture"}, s.Architectures...)...)
	line("build-architecture", s.BuildArchitecture)
	line("inputs", s.Inputs)
	line("builder", s.Builder)
	line("record", s.Record, strconv.FormatInt(s.RecordSize, 10))
	for _, f := range s.Files {
		size := strconv.FormatInt(f.Size, 10)
		if f.IsBinary() {
			line("binary", f.Package, f.Version, f.Arch, f.SHA256, size, f.Name)
		} else {
			line("file", f.SHA256, size, f.Name)
		}
	}
	return []byte(b.String())
}

// Binary returns the binary package file for package, version (with or
// without epoch) and arch, if the statement lists one.
func (s *Statement) Binary(pkg, version, arch string) (File, bool) {
	version = buildinfo.StripEpoch(version)
	for _, f := range s.Files {
		if f.Package == pkg && f.Version == version && f.Arch == arch {
			return f, true
		}
	}
	return File{}, false
}

// DSC returns the .dsc the build lists, if any.
func (s *Statement) DSC() (File, bool) {
	for _, f := range s.Files {
		if strings.HasSuffix(f.Name, ".dsc") {
			return f, true
		}
	}
	return File{}, false
}

// sortFiles puts binary packages first, each group by name.
func sortFiles(files []File) {
	slices.SortFunc(files, func(a, b File) int {
		if a.IsBinary() != b.IsBinary() {
			if a.IsBinary() {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
}

func validFingerprint(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
