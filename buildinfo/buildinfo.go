package buildinfo

import (
	"slices"
	"strings"
)

// Buildinfo is a parsed .buildinfo file. Multi-value fields keep the order
// in which the file lists them.
type Buildinfo struct {
	Format        string
	Source        string   // source package name
	SourceVersion string   // the version in parentheses after Source, or Version
	Binaries      []string // Binary; empty for a source-only build
	Architectures []string // Architecture
	Version       string
	// BinaryOnlyChanges holds the lines of Binary-Only-Changes, with the
	// deb822 escaping removed ("." lines are empty).
	BinaryOnlyChanges []string
	Files             []File // Checksums-Sha256, sorted by name

	BuildOrigin        string
	BuildArchitecture  string
	BuildDate          string
	BuildKernelVersion string
	BuildPath          string
	BuildTaintedBy     []string

	// InstalledBuildDepends holds entries such as "gcc-12 (= 12.2.0-14)" or
	// "libc6:i386 (= 2.36-9)", with whitespace normalised.
	InstalledBuildDepends []string
	// Environment holds NAME="value" lines as written.
	Environment []string
}

// File is one entry of Checksums-Sha256. For binary packages (.deb, .udeb,
// .ddeb) Package, Version and Arch are read from the file name, which
// dpkg writes as package_version_arch.ext with the epoch left out.
type File struct {
	Name   string
	SHA256 string // lower-case hex
	Size   int64

	Package string
	Version string
	Arch    string
}

// IsBinary reports whether f is a binary package.
func (f File) IsBinary() bool { return f.Package != "" }

// DSC returns the .dsc file of the build, if the build lists one.
func (b *Buildinfo) DSC() (File, bool) {
	for _, f := range b.Files {
		if strings.HasSuffix(f.Name, ".dsc") {
			return f, true
		}
	}
	return File{}, false
}

// HasArch reports whether the Architecture field lists arch.
func (b *Buildinfo) HasArch(arch string) bool { return slices.Contains(b.Architectures, arch) }
