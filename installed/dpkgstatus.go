package installed

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/reprolog/reprolog/buildinfo"
)

// DefaultStatus is dpkg's status file.
const DefaultStatus = "/var/lib/dpkg/status"

// maxStatusSize bounds the dpkg status file this package reads.
const maxStatusSize = 1 << 30

// Key names one binary package version: what a decision is about, short
// of the file's hash. Version is as dpkg writes it, with its epoch.
type Key struct {
	Package string `json:"package"`
	Version string `json:"version"`
	Arch    string `json:"arch"`
}

func (k Key) String() string { return k.Package + " " + k.Version + " (" + k.Arch + ")" }

// Installed is a package whose files dpkg has on the system.
type Installed struct {
	Key
	// State is dpkg's package state: installed, half-configured,
	// unpacked, half-installed, triggers-awaited or triggers-pending.
	State string `json:"state"`
}

var (
	statusWants  = []string{"unknown", "install", "hold", "deinstall", "purge"}
	statusFlags  = []string{"ok", "reinstreq", "hold", "hold-reinstreq"}
	statusStates = []string{"not-installed", "config-files", "half-installed", "unpacked",
		"half-configured", "triggers-awaited", "triggers-pending", "installed"}
)

// ReadStatus reads dpkg's status file at path (DefaultStatus when empty).
func ReadStatus(path string) ([]Installed, error) {
	if path == "" {
		path = DefaultStatus
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pkgs, err := ParseStatus(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pkgs, nil
}

// ParseStatus reads a dpkg status file and returns the packages whose
// files are on the system: every state but not-installed and
// config-files. Each paragraph must have a Package and a well-formed
// Status; those on the system must have a valid Version and
// Architecture, and a package may be there only once per architecture.
func ParseStatus(r io.Reader) ([]Installed, error) {
	lr := &io.LimitedReader{R: r, N: maxStatusSize + 1}
	var out []Installed
	seen := map[[2]string]bool{}
	err := scanParagraphs(lr, []string{"Package", "Status", "Version", "Architecture"}, func(v []string, line int) error {
		name, status, version, arch := v[0], v[1], v[2], v[3]
		if !buildinfo.ValidPackageName(name) {
			return fmt.Errorf("paragraph at line %d: missing or bad Package", line)
		}
		w := strings.Split(status, " ")
		if len(w) != 3 || !slices.Contains(statusWants, w[0]) || !slices.Contains(statusFlags, w[1]) ||
			!slices.Contains(statusStates, w[2]) {
			return fmt.Errorf("package %s: missing or bad Status", name)
		}
		if w[2] == "not-installed" || w[2] == "config-files" {
			return nil
		}
		if !buildinfo.ValidVersion(version) || !buildinfo.ValidArch(arch) {
			return fmt.Errorf("package %s: missing or bad Version or Architecture", name)
		}
		if seen[[2]string{name, arch}] {
			return fmt.Errorf("package %s:%s listed twice", name, arch)
		}
		seen[[2]string{name, arch}] = true
		out = append(out, Installed{Key: Key{Package: name, Version: version, Arch: arch}, State: w[2]})
		return nil
	})
	if lr.N <= 0 {
		return nil, fmt.Errorf("larger than %d bytes", maxStatusSize)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}
