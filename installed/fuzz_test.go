package installed

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/reprolog/reprolog/buildinfo"
)

func FuzzParseHookInput(f *testing.F) {
	f.Add([]byte(hookV3))
	f.Add([]byte("VERSION 2\nA=b\n\nxy - < 1.0 /c/x_1.0_all.deb\n"))
	f.Add([]byte("/a/x_1_all.deb\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseHookInput(bytes.NewReader(data))
		if err != nil {
			return
		}
		if h.Version < 1 || h.Version > 3 {
			t.Fatalf("version %d", h.Version)
		}
		for _, a := range h.Actions {
			if a.File == "" || strings.ContainsAny(a.File, "\x00\n") {
				t.Fatalf("file %q", a.File)
			}
			if h.Version > 1 && (!buildinfo.ValidPackageName(a.Package) || a.Unpacks() && a.NewVersion == "-") {
				t.Fatalf("action %+v", a)
			}
		}
		if h.Version != 3 {
			return
		}
		// The actions, written again, read back the same.
		var b strings.Builder
		b.WriteString("VERSION 3\n\n")
		for _, a := range h.Actions {
			fmt.Fprintf(&b, "%s %s %s %s %s %s %s %s %s\n", a.Package, a.OldVersion, a.OldArch, a.OldMultiArch,
				a.Direction, a.NewVersion, a.NewArch, a.NewMultiArch, a.File)
		}
		again, err := ParseHookInput(strings.NewReader(b.String()))
		if err != nil || !slices.Equal(again.Actions, h.Actions) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte(status))
	f.Add([]byte("Package: ab\nStatus: install ok installed\nVersion: 1.0\nArchitecture: all\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := ParseStatus(bytes.NewReader(data))
		if err != nil {
			return
		}
		seen := map[[2]string]bool{}
		for _, p := range pkgs {
			if !buildinfo.ValidPackageName(p.Package) || !buildinfo.ValidVersion(p.Version) ||
				!buildinfo.ValidArch(p.Arch) || p.State == "not-installed" || p.State == "config-files" {
				t.Fatalf("accepted %+v", p)
			}
			if seen[[2]string{p.Package, p.Arch}] {
				t.Fatalf("%s listed twice", p.Package)
			}
			seen[[2]string{p.Package, p.Arch}] = true
		}
	})
}

func FuzzParsePackages(f *testing.F) {
	f.Add([]byte(packagesList("hello", "2.10-3", "amd64", sumA)))
	f.Add([]byte("Package: ab\nVersion: 1\nArchitecture: all\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ParsePackages(bytes.NewReader(data), func(k Key, sum string) {
			if !buildinfo.ValidSHA256(sum) || k.Package == "" || k.Version == "" || k.Arch == "" ||
				strings.ContainsAny(k.Package+k.Version+k.Arch, "\n") {
				t.Fatalf("accepted %v %q", k, sum)
			}
		})
	})
}
