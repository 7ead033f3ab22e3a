package proofs_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/reprolog/reprolog/buildinfo"
	"github.com/reprolog/reprolog/pgp"
	"github.com/reprolog/reprolog/pgp/pgptest"
	"github.com/reprolog/reprolog/proofs"
	"github.com/reprolog/reprolog/proofs/prooftest"
	"github.com/reprolog/reprolog/statement"
)

func TestCheckRecord(t *testing.T) {
	alice, bob := pgptest.NewSigner(t, "alice"), pgptest.NewSigner(t, "bob")
	key := func(s *pgptest.Signer) *pgp.Key {
		k, err := pgp.ParseKey(s.PublicArmored(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	build := prooftest.Build{Source: "hello", Version: "2.10-3",
		Debs: []prooftest.Deb{{Package: "hello", Arch: "amd64", SHA256: sum("hello"), Size: 5}}}
	record := prooftest.Record(t, alice, build)
	parse := func(entry []byte) *statement.Statement {
		s, err := statement.Parse(entry)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := parse(prooftest.Statement(t, alice, record))
	if err := proofs.CheckRecord(good, record, key(alice)); err != nil {
		t.Fatal(err)
	}

	// derive makes the statement a record would give if its signature were
	// alice's, without checking the signature.
	derive := func(rec []byte, text []byte) *statement.Statement {
		b, err := buildinfo.Parse(text)
		if err != nil {
			t.Fatal(err)
		}
		s, err := statement.Derive(b, alice.Fingerprint(), rec)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	forgedText := bytes.Replace(prooftest.Buildinfo(build), []byte("LANG"), []byte("LANH"), 1)
	forged := bytes.Replace(record, []byte("LANG"), []byte("LANH"), 1)
	otherInputs := *good
	otherInputs.Inputs = hex.EncodeToString(make([]byte, 32))
	notBuildinfo := alice.ClearSign(t, []byte("Hello: world\n"))
	sum := sha256.Sum256(notBuildinfo)
	garbage := *good
	garbage.Record, garbage.RecordSize = hex.EncodeToString(sum[:]), int64(len(notBuildinfo))

	tests := []struct {
		name   string
		s      *statement.Statement
		record []byte
		key    *pgp.Key
		also   error
	}{
		{"another builder's key", good, record, key(bob), nil},
		{"no key", good, record, nil, nil},
		{"signed text changed", derive(forged, forgedText), forged, key(alice), pgp.ErrBadSignature},
		{"statement says other inputs", &otherInputs, record, key(alice), nil},
		{"record is not a buildinfo", &garbage, notBuildinfo, key(alice), buildinfo.ErrMalformed},
		{"record size differs", func() *statement.Statement { s := *good; s.RecordSize++; return &s }(), record, key(alice), nil},
	}
	for _, tt := range tests {
		err := proofs.CheckRecord(tt.s, tt.record, tt.key)
		if !errors.Is(err, proofs.ErrRecord) || tt.also != nil && !errors.Is(err, tt.also) {
			t.Errorf("%s: CheckRecord = %v, want ErrRecord (and %v)", tt.name, err, tt.also)
		}
	}
}
