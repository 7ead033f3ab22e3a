package client

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"pault.ag/go/debian/deb"

	"github.com/reprolog/reprolog/buildinfo"
)

// Deb is a binary package file to decide about.
type Deb struct {
	Path string
	Target
}

// ReadDeb reads a .deb's package name, version and architecture from its
// control file, and hashes the whole file.
func ReadDeb(path string) (Deb, error) {
	f, err := os.Open(path)
	if err != nil {
		return Deb{}, err
	}
	defer f.Close()
	d, err := deb.Load(f, path)
	if err != nil {
		return Deb{}, fmt.Errorf("%s: not a .deb: %v", path, err)
	}
	c := d.Control
	d.Close()
	t := Target{Package: c.Package, Version: c.Version.String(), Arch: c.Architecture.String()}
	if !buildinfo.ValidPackageName(t.Package) || !buildinfo.ValidVersion(t.Version) || !buildinfo.ValidArch(t.Arch) {
		return Deb{}, fmt.Errorf("%s: bad Package, Version or Architecture in its control file", path)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return Deb{}, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return Deb{}, fmt.Errorf("%s: %w", path, err)
	}
	t.SHA256 = hex.EncodeToString(h.Sum(nil))
	return Deb{Path: path, Target: t}, nil
}
