package proofs

import "errors"

// Errors returned by this package, to be tested with errors.Is.
var (
	// ErrMalformed: a bundle or a tlog-proof is not in the canonical format.
	ErrMalformed = errors.New("malformed proof")
	// ErrInclusion: an inclusion or consistency proof does not check.
	ErrInclusion = errors.New("proof does not check")
	// ErrRecord: a record is missing, does not match its statement, or its
	// signature does not verify.
	ErrRecord = errors.New("record does not check")
)
