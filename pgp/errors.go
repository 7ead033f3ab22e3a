package pgp

import (
	"errors"
	"fmt"
)

// Errors returned by this package, to be tested with [errors.Is]. An error
// from [ParseClearsigned] or [Signed.Verify] wraps exactly one of them; an
// error from [ParseKey] or [ParseKeyring] wraps [ErrKeyExpired] or
// [ErrKeyRevoked] when that is why the key was refused, and none otherwise.
var (
	// ErrMalformed: the record is not one well-formed clear-signed message
	// with a single canonical-text signature.
	ErrMalformed = errors.New("malformed clear-signed record")
	// ErrWeakDigest: the signature uses MD5, SHA-1 or RIPEMD-160.
	ErrWeakDigest = errors.New("weak digest algorithm")
	// ErrBadSignature: the signature does not verify, was made by a key
	// that may not sign, or was made at an impossible time.
	ErrBadSignature = errors.New("bad signature")
	// ErrKeyExpired: the key or the subkey that signed has expired.
	ErrKeyExpired = errors.New("key expired")
	// ErrKeyRevoked: the key or the subkey that signed has been revoked.
	ErrKeyRevoked = errors.New("key revoked")
	// ErrUnknownKey: the signature's issuer is not part of the key.
	ErrUnknownKey = errors.New("unknown key")
)

// malformed returns an ErrMalformed error with a short reason. Reasons never
// quote the input.
func malformed(format string, args ...any) error {
	return fmt.Errorf("pgp: %w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// fail returns an error wrapping kind, with a reason.
func fail(kind error, format string, args ...any) error {
	return fmt.Errorf("pgp: %w: %s", kind, fmt.Sprintf(format, args...))
}
