package buildinfo

import "strings"

// ValidPackageName reports whether s is a Debian package name.
func ValidPackageName(s string) bool { return len(s) <= MaxNameLength && packageRE.MatchString(s) }

// ValidArch reports whether s is a Debian architecture name (or "all",
// "source").
func ValidArch(s string) bool { return len(s) <= MaxNameLength && archRE.MatchString(s) }

// ValidVersion reports whether s is a Debian version, as dpkg reads it.
func ValidVersion(s string) bool { return checkVersion(s) == nil }

// ValidSHA256 reports whether s is a lower-case hex SHA-256.
func ValidSHA256(s string) bool { return sha256RE.MatchString(s) }

// FileFromName checks a file name as Parse does and, for binary packages,
// fills in Package, Version and Arch.
func FileFromName(name string) (File, error) {
	f := File{Name: name}
	if len(name) > 255 || !fileRE.MatchString(name) {
		return f, malformed("unsafe file name %s", quote(name))
	}
	return f, nameBinary(&f)
}

// StripEpoch returns a version as it appears in file names: without the
// epoch.
func StripEpoch(v string) string {
	if _, after, ok := strings.Cut(v, ":"); ok {
		return after
	}
	return v
}
