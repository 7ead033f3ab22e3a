// Package statement defines the log entry of reprolog: a small, canonical,
// versioned text derived from a verified record (a clear-signed .buildinfo).
//
// A statement names the build (source, versions, architectures), every file
// the build produced with its SHA-256 and size, the digest of the build's
// inputs, the OpenPGP fingerprint of the builder, and the SHA-256 and size
// of the record it was derived from. The same record always gives the same
// bytes, so anyone holding the record can derive the statement again and
// compare. The format is specified in SPEC.md next to this file.
package statement
