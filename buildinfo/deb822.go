package buildinfo

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxSize is the largest buildinfo text Parse reads.
const MaxSize = 4 << 20

// paragraph is one deb822 paragraph with field names folded to lower case.
type paragraph struct {
	values map[string]string // lower-case name -> value as the control package gives it
	names  map[string]string // lower-case name -> name as written
}

func (p paragraph) has(name string) bool { _, ok := p.values[name]; return ok }

// get returns a single-line field's value.
func (p paragraph) get(name string) string { return p.values[name] }

// lines returns a multiline field's continuation lines. The first line of
// such a field must be empty.
func (p paragraph) lines(name string) ([]string, error) {
	v, ok := p.values[name]
	if !ok {
		return nil, nil
	}
	if v == "" {
		return nil, nil
	}
	if !strings.HasSuffix(v, "\n") {
		return nil, malformed("field %s must start on the line after its name", p.names[name])
	}
	return strings.Split(strings.TrimSuffix(v, "\n"), "\n"), nil
}

// readParagraph reads one deb822 paragraph strictly. Values come out as
// pault.ag/go/debian/control gives them (continuation lines without their
// leading space, "." lines empty, each line ended by "\n"); that reader
// is the reference this one is tested against (TestParagraphMatchesControl,
// FuzzParagraph), but it joins continuation lines by repeated string
// concatenation, which costs milliseconds and megabytes on a real
// buildinfo, so the values are collected here in the same pass that checks
// the syntax.
func readParagraph(text []byte) (paragraph, error) {
	if len(text) > MaxSize {
		return paragraph{}, malformed("larger than %d bytes", MaxSize)
	}
	if !utf8.Valid(text) {
		return paragraph{}, malformed("not valid UTF-8")
	}
	p := paragraph{values: map[string]string{}, names: map[string]string{}}
	body := bytes.TrimRight(text, "\n")
	if len(body) == 0 {
		return p, malformed("empty")
	}
	var (
		field string   // lower-case name of the field being read
		first string   // its value on the name's line
		cont  []string // its continuation lines
	)
	flush := func() {
		if field != "" {
			p.values[field] = joinValue(first, cont)
		}
	}
	for i, line := range strings.Split(string(body), "\n") {
		n := i + 1
		if err := checkChars(line); err != nil {
			return p, malformed("line %d: %v", n, err)
		}
		switch {
		case line == "" || strings.TrimSpace(line) == "":
			return p, malformed("line %d: blank line: a buildinfo is a single paragraph", n)
		case line[0] == ' ' || line[0] == '\t':
			if i == 0 {
				return p, malformed("line 1: continuation line before any field")
			}
			c := strings.TrimRightFunc(line[1:], unicode.IsSpace)
			if c == "." {
				c = ""
			}
			cont = append(cont, c)
		case line[0] == '#':
			return p, malformed("line %d: comments are not allowed", n)
		default:
			name, value, ok := strings.Cut(line, ":")
			if !ok || !validFieldName(name) {
				return p, malformed("line %d: not a field", n)
			}
			lower := strings.ToLower(name)
			if _, dup := p.names[lower]; dup {
				return p, malformed("duplicate field %s", name)
			}
			flush()
			p.names[lower] = name
			field, first, cont = lower, strings.TrimSpace(value), nil
		}
	}
	flush()
	return p, nil
}

// joinValue makes a field's value from its first line and continuation
// lines, as the control package does.
func joinValue(first string, cont []string) string {
	if len(cont) == 0 {
		return first
	}
	var b strings.Builder
	if first != "" {
		b.WriteString(first)
		b.WriteByte('\n')
	}
	for _, c := range cont {
		b.WriteString(c)
		b.WriteByte('\n')
	}
	return b.String()
}

// checkChars refuses control characters other than tab.
func checkChars(line string) error {
	for _, r := range line {
		if r == '\t' {
			continue
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Errorf("control character U+%04X", r)
		}
	}
	return nil
}

// validFieldName follows deb822(5): US-ASCII printable characters other than
// colon and space, not starting with '#' or '-'.
func validFieldName(name string) bool {
	if name == "" || len(name) > 64 || name[0] == '#' || name[0] == '-' {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c > '~' || c == ':' {
			return false
		}
	}
	return true
}
