package buildinfo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func parseFile(t *testing.T, name string) *Buildinfo {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse(signedBody(t, raw))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return b
}

func TestInputsDigestCorpusPairs(t *testing.T) {
	const rb = "gen_local_rbtest_0.1_amd64."
	tests := []struct {
		a, b string
		same bool
		why  string
	}{
		{rb + "build1.buildinfo", rb + "build2.buildinfo", true, "only Build-Date differs"},
		{rb + "build1.buildinfo", rb + "build3-otherpath-tz-nocheck.buildinfo", false, "DEB_BUILD_OPTIONS=nocheck"},
		{rb + "build1.buildinfo", rb + "build4-with-path-kernel.buildinfo", false, "Build-Path"},
		{rb + "build4-with-path-kernel.buildinfo", rb + "build6-under-slash-build.buildinfo", false, "another Build-Path"},
		{"deb_uli-heller_golang-defaults_1.22~2build1~uh~jammy1_amd64.build-A.buildinfo",
			"deb_uli-heller_golang-defaults_1.22~2build1~uh~jammy1_amd64.build-B.buildinfo", false, ".dsc and depends differ"},
		{"deb_uli-heller_cowsql_1.15.4-1ubuntu3~uh~jammy1_amd64.build-A.buildinfo",
			"deb_uli-heller_cowsql_1.15.4-1ubuntu3~uh~jammy1_amd64.build-B.buildinfo", false, "depends differ"},
	}
	for _, tt := range tests {
		a, b := parseFile(t, tt.a), parseFile(t, tt.b)
		if got := a.InputsDigest() == b.InputsDigest(); got != tt.same {
			t.Errorf("%s vs %s (%s): same inputs = %v, want %v", tt.a, tt.b, tt.why, got, tt.same)
		}
	}
}

// TestInputsDigestCovers changes each field in turn and checks whether the
// digest moves.
func TestInputsDigestCovers(t *testing.T) {
	raw, err := os.ReadFile("testdata/gen_local_rbtest_0.1_amd64.build1.buildinfo")
	if err != nil {
		t.Fatal(err)
	}
	base, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		old     string
		new     string
		changes bool
	}{
		{"Build-Date", "Build-Date: Wed, 25 Nov 2026 10:48:10 +0000", "Build-Date: Thu, 26 Nov 2026 10:48:10 +0000", false},
		{"Build-Kernel-Version", "Build-Origin: Debian\n", "Build-Origin: Debian\nBuild-Kernel-Version: 6.1.0-1 #1 SMP\n", false},
		{"Build-Tainted-By", " usr-local-has-programs\n", "", false},
		{"parallel", `DEB_BUILD_OPTIONS="parallel=2"`, `DEB_BUILD_OPTIONS="parallel=64"`, false},
		{"parallel dropped", " DEB_BUILD_OPTIONS=\"parallel=2\"\n", "", false},
		{"Installed-Build-Depends order", " base-files (= 12.4+deb12u11),\n base-passwd (= 3.6.1),\n", " base-passwd (= 3.6.1),\n base-files (= 12.4+deb12u11),\n", false},
		{"Checksums", "748e3638f64df974a57e60577f1ad5de08be7a85dc7a8f8e201671261e3ba530", strings.Repeat("0", 64), false},
		{"Source", "Source: rbtest\n", "Source: rbtest (0.0)\n", true},
		{"Version", "Version: 0.1\n", "Version: 0.2\n", true},
		{"Build-Architecture", "Build-Architecture: amd64", "Build-Architecture: arm64", true},
		{"Build-Origin", "Build-Origin: Debian", "Build-Origin: Ubuntu", true},
		{"Build-Path", "Build-Origin: Debian\n", "Build-Origin: Debian\nBuild-Path: /build/x\n", true},
		{"Installed-Build-Depends", "bash (= 5.2.15-2+b8)", "bash (= 5.2.15-2+b9)", true},
		{"Environment", `LANG="C.UTF-8"`, `LANG="de_DE.UTF-8"`, true},
		{"DEB_BUILD_OPTIONS", `DEB_BUILD_OPTIONS="parallel=2"`, `DEB_BUILD_OPTIONS="nocheck parallel=2"`, true},
		{"Binary-Only-Changes", "Build-Origin: Debian\n", "Build-Origin: Debian\nBinary-Only-Changes:\n rbtest (0.1+b1) sid; urgency=low\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := string(raw)
			if !strings.Contains(text, tt.old) {
				t.Fatalf("fixture lacks %q", tt.old)
			}
			b, err := Parse([]byte(strings.Replace(text, tt.old, tt.new, 1)))
			if err != nil {
				t.Fatal(err)
			}
			if got := b.InputsDigest() != base.InputsDigest(); got != tt.changes {
				t.Errorf("digest changed = %v, want %v\n%s", got, tt.changes, b.InputsText())
			}
		})
	}
}
