package buildinfo

import "strings"

// ValidPackageName reports whether s is a Debian package name: at least
// two of a-z, 0-9, '+', '-' and '.', starting with a letter or a digit.
// (It runs once per build dependency of every record, so it spells out
// what a regular expression would say.)
func ValidPackageName(s string) bool {
	if len(s) < 2 || len(s) > MaxNameLength || !lowerOrDigit(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !lowerOrDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// ValidArch reports whether s is a Debian architecture name (or "all",
// "source"): a-z, 0-9 and '-', starting with a letter or a digit.
func ValidArch(s string) bool {
	if len(s) < 1 || len(s) > MaxNameLength || !lowerOrDigit(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !lowerOrDigit(c) && c != '-' {
			return false
		}
	}
	return true
}

func lowerOrDigit(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

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
