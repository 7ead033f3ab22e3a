package statement

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/reprolog/reprolog/buildinfo"
)

func TestParseRoundTrip(t *testing.T) {
	s, _ := vector(t)
	text := s.Marshal()
	got, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Marshal()) != string(text) {
		t.Errorf("round trip changed the statement")
	}
	if f, ok := got.Binary("rbtest", "0.1", "all"); !ok || f.Size != 840 {
		t.Errorf("Binary(rbtest 0.1 all) = %+v, %v", f, ok)
	}
	if _, ok := got.Binary("rbtest", "1:0.1", "all"); !ok {
		t.Errorf("Binary with an epoch did not match the file name version")
	}
	if _, ok := got.Binary("rbtest", "0.1", "amd64"); ok {
		t.Errorf("Binary matched another arch")
	}
}

func TestParseRejects(t *testing.T) {
	s, _ := vector(t)
	good := string(s.Marshal())
	const deb = "rbtest_0.1_all.deb"
	tests := map[string]string{
		"no final newline":       strings.TrimSuffix(good, "\n"),
		"extra newline":          good + "\n",
		"other header":           strings.Replace(good, "v1", "v2", 1),
		"CRLF":                   strings.ReplaceAll(good, "\n", "\r\n"),
		"double space":           strings.Replace(good, "version 0.1", "version  0.1", 1),
		"trailing space":         strings.Replace(good, "version 0.1", "version 0.1 ", 1),
		"lines swapped":          strings.Replace(good, "source rbtest 0.1\nversion 0.1", "version 0.1\nsource rbtest 0.1", 1),
		"unsorted architecture":  strings.Replace(good, "architecture all", "architecture amd64 all", 1),
		"repeated architecture":  strings.Replace(good, "architecture all", "architecture all all", 1),
		"lower-case builder":     strings.Replace(good, vectorBuilder, strings.ToLower(vectorBuilder), 1),
		"short builder":          strings.Replace(good, vectorBuilder, vectorBuilder[:38], 1),
		"upper-case hash":        strings.Replace(good, "748e3638", "748E3638", 1),
		"size leading zero":      strings.Replace(good, " 840 ", " 0840 ", 1),
		"negative size":          strings.Replace(good, " 840 ", " -840 ", 1),
		"record size plus":       strings.Replace(good, " 4983", " +4983", 1),
		"no files":               good[:strings.Index(good, "binary ")],
		"name disagrees":         strings.Replace(good, "binary rbtest 0.1 all", "binary rbtest 0.2 all", 1),
		"binary as file":         strings.Replace(good, "binary rbtest 0.1 all ", "file ", 1),
		"file twice":             good + good[strings.Index(good, "binary "):],
		"path in name":           strings.Replace(good, " "+deb, " ../"+deb, 1),
		"unknown line":           good + "note hello\n",
		"bad source":             strings.Replace(good, "source rbtest 0.1", "source Rbtest 0.1", 1),
		"source without version": strings.Replace(good, "source rbtest 0.1", "source rbtest", 1),
		"empty":                  "",
	}
	for name, text := range tests {
		t.Run(name, func(t *testing.T) {
			if text == good {
				t.Fatal("the edit changed nothing")
			}
			if _, err := Parse([]byte(text)); !errors.Is(err, ErrMalformed) {
				t.Errorf("Parse = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestDeriveTooLarge(t *testing.T) {
	b := &buildinfo.Buildinfo{Source: "big", SourceVersion: "1", Version: "1", Architectures: []string{"amd64"},
		BuildArchitecture: "amd64", InstalledBuildDepends: []string{"gcc (= 1)"}}
	for i := range 600 {
		f, err := buildinfo.FileFromName(fmt.Sprintf("%s-%d_1_amd64.deb", strings.Repeat("p", 20), i))
		if err != nil {
			t.Fatal(err)
		}
		f.SHA256, f.Size = strings.Repeat("a", 64), 1
		b.Files = append(b.Files, f)
	}
	if _, err := Derive(b, vectorBuilder, []byte("record")); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Derive = %v, want ErrTooLarge", err)
	}
	b.Files = b.Files[:100]
	if _, err := Derive(b, vectorBuilder, []byte("record")); err != nil {
		t.Fatalf("Derive with 100 files: %v", err)
	}
}

func itoa(i int) string {
	return strings.TrimLeft(string(rune('a'+i/26/26%26))+string(rune('a'+i/26%26))+string(rune('a'+i%26)), "")
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("reprolog-statement v1\n"))
	f.Add([]byte(goldenOrEmpty()))
	f.Fuzz(func(t *testing.T, entry []byte) {
		s, err := Parse(entry)
		if err != nil {
			return
		}
		if string(s.Marshal()) != string(entry) {
			t.Fatalf("accepted a non-canonical statement")
		}
	})
}

func goldenOrEmpty() string {
	b, _ := os.ReadFile(vectorGolden)
	return string(b)
}
