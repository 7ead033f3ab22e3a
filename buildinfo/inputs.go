package buildinfo

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
)

// InputsDigest returns the lower-case hex SHA-256 of the build's inputs:
// what makes two reports "the same build". It covers Source (with its
// version), Version, Architecture, Build-Architecture, Binary-Only-Changes,
// the .dsc's SHA-256 when the build lists one, the Installed-Build-Depends
// set, Build-Origin, Build-Path and Environment without the parallel=N
// option of DEB_BUILD_OPTIONS. It ignores Build-Date, Build-Kernel-Version,
// Build-Tainted-By and the signature. The exact text hashed is InputsText.
func (b *Buildinfo) InputsDigest() string {
	sum := sha256.Sum256([]byte(b.InputsText()))
	return hex.EncodeToString(sum[:])
}

// InputsText is the canonical text whose SHA-256 is InputsDigest: one
// "key value" line per item, in a fixed order, sets sorted.
func (b *Buildinfo) InputsText() string {
	var s strings.Builder
	size := 256
	for _, l := range [][]string{b.InstalledBuildDepends, b.Environment, b.BinaryOnlyChanges} {
		for _, v := range l {
			size += len(v) + 32
		}
	}
	s.Grow(size)
	line := func(k, v string) {
		s.WriteString(k)
		s.WriteByte(' ')
		s.WriteString(v)
		s.WriteByte('\n')
	}
	line("reprolog-inputs", "v1")
	line("source", b.Source+" "+b.SourceVersion)
	line("version", b.Version)
	line("architecture", strings.Join(sorted(b.Architectures), " "))
	line("build-architecture", b.BuildArchitecture)
	for _, l := range b.BinaryOnlyChanges {
		line("binary-only-changes", l)
	}
	if dsc, ok := b.DSC(); ok {
		line("dsc", dsc.SHA256+" "+dsc.Name)
	}
	for _, d := range sorted(b.InstalledBuildDepends) {
		line("installed-build-depends", d)
	}
	if b.BuildOrigin != "" {
		line("build-origin", b.BuildOrigin)
	}
	if b.BuildPath != "" {
		line("build-path", b.BuildPath)
	}
	for _, e := range sorted(normalizeEnvironment(b.Environment)) {
		line("environment", e)
	}
	return s.String()
}

// normalizeEnvironment drops parallel=N from DEB_BUILD_OPTIONS, and the
// variable itself when nothing else is left in it.
func normalizeEnvironment(env []string) []string {
	var out []string
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, `DEB_BUILD_OPTIONS="`); ok {
			v = strings.TrimSuffix(v, `"`)
			kept := slices.DeleteFunc(strings.Fields(v), func(opt string) bool {
				n, ok := strings.CutPrefix(opt, "parallel=")
				return ok && isDecimal(n)
			})
			if len(kept) == 0 {
				continue
			}
			e = `DEB_BUILD_OPTIONS="` + strings.Join(kept, " ") + `"`
		}
		out = append(out, e)
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
