// Package buildinfo parses Debian .buildinfo files (deb-buildinfo(5), Format
// 1.x) strictly, and computes the build inputs digest: the value that says
// whether two reports describe the same build.
//
// Parse accepts exactly what a current dpkg-genbuildinfo writes: one deb822
// paragraph, UTF-8, no duplicate fields (field names compare case-insensitively),
// no comments, the required fields present and well formed, and file names that
// are safe to use as paths. Anything else is an error wrapping ErrMalformed, or
// ErrUnsupported for formats this package does not read (the pre-1.0 drafts
// without Installed-Build-Depends, Format 2.0 and later, Arch Linux BUILDINFO).
//
// The text given to Parse is the signed body of a clear-signed record, as
// returned by the pgp package; Parse does not deal with signatures.
package buildinfo
