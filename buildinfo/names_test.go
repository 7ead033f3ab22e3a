package buildinfo

import (
	"regexp"
	"strings"
	"testing"
)

// The rules ValidPackageName and ValidArch spell out, as regular
// expressions.
var (
	packageRE = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
	archRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
)

func checkNames(t *testing.T, s string) {
	t.Helper()
	if got, want := ValidPackageName(s), len(s) <= MaxNameLength && packageRE.MatchString(s); got != want {
		t.Errorf("ValidPackageName(%q) = %v, want %v", s, got, want)
	}
	if got, want := ValidArch(s), len(s) <= MaxNameLength && archRE.MatchString(s); got != want {
		t.Errorf("ValidArch(%q) = %v, want %v", s, got, want)
	}
}

func TestNames(t *testing.T) {
	for _, s := range []string{"", "a", "ab", "0", "g++", "libstdc++6", "lib32z1-dev", "x.y", "-a", "+a", ".a", "A", "aB",
		"a_b", "a b", "a\n", "amd64", "all", "kfreebsd-i386", "arm64:", "é", "a\x00", strings.Repeat("a", MaxNameLength),
		strings.Repeat("a", MaxNameLength+1)} {
		checkNames(t, s)
	}
}

func FuzzNames(f *testing.F) {
	for _, s := range []string{"libc6", "g++-12", "amd64", "-x", "a"} {
		f.Add(s)
	}
	f.Fuzz(checkNames)
}
