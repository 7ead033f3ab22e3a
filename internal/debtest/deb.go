// Package debtest builds real Debian binary packages with dpkg-deb, serves
// them as a flat apt repository on 127.0.0.1, and sets up throwaway roots
// in which the real apt-get and dpkg install them, for end-to-end tests.
package debtest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/reprolog/reprolog/internal/testenv"
)

// Need skips the test when one of the named tools is not installed
// (scripts/test-deps.sh installs them), or fails it when the environment
// sets REPROLOG_STRICT=1, as scripts/test does: there, a missing tool is an
// error, not a reason to test less.
func Need(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Unavailable(t, "%s is not installed (scripts/test-deps.sh installs it)", tool)
		}
	}
}

// Arch returns the host's Debian architecture, as dpkg --print-architecture
// gives it: the one apt installs packages of without further
// configuration. It is amd64 when dpkg is not installed.
func Arch() string { return hostArch() }

var hostArch = sync.OnceValue(func() string {
	out, err := exec.Command("dpkg", "--print-architecture").Output()
	if a := strings.TrimSpace(string(out)); err == nil && a != "" {
		return a
	}
	return "amd64"
})

// Package describes a binary package to build. Content goes into
// /usr/share/doc/NAME/README: two packages that differ only in Content
// are two different files of the same package version.
type Package struct {
	Name    string
	Version string // with its epoch, if any
	Arch    string // the host's (Arch) when empty
	Content string
}

// Deb is a built .deb.
type Deb struct {
	Package
	Path   string
	SHA256 string
	Size   int64
}

// FileName returns the name dpkg gives the file: NAME_VERSION_ARCH.deb,
// the version without its epoch.
func (p Package) FileName() string {
	v := p.Version
	if _, after, ok := strings.Cut(v, ":"); ok {
		v = after
	}
	return fmt.Sprintf("%s_%s_%s.deb", p.Name, v, p.arch())
}

func (p Package) arch() string {
	if p.Arch == "" {
		return Arch()
	}
	return p.Arch
}

// Build makes the .deb for p with dpkg-deb in dir, under p.FileName().
// The Deb it returns names its architecture.
func Build(t testing.TB, dir string, p Package) Deb {
	t.Helper()
	Need(t, "dpkg-deb")
	p.Arch = p.arch()
	tree, err := os.MkdirTemp(t.TempDir(), "tree-")
	if err != nil {
		t.Fatal(err)
	}
	doc := filepath.Join(tree, "usr", "share", "doc", p.Name)
	for _, d := range []string{filepath.Join(tree, "DEBIAN"), doc} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: Test <test@example.org>\n"+
		"Description: a test package\n", p.Name, p.Version, p.arch())
	if err := os.WriteFile(filepath.Join(tree, "DEBIAN", "control"), []byte(control), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(doc, "README"), []byte(p.Content+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, p.FileName())
	cmd := exec.Command("dpkg-deb", "--root-owner-group", "-Zgzip", "--build", tree, out)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1704067200")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return Deb{Package: p, Path: out, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))}
}
