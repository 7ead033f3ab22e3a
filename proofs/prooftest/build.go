package prooftest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/reprolog/reprolog/buildinfo"
	"github.com/reprolog/reprolog/pgp"
	"github.com/reprolog/reprolog/pgp/pgptest"
	"github.com/reprolog/reprolog/statement"
)

// Build describes a rebuild for Buildinfo: what was built, what came out,
// and the toolchain (two builds with the same Toolchain have the same
// build inputs digest).
type Build struct {
	Source    string
	Version   string // with its epoch, if any
	Debs      []Deb
	Toolchain string // the gcc-12 version installed for the build; "12.2.0-14" when empty
}

// Deb is one binary package a build produced.
type Deb struct {
	Package string
	Arch    string
	SHA256  string
	Size    int64
}

// Name returns the file name dpkg gives the package (version without epoch).
func (d Deb) Name(version string) string {
	return fmt.Sprintf("%s_%s_%s.deb", d.Package, buildinfo.StripEpoch(version), d.Arch)
}

// Buildinfo returns the text of a .buildinfo file for b, as
// dpkg-genbuildinfo writes it.
func Buildinfo(b Build) []byte {
	toolchain := b.Toolchain
	if toolchain == "" {
		toolchain = "12.2.0-14"
	}
	var bins, archs, sums []string
	for _, d := range b.Debs {
		bins = append(bins, d.Package)
		if !strings.Contains(" "+strings.Join(archs, " ")+" ", " "+d.Arch+" ") {
			archs = append(archs, d.Arch)
		}
		sums = append(sums, fmt.Sprintf(" %s %d %s", d.SHA256, d.Size, d.Name(b.Version)))
	}
	return []byte(fmt.Sprintf(`Format: 1.0
Source: %s
Binary: %s
Architecture: %s
Version: %s
Checksums-Sha256:
%s
Build-Origin: Debian
Build-Architecture: amd64
Build-Date: Wed, 25 Nov 2026 10:48:10 +0000
Build-Path: /build/reproducible-path/%s
Installed-Build-Depends:
 base-files (= 12.4+deb12u11),
 dpkg-dev (= 1.21.22),
 gcc-12 (= %s),
 libc6 (= 2.36-9+deb12u14)
Environment:
 LANG="C.UTF-8"
 SOURCE_DATE_EPOCH="1704067200"
`, b.Source, strings.Join(bins, " "), strings.Join(archs, " "), b.Version,
		strings.Join(sums, "\n"), b.Source, toolchain))
}

// Record returns b's buildinfo clear-signed by s.
func Record(t testing.TB, s *pgptest.Signer, b Build) []byte {
	t.Helper()
	return s.ClearSign(t, Buildinfo(b))
}

// Statement derives the statement of a record signed by s, as the log
// does, and returns its canonical bytes.
func Statement(t testing.TB, s *pgptest.Signer, record []byte) []byte {
	t.Helper()
	key, err := pgp.ParseKey(s.PublicArmored(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	signed, err := pgp.ParseClearsigned(record)
	if err != nil {
		t.Fatal(err)
	}
	if err := signed.Verify(key, signed.Created); err != nil {
		t.Fatal(err)
	}
	b, err := buildinfo.Parse(signed.Text)
	if err != nil {
		t.Fatal(err)
	}
	st, err := statement.Derive(b, key.Fingerprint(), record)
	if err != nil {
		t.Fatal(err)
	}
	return st.Marshal()
}
