package proofs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/reprolog/reprolog/buildinfo"
	"github.com/reprolog/reprolog/pgp"
	"github.com/reprolog/reprolog/statement"
)

// CheckRecord checks that record is the record s was derived from and that
// key, the builder's key, signed it: the record's SHA-256 and size match
// the statement, its signature verifies with key as of the signature's
// creation time, and deriving the statement again from it gives exactly s.
// Errors wrap ErrRecord.
func CheckRecord(s *statement.Statement, record []byte, key *pgp.Key) error {
	if err := checkRecord(s, record, key); err != nil {
		return fmt.Errorf("%w: record %s: %w", ErrRecord, s.Record, err)
	}
	return nil
}

func checkRecord(s *statement.Statement, record []byte, key *pgp.Key) error {
	sum := sha256.Sum256(record)
	if hex.EncodeToString(sum[:]) != s.Record || int64(len(record)) != s.RecordSize {
		return fmt.Errorf("its SHA-256 or size is not the statement's")
	}
	if key == nil || key.Fingerprint() != s.Builder {
		return fmt.Errorf("no key for builder %s", s.Builder)
	}
	signed, err := pgp.ParseClearsigned(record)
	if err != nil {
		return err
	}
	if err := signed.Verify(key, signed.Created); err != nil {
		return err
	}
	b, err := buildinfo.Parse(signed.Text)
	if err != nil {
		return err
	}
	derived, err := statement.Derive(b, key.Fingerprint(), record)
	if err != nil {
		return err
	}
	if !bytes.Equal(derived.Marshal(), s.Marshal()) {
		return fmt.Errorf("it derives another statement")
	}
	return nil
}
