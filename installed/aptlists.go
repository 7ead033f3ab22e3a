package installed

import (
	"compress/bzip2"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/xi2/xz"

	"github.com/reprolog/reprolog/buildinfo"
)

// DefaultLists is the directory where apt keeps its package lists.
const DefaultLists = "/var/lib/apt/lists"

// maxListSize bounds one Packages list, decompressed.
const maxListSize = 4 << 30

// decompressors by the suffix apt gives a list it keeps compressed
// (Acquire::GzipIndexes).
var decompressors = map[string]func(io.Reader) (io.Reader, error){
	"":     func(r io.Reader) (io.Reader, error) { return r, nil },
	".gz":  func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) },
	".bz2": func(r io.Reader) (io.Reader, error) { return bzip2.NewReader(r), nil },
	".xz":  func(r io.Reader) (io.Reader, error) { return xz.NewReader(r, 0) },
	".lz4": func(r io.Reader) (io.Reader, error) { return lz4.NewReader(r), nil },
	".zst": func(r io.Reader) (io.Reader, error) {
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	},
}

// Lists is what apt's package lists say about some packages: the SHA-256
// of each version they offer.
type Lists struct {
	hashes map[Key][]string
	// Files are the lists that were read; Warnings name those that could
	// not be.
	Files    []string
	Warnings []string
}

// SHA256 returns the hash apt's lists give for k. ok is false when they do
// not list k, or list two different files for it (then which one was
// installed is unknown).
func (l *Lists) SHA256(k Key) (hash string, ok bool) {
	h := l.hashes[k]
	if len(h) != 1 {
		return "", false
	}
	return h[0], true
}

// Ambiguous reports whether the lists give several hashes for k.
func (l *Lists) Ambiguous(k Key) bool { return len(l.hashes[k]) > 1 }

// ListFiles returns the Packages lists in dir (DefaultLists when empty),
// sorted, in any compression apt uses.
func ListFiles(dir string) ([]string, error) {
	if dir == "" {
		dir = DefaultLists
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() && listSuffix(e.Name()) >= 0 {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}

// listSuffix returns the length of the compression suffix of a Packages
// list's name, or -1 when name is not one.
func listSuffix(name string) int {
	for ext := range decompressors {
		if strings.HasSuffix(name, "_Packages"+ext) {
			return len(ext)
		}
	}
	return -1
}

// ListsFingerprint summarizes the names, sizes and modification times of
// the lists in dir, so that a caller can tell whether they changed.
func ListsFingerprint(dir string) string {
	files, err := ListFiles(dir)
	if err != nil {
		return "unreadable"
	}
	h := sha256.New()
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			fmt.Fprintf(h, "%s %d %d\n", f, st.Size(), st.ModTime().UnixNano())
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ReadLists reads the Packages lists in dir (DefaultLists when empty) and
// keeps the hashes of the versions in want. A list that cannot be read or
// parsed is named in Warnings and skipped.
func ReadLists(dir string, want map[Key]bool) (*Lists, error) {
	files, err := ListFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("apt lists: %w", err)
	}
	l := &Lists{hashes: map[Key][]string{}}
	for _, f := range files {
		found := map[Key][]string{}
		err := readList(f, func(k Key, sum string) {
			if want[k] && !slices.Contains(found[k], sum) {
				found[k] = append(found[k], sum)
			}
		})
		if err != nil {
			l.Warnings = append(l.Warnings, fmt.Sprintf("apt list %s skipped: %v", f, err))
			continue
		}
		l.Files = append(l.Files, f)
		for k, sums := range found {
			for _, s := range sums {
				if !slices.Contains(l.hashes[k], s) {
					l.hashes[k] = append(l.hashes[k], s)
				}
			}
		}
	}
	return l, nil
}

func readList(path string, each func(Key, string)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	name := filepath.Base(path)
	r, err := decompressors[name[len(name)-listSuffix(name):]](f)
	if err != nil {
		return err
	}
	if c, ok := r.(io.Closer); ok && r != io.Reader(f) {
		defer c.Close()
	}
	lr := &io.LimitedReader{R: r, N: maxListSize + 1}
	err = ParsePackages(lr, each)
	if lr.N <= 0 {
		return fmt.Errorf("larger than %d bytes", int64(maxListSize))
	}
	return err
}

// ParsePackages reads an apt Packages list and calls each with the
// package, version, architecture and SHA-256 of every paragraph that has
// a SHA256 field. Every paragraph must name its Package, Version and
// Architecture; a SHA256 must be lower-case hex.
func ParsePackages(r io.Reader, each func(k Key, sha256 string)) error {
	return scanParagraphs(r, []string{"Package", "Version", "Architecture", "SHA256"}, func(v []string, line int) error {
		if v[0] == "" || v[1] == "" || v[2] == "" {
			return fmt.Errorf("paragraph at line %d: missing Package, Version or Architecture", line)
		}
		if v[3] == "" {
			return nil
		}
		if !buildinfo.ValidSHA256(v[3]) {
			return fmt.Errorf("paragraph at line %d: bad SHA256", line)
		}
		each(Key{Package: v[0], Version: v[1], Arch: v[2]}, v[3])
		return nil
	})
}
