package buildinfo

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// MaxFiles bounds the number of files one buildinfo may list.
const MaxFiles = 2000

func errf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// parseFiles reads Checksums-Sha256 and checks that Checksums-Md5 and
// Checksums-Sha1, where present, list the same files with the same sizes.
// Their digests are not trusted for anything.
func parseFiles(p paragraph, b *Buildinfo) error {
	files, err := checksumList(p, "checksums-sha256", func(s string) bool { return sha256RE.MatchString(s) })
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return malformed("Checksums-Sha256 lists no files")
	}
	for _, weak := range []struct {
		name string
		hex  int
	}{{"checksums-md5", 32}, {"checksums-sha1", 40}} {
		if !p.has(weak.name) {
			continue
		}
		n := weak.hex
		other, err := checksumList(p, weak.name, func(s string) bool { return len(s) == n && isLowerHex(s) })
		if err != nil {
			return err
		}
		if len(other) != len(files) {
			return malformed("%s and Checksums-Sha256 list different files", fieldTitle(weak.name))
		}
		for i := range other {
			if other[i].Name != files[i].Name || other[i].Size != files[i].Size {
				return malformed("%s and Checksums-Sha256 disagree on %s", fieldTitle(weak.name), files[i].Name)
			}
		}
	}
	for i := range files {
		if err := nameBinary(&files[i]); err != nil {
			return err
		}
	}
	b.Files = files
	return nil
}

// checksumList reads "checksum size name" lines, sorted by name.
func checksumList(p paragraph, field string, validSum func(string) bool) ([]File, error) {
	lines, err := p.lines(field)
	if err != nil {
		return nil, err
	}
	if len(lines) > MaxFiles {
		return nil, malformed("%s lists more than %d files", fieldTitle(field), MaxFiles)
	}
	var files []File
	seen := map[string]bool{}
	for _, line := range lines {
		f := strings.Split(line, " ")
		if len(f) != 3 {
			return nil, malformed("%s: a line is not \"checksum size name\"", fieldTitle(field))
		}
		if !validSum(f[0]) {
			return nil, malformed("%s: bad checksum %s", fieldTitle(field), quote(f[0]))
		}
		if !isDecimal(f[1]) {
			return nil, malformed("%s: bad size %s", fieldTitle(field), quote(f[1]))
		}
		size, _ := strconv.ParseInt(f[1], 10, 64)
		name := f[2]
		if len(name) > 255 || !fileRE.MatchString(name) {
			return nil, malformed("%s: unsafe file name %s", fieldTitle(field), quote(name))
		}
		if seen[name] {
			return nil, malformed("%s: %s listed twice", fieldTitle(field), name)
		}
		seen[name] = true
		files = append(files, File{Name: name, SHA256: f[0], Size: size})
	}
	sortFiles(files)
	return files, nil
}

// nameBinary fills Package, Version and Arch for binary package files.
func nameBinary(f *File) error {
	var stem string
	for _, ext := range []string{".deb", ".udeb", ".ddeb"} {
		if s, ok := strings.CutSuffix(f.Name, ext); ok {
			stem = s
		}
	}
	if stem == "" {
		return nil
	}
	parts := strings.Split(stem, "_")
	if len(parts) != 3 || !ValidPackageName(parts[0]) || !ValidArch(parts[2]) ||
		strings.Contains(parts[1], ":") || checkVersion(parts[1]) != nil {
		return malformed("binary package file name %s is not package_version_arch", quote(f.Name))
	}
	f.Package, f.Version, f.Arch = parts[0], parts[1], parts[2]
	return nil
}

func sortFiles(files []File) {
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
