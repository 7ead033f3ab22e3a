package installed

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// maxLine bounds a line holding a field this package reads; other lines
// may be longer and are skipped.
const maxLine = 64 << 10

// scanParagraphs reads deb822 paragraphs from r and calls fn with the
// values of the fields named in want (compared case-insensitively), in
// the order of want, "" for a field the paragraph lacks; line is the
// paragraph's first line. Fields it does not want are skipped, including
// their continuation lines. It is strict about the shape of the text: a
// line must be blank, a continuation, or "Name: value"; a wanted field
// must be given once and on one line.
func scanParagraphs(r io.Reader, want []string, fn func(vals []string, line int) error) error {
	names := make([][]byte, len(want))
	for i, w := range want {
		names[i] = []byte(w)
	}
	br := bufio.NewReaderSize(r, maxLine)
	vals := make([]string, len(want))
	seen := make([]bool, len(want))
	lineNo, start := 0, 0
	inPara := false
	last := -2 // index in want of the current field; -1 for an unwanted one
	flush := func() error {
		if !inPara {
			return nil
		}
		err := fn(vals, start)
		clear(vals)
		clear(seen)
		inPara, last = false, -2
		return err
	}
	for {
		line, err := br.ReadSlice('\n')
		long := errors.Is(err, bufio.ErrBufferFull)
		if err != nil && !long && err != io.EOF {
			return err
		}
		if len(line) == 0 && err == io.EOF {
			return flush()
		}
		lineNo++
		text := bytes.TrimSuffix(line, []byte("\n"))
		switch {
		case !long && len(bytes.Trim(text, " \t")) == 0:
			if err := flush(); err != nil {
				return err
			}
		case text[0] == ' ' || text[0] == '\t':
			if last == -2 {
				return fmt.Errorf("line %d: a continuation line outside a field", lineNo)
			}
			if last >= 0 {
				return fmt.Errorf("line %d: field %s must be one line", lineNo, want[last])
			}
		default:
			colon := bytes.IndexByte(text, ':')
			if colon <= 0 || text[0] == '#' || text[0] == '-' || !validName(text[:colon]) {
				return fmt.Errorf("line %d: not a \"Field: value\" line", lineNo)
			}
			if !inPara {
				inPara, start = true, lineNo
			}
			last = -1
			if i := wanted(text[:colon], names); i >= 0 {
				if long {
					return fmt.Errorf("line %d: longer than %d bytes", lineNo, maxLine)
				}
				if seen[i] {
					return fmt.Errorf("line %d: field %s given twice", lineNo, want[i])
				}
				seen[i], last = true, i
				vals[i] = string(bytes.Trim(text[colon+1:], " \t"))
			}
		}
		if long {
			if err := skipRest(br); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return flush()
		}
	}
}

func wanted(name []byte, want [][]byte) int {
	for i, w := range want {
		if len(w) == len(name) && bytes.EqualFold(name, w) {
			return i
		}
	}
	return -1
}

// validName reports whether a field name is printable ASCII without
// spaces, as deb822(5) requires.
func validName(name []byte) bool {
	for _, c := range name {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// skipRest discards the rest of a line longer than the buffer.
func skipRest(br *bufio.Reader) error {
	for {
		_, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF, err == nil:
			return nil
		default:
			return err
		}
	}
}
