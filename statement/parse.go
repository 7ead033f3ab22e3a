package statement

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/reprolog/reprolog/buildinfo"
)

// Parse reads a statement. It accepts only the canonical text: Marshal of
// the result gives back exactly the input.
func Parse(entry []byte) (*Statement, error) {
	s, err := parse(entry)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if !bytes.Equal(s.Marshal(), entry) {
		return nil, fmt.Errorf("%w: not in canonical form", ErrMalformed)
	}
	return s, nil
}

func parse(entry []byte) (*Statement, error) {
	if len(entry) > MaxSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxSize)
	}
	text, ok := strings.CutSuffix(string(entry), "\n")
	if !ok {
		return nil, fmt.Errorf("no final newline")
	}
	lines := strings.Split(text, "\n")
	if len(lines) < 9 || lines[0] != Header {
		return nil, fmt.Errorf("not a %q", Header)
	}
	s := &Statement{}
	head := []struct {
		key  string
		n    int // fields after the key; -1: one or more
		read func([]string) error
	}{
		{"source", 2, func(f []string) error {
			s.Source, s.SourceVersion = f[0], f[1]
			return check(buildinfo.ValidPackageName(f[0]) && buildinfo.ValidVersion(f[1]), "source")
		}},
		{"version", 1, func(f []string) error {
			s.Version = f[0]
			return check(buildinfo.ValidVersion(f[0]), "version")
		}},
		{"architecture", -1, func(f []string) error {
			s.Architectures = f
			for i, a := range f {
				if !buildinfo.ValidArch(a) || (i > 0 && a <= f[i-1]) {
					return fmt.Errorf("bad or unsorted architecture")
				}
			}
			return nil
		}},
		{"build-architecture", 1, func(f []string) error {
			s.BuildArchitecture = f[0]
			return check(buildinfo.ValidArch(f[0]), "build-architecture")
		}},
		{"inputs", 1, func(f []string) error {
			s.Inputs = f[0]
			return check(buildinfo.ValidSHA256(f[0]), "inputs")
		}},
		{"builder", 1, func(f []string) error {
			s.Builder = f[0]
			return check(validFingerprint(f[0]), "builder")
		}},
		{"record", 2, func(f []string) (err error) {
			s.Record = f[0]
			s.RecordSize, err = parseSize(f[1])
			if err != nil {
				return err
			}
			return check(buildinfo.ValidSHA256(f[0]), "record")
		}},
	}
	for i, h := range head {
		f := strings.Split(lines[i+1], " ")
		if f[0] != h.key || (h.n >= 0 && len(f)-1 != h.n) || len(f) < 2 {
			return nil, fmt.Errorf("line %d: want %q", i+2, h.key)
		}
		if err := h.read(f[1:]); err != nil {
			return nil, fmt.Errorf("line %d: %v", i+2, err)
		}
	}
	for i, l := range lines[len(head)+1:] {
		f, err := parseFile(l)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", i+len(head)+2, err)
		}
		s.Files = append(s.Files, f)
	}
	if len(s.Files) == 0 {
		return nil, fmt.Errorf("no files")
	}
	for i := 1; i < len(s.Files); i++ {
		if s.Files[i].Name == s.Files[i-1].Name {
			return nil, fmt.Errorf("file %s listed twice", s.Files[i].Name)
		}
	}
	return s, nil
}

func parseFile(line string) (File, error) {
	f := strings.Split(line, " ")
	var want File
	switch {
	case f[0] == "binary" && len(f) == 7:
		want = File{Package: f[1], Version: f[2], Arch: f[3], SHA256: f[4], Name: f[6]}
		f = f[4:]
	case f[0] == "file" && len(f) == 4:
		want = File{SHA256: f[1], Name: f[3]}
		f = f[1:]
	default:
		return File{}, fmt.Errorf("want \"binary\" or \"file\"")
	}
	got, err := buildinfo.FileFromName(want.Name)
	if err != nil {
		return File{}, fmt.Errorf("bad file name")
	}
	got.SHA256 = want.SHA256
	if got != want || !buildinfo.ValidSHA256(want.SHA256) {
		return File{}, fmt.Errorf("bad file line")
	}
	got.Size, err = parseSize(f[1])
	return got, err
}

func parseSize(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
		return 0, fmt.Errorf("bad size")
	}
	return n, nil
}

func check(ok bool, what string) error {
	if !ok {
		return fmt.Errorf("bad %s", what)
	}
	return nil
}
