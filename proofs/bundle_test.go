package proofs_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/reprolog/reprolog/pgp"
	"github.com/reprolog/reprolog/proofs"
	"github.com/reprolog/reprolog/statement"
)

func TestBundleRoundTrip(t *testing.T) {
	f := newFixture(t)
	f.bundle.Entries[1].Record = nil
	data := f.bundle.Marshal()
	b, err := proofs.ParseBundle(data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Marshal(), data) {
		t.Fatal("round trip changed the bundle")
	}
	if b.Package != "hello" || b.Version != "2.10-3" || b.Arch != "amd64" || len(b.Entries) != 3 {
		t.Errorf("parsed %s %s %s with %d entries", b.Package, b.Version, b.Arch, len(b.Entries))
	}
	if b.Entries[1].Record != nil || b.Entries[2].Record == nil {
		t.Errorf("records were not kept as they were")
	}
}

func TestBundleVerify(t *testing.T) {
	f := newFixture(t)
	got, err := f.bundle.Verify(f.tree, f.keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("Verify returned %d statements, want 3", len(got))
	}
	for i, v := range got {
		want := []string{f.alice.Fingerprint(), f.bob.Fingerprint(), f.alice.Fingerprint()}[i]
		if v.Index != f.indices[i] || v.Statement.Builder != want || !v.RecordChecked {
			t.Errorf("statement %d: index %d builder %s checked %v", i, v.Index, v.Statement.Builder, v.RecordChecked)
		}
	}

	// An untrusted builder's statement needs no record and is not checked.
	onlyAlice := func(fp string) *pgp.Key {
		if fp == f.alice.Fingerprint() {
			return f.keys(fp)
		}
		return nil
	}
	f.bundle.Entries[1].Record = nil
	got, err = f.bundle.Verify(f.tree, onlyAlice)
	if err != nil {
		t.Fatal(err)
	}
	if got[1].RecordChecked || !got[0].RecordChecked {
		t.Errorf("RecordChecked = %v, %v; want false for the untrusted builder", got[1].RecordChecked, got[0].RecordChecked)
	}
}

func TestBundleVerifyRejects(t *testing.T) {
	tests := []struct {
		name string
		edit func(f *fixture)
		want error
	}{
		{"record missing", func(f *fixture) { f.bundle.Entries[0].Record = nil }, proofs.ErrRecord},
		{"record of another entry", func(f *fixture) {
			f.bundle.Entries[0].Record = f.bundle.Entries[1].Record
		}, proofs.ErrRecord},
		{"record of the same builder's other entry", func(f *fixture) {
			f.bundle.Entries[0].Record = f.bundle.Entries[2].Record
		}, proofs.ErrRecord},
		{"record byte changed", func(f *fixture) {
			r := bytes.Clone(f.bundle.Entries[0].Record)
			r[len(r)/2] ^= 1
			f.bundle.Entries[0].Record = r
		}, proofs.ErrRecord},
		{"record signed text changed", func(f *fixture) {
			f.bundle.Entries[0].Record = bytes.Replace(f.bundle.Entries[0].Record, []byte("LANG"), []byte("LANH"), 1)
		}, proofs.ErrRecord},
		{"record with garbage after", func(f *fixture) {
			f.bundle.Entries[0].Record = append(bytes.Clone(f.bundle.Entries[0].Record), "x"...)
		}, proofs.ErrRecord},
		{"statement changed", func(f *fixture) {
			f.bundle.Entries[0].Statement = bytes.Replace(f.bundle.Entries[0].Statement, []byte("2.10-3"), []byte("2.10-4"), 1)
		}, proofs.ErrInclusion},
		{"statement of another entry", func(f *fixture) {
			f.bundle.Entries[0].Statement = f.bundle.Entries[2].Statement
		}, proofs.ErrInclusion},
		{"proof of another entry", func(f *fixture) { f.bundle.Entries[0].Proof = f.bundle.Entries[2].Proof }, proofs.ErrInclusion},
		{"index moved", func(f *fixture) { f.bundle.Entries[0].Index = 6 }, proofs.ErrInclusion},
		{"other tree", func(f *fixture) { f.tree.N /= 2 }, proofs.ErrInclusion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			// Every record, as it was, was accepted beforehand: that
			// changes nothing about the edited bundle.
			checked := acceptAll(t, f)
			tt.edit(f)
			if _, err := f.bundle.Verify(f.tree, f.keys); !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
			if _, err := f.bundle.VerifyChecked(f.tree, f.keys, checked); !errors.Is(err, tt.want) {
				t.Errorf("VerifyChecked = %v, want %v", err, tt.want)
			}
		})
	}
}

// acceptAll checks every record of the fixture's bundle with a Checked.
func acceptAll(t *testing.T, f *fixture) *proofs.Checked {
	t.Helper()
	checked := &proofs.Checked{}
	for _, e := range f.bundle.Entries {
		s, err := statement.Parse(e.Statement)
		if err != nil {
			t.Fatal(err)
		}
		if err := checked.CheckRecord(s, e.Record, f.keys(s.Builder)); err != nil {
			t.Fatal(err)
		}
	}
	return checked
}

// TestBundleVerifyChecked: records accepted beforehand count as checked
// for the statement and key they were checked for, and only for those.
func TestBundleVerifyChecked(t *testing.T) {
	f := newFixture(t)
	checked := acceptAll(t, f)
	got, err := f.bundle.VerifyChecked(f.tree, f.keys, checked)
	if err != nil {
		t.Fatal(err)
	}
	want, err := f.bundle.Verify(f.tree, f.keys)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got[i].Index != want[i].Index || got[i].RecordChecked != want[i].RecordChecked ||
			!bytes.Equal(got[i].Statement.Marshal(), want[i].Statement.Marshal()) {
			t.Errorf("statement %d: VerifyChecked gives %+v, Verify %+v", i, got[i], want[i])
		}
	}
	// A record that did not check is not remembered.
	s, err := statement.Parse(f.bundle.Entries[0].Statement)
	if err != nil {
		t.Fatal(err)
	}
	other := &proofs.Checked{}
	if err := other.CheckRecord(s, f.bundle.Entries[1].Record, f.keys(s.Builder)); err == nil {
		t.Fatal("another entry's record checked")
	}
	f.bundle.Entries[0].Record = f.bundle.Entries[1].Record
	if _, err := f.bundle.VerifyChecked(f.tree, f.keys, other); !errors.Is(err, proofs.ErrRecord) {
		t.Errorf("VerifyChecked = %v, want ErrRecord", err)
	}
}

func TestParseBundleRejects(t *testing.T) {
	f := newFixture(t)
	good := string(f.bundle.Marshal())
	other := newFixture(t)
	otherCheckpoint := string(other.bundle.Checkpoint)
	cp := string(f.bundle.Checkpoint)
	entry0 := (&proofs.Proof{Extra: f.bundle.Entries[0].Statement, Index: f.bundle.Entries[0].Index,
		Hashes: f.bundle.Entries[0].Proof, Checkpoint: f.bundle.Checkpoint}).Marshal()
	tests := map[string]string{
		"garbage before":             "x" + good,
		"garbage after":              good + "x",
		"newline after":              good + "\n",
		"second end":                 good + "end\n",
		"other header":               strings.Replace(good, "bundle v1", "bundle v2", 1),
		"epoch in version":           strings.Replace(good, "hello 2.10-3 amd64", "hello 1:2.10-3 amd64", 1),
		"bad package":                strings.Replace(good, "package hello", "package Hello", 1),
		"package line short":         strings.Replace(good, "hello 2.10-3 amd64", "hello 2.10-3", 1),
		"size leading zero":          strings.Replace(good, "checkpoint ", "checkpoint 0", 1),
		"size plus":                  strings.Replace(good, "checkpoint ", "checkpoint +", 1),
		"size one more":              strings.Replace(good, fmt.Sprintf("checkpoint %d", len(cp)), fmt.Sprintf("checkpoint %d", len(cp)+1), 1),
		"size one less":              strings.Replace(good, fmt.Sprintf("checkpoint %d", len(cp)), fmt.Sprintf("checkpoint %d", len(cp)-1), 1),
		"entry for other checkpoint": strings.Replace(good, string(entry0), strings.Replace(string(entry0), cp, otherCheckpoint, 1), 1),
		"entries swapped":            swapEntries(f),
		"entry twice":                twice(f),
		"unknown section":            strings.Replace(good, "record ", "recorx ", 1),
		"no end":                     strings.TrimSuffix(good, "end\n"),
		"empty":                      "",
	}
	for name, text := range tests {
		t.Run(name, func(t *testing.T) {
			if text == good {
				t.Fatal("the edit changed nothing")
			}
			if _, err := proofs.ParseBundle([]byte(text)); !errors.Is(err, proofs.ErrMalformed) {
				t.Errorf("ParseBundle = %v, want ErrMalformed", err)
			}
		})
	}
	for n := range len(good) {
		if _, err := proofs.ParseBundle([]byte(good[:n])); err == nil {
			t.Fatalf("ParseBundle accepted the bundle truncated to %d of %d bytes", n, len(good))
		}
	}
}

func swapEntries(f *fixture) string {
	b := *f.bundle
	b.Entries = append([]proofs.Entry{b.Entries[1], b.Entries[0]}, b.Entries[2:]...)
	return string(b.Marshal())
}

func twice(f *fixture) string {
	b := *f.bundle
	b.Entries = append([]proofs.Entry{b.Entries[0]}, b.Entries...)
	return string(b.Marshal())
}

func FuzzParseBundle(f *testing.F) {
	fx := newFixture(f)
	f.Add(fx.bundle.Marshal())
	small := *fx.bundle
	small.Entries = small.Entries[:1]
	small.Entries[0].Record = []byte("r")
	f.Add(small.Marshal())
	f.Add([]byte(proofs.BundleHeader + "\npackage a0 1 all\ncheckpoint 1\nx\nend\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := proofs.ParseBundle(data)
		if err != nil {
			return
		}
		if !bytes.Equal(b.Marshal(), data) {
			t.Errorf("accepted a non-canonical bundle")
		}
		if _, err := b.Verify(fx.tree, fx.keys); err == nil && len(b.Entries) > 0 && !bytes.Equal(b.Checkpoint, fx.bundle.Checkpoint) {
			t.Logf("verified entries against the fixture's tree with another checkpoint text")
		}
	})
}

func BenchmarkParseBundle(b *testing.B) {
	f := newFixture(b)
	data := f.bundle.Marshal()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := proofs.ParseBundle(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBundleVerify(b *testing.B) {
	f := newFixture(b)
	for b.Loop() {
		if _, err := f.bundle.Verify(f.tree, f.keys); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBundleDocLimits checks that BUNDLE.md states the limits ParseBundle
// applies.
func TestBundleDocLimits(t *testing.T) {
	doc, err := os.ReadFile("BUNDLE.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(doc)), " ")
	for _, want := range []string{
		fmt.Sprintf("Limits: %d MiB in all,", proofs.MaxBundleSize>>20),
		fmt.Sprintf(" %d entries,", proofs.MaxEntries),
		fmt.Sprintf(" %s bytes of checkpoint,", thousands(proofs.MaxCheckpointSize)),
		fmt.Sprintf(" %d MiB per record section (`proofs.MaxRecordSize`)", proofs.MaxRecordSize>>20),
		fmt.Sprintf("at most %d MiB (`pgp.MaxRecordSize`)", pgp.MaxRecordSize>>20),
	} {
		if !strings.Contains(text, want) {
			t.Errorf("BUNDLE.md does not say %q", want)
		}
	}
}

// thousands formats n with commas between groups of three digits.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
