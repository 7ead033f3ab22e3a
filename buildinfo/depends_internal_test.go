package buildinfo

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// parseDependsReference is the plain reading of Installed-Build-Depends
// that parseDepends must agree with: every whitespace run made one space,
// then the entries split at commas.
func parseDependsReference(v string) ([]string, bool) {
	v = strings.Join(strings.Fields(v), " ")
	if v == "" {
		return nil, false
	}
	seen := map[string]bool{}
	var out []string
	for _, dep := range strings.Split(strings.TrimSuffix(v, ","), ",") {
		dep = strings.TrimSpace(dep)
		name, ok := parseDepend(dep)
		if !ok || seen[name] {
			return nil, false
		}
		seen[name] = true
		out = append(out, dep)
	}
	return out, true
}

// FuzzParseDepends: parseDepends reads every value as the reference does.
func FuzzParseDepends(f *testing.F) {
	for _, v := range []string{
		"\nautoconf (= 2.71-3),\n libc6:amd64 (= 2.36-9),\n",
		"a (= 1), b (= 2),", "a  (=\t1)", "a\u00a0(= 1)", "a (= 1),,", " , ", "a (= 1), a (= 2)", "a (= 1) ", "a(= 1)",
	} {
		f.Add(v)
	}
	files, _ := filepath.Glob("testdata/*")
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		if p, err := readParagraph(raw); err == nil && p.has("installed-build-depends") {
			f.Add(p.get("installed-build-depends"))
		}
	}
	f.Fuzz(func(t *testing.T, v string) {
		want, wantOK := parseDependsReference(v)
		var b Buildinfo
		err := parseDepends(paragraph{values: map[string]string{"installed-build-depends": v}}, &b)
		if (err == nil) != wantOK {
			t.Fatalf("%q: error %v, the reference accepts it: %v", v, err, wantOK)
		}
		if err == nil && !slices.Equal(b.InstalledBuildDepends, want) {
			t.Fatalf("%q: %q, the reference reads %q", v, b.InstalledBuildDepends, want)
		}
	})
}
