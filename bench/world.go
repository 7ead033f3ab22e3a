package bench

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"strings"
)

// The build environment of a real Debian build (hello 2.10-3, amd64): the
// generated buildinfos keep it, from Build-Origin to the end, so that each
// record has the size and shape of a real one (about 7 KiB).
//
//go:embed testdata/hello_2.10-3_amd64.buildinfo
var helloBuildinfo []byte

var buildEnvironment = func() []byte {
	i := bytes.Index(helloBuildinfo, []byte("\nBuild-Origin:"))
	if i < 0 {
		panic("bench: the template has no Build-Origin")
	}
	return helloBuildinfo[i+1:]
}()

// shortDepends is how many installed build dependencies a short build
// environment keeps.
const shortDepends = 20

// shortEnvironment is buildEnvironment with only its first shortDepends
// installed build dependencies: a small build, cheaper to sign and parse.
var shortEnvironment = func() []byte {
	lines := strings.SplitAfter(string(buildEnvironment), "\n")
	var out strings.Builder
	inDepends, kept := false, 0
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "Installed-Build-Depends:"):
			inDepends = true
		case inDepends && strings.HasPrefix(l, " "):
			kept++
			if kept > shortDepends {
				continue
			}
			if kept == shortDepends {
				l = strings.TrimSuffix(strings.TrimSuffix(l, "\n"), ",") + "\n"
			}
		default:
			inDepends = false
		}
		out.WriteString(l)
	}
	return []byte(out.String())
}()

// File is a binary package file a build produced.
type File struct {
	Name   string // package_version_arch.deb
	SHA256 string
	Size   int64
}

// Build is one source version built for amd64: what every rebuilder of the
// World reports, each in its own signed record.
type Build struct {
	Source, Version string
	Files           []File

	env []byte // Build-Origin to the end
}

// World describes a log's contents: Sources source packages, each built in
// consecutive versions, and every version rebuilt by Rebuilders builders
// that agree. Entry e is build e/Rebuilders reported by rebuilder
// e%Rebuilders, so a log of n entries holds n/Rebuilders builds.
type World struct {
	Sources    int
	Rebuilders int
	// Override replaces the generated files of a build (by its number):
	// the builds of real .deb files, whose hashes must be theirs.
	Override map[int][]File
	// ShortFrom, when not 0, gives builds from this number on a build
	// environment of 20 installed dependencies instead of the real 229:
	// records of 2 KiB instead of 7, to fill a large log faster.
	ShortFrom int
}

// Build returns build number b: source b%Sources, version b/Sources.
func (w *World) Build(b int) Build {
	src := fmt.Sprintf("bsrc%d", b%w.Sources)
	version := fmt.Sprintf("1.%d-1", b/w.Sources)
	env := buildEnvironment
	if w.ShortFrom > 0 && b >= w.ShortFrom {
		env = shortEnvironment
	}
	if files, ok := w.Override[b]; ok {
		return Build{Source: src, Version: version, Files: files, env: env}
	}
	var files []File
	for _, bin := range []string{src + "-dev", src} { // in the order of their file names
		name := fmt.Sprintf("%s_%s_amd64.deb", bin, version)
		sum := sha256.Sum256([]byte(name))
		files = append(files, File{Name: name, SHA256: hex.EncodeToString(sum[:]), Size: int64(10000 + len(name))})
	}
	return Build{Source: src, Version: version, Files: files, env: env}
}

// Text is the buildinfo a rebuilder signs for b.
func (b Build) Text() []byte {
	var s strings.Builder
	fmt.Fprintf(&s, "Format: 1.0\nSource: %s\nBinary:", b.Source)
	for _, f := range b.Files {
		s.WriteString(" " + strings.SplitN(f.Name, "_", 2)[0])
	}
	fmt.Fprintf(&s, "\nArchitecture: amd64\nVersion: %s\nChecksums-Sha256:\n", b.Version)
	for _, f := range b.Files {
		fmt.Fprintf(&s, " %s %d %s\n", f.SHA256, f.Size, f.Name)
	}
	if b.env == nil {
		b.env = buildEnvironment
	}
	s.Write(b.env)
	return []byte(s.String())
}
