package buildinfo

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"pault.ag/go/debian/control"
)

// controlValues reads a paragraph with pault.ag/go/debian/control, the
// reference for readParagraph's values.
func controlValues(t testing.TB, text []byte) map[string]string {
	r, err := control.NewParagraphReader(bytes.NewReader(bytes.TrimRight(text, "\n")), nil)
	if err != nil {
		t.Fatalf("control: %v", err)
	}
	p, err := r.Next()
	if err != nil {
		t.Fatalf("control: %v", err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("control reads more than one paragraph")
	}
	out := map[string]string{}
	for _, k := range p.Order {
		out[lowerASCII(k)] = p.Values[k]
	}
	return out
}

func lowerASCII(s string) string { return string(bytes.ToLower([]byte(s))) }

func sameValues(t testing.TB, text []byte) {
	t.Helper()
	p, err := readParagraph(text)
	if err != nil {
		return
	}
	want := controlValues(t, text)
	if len(want) != len(p.values) {
		t.Fatalf("%d fields, control reads %d", len(p.values), len(want))
	}
	for k, v := range want {
		if p.values[k] != v {
			t.Fatalf("field %s: %q, control reads %q", k, p.values[k], v)
		}
	}
}

// TestParagraphMatchesControl checks that every corpus buildinfo reads the
// same as with pault.ag/go/debian/control.
func TestParagraphMatchesControl(t *testing.T) {
	files, _ := filepath.Glob("testdata/*")
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(f), func(t *testing.T) { sameValues(t, signedBody(t, raw)) })
	}
	sameValues(t, []byte("A: 1\nB:\n .\n x\n .\nC: c\n d\n"))
}

// FuzzParagraph checks readParagraph against the control package on any
// paragraph it accepts.
func FuzzParagraph(f *testing.F) {
	addCorpus(f)
	f.Add([]byte("A: 1\nB:\n .\n x\n .\nC: c\n d\n"))
	f.Fuzz(func(t *testing.T, text []byte) { sameValues(t, text) })
}
