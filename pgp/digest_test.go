package pgp_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/reprolog/reprolog/pgp/pgptest"
)

// TestDigest: every encoding of one signature that anyone can make from a
// published record verifies and has the record's digest; another
// signature of the same text, or a signature of another text, does not.
func TestDigest(t *testing.T) {
	text := []byte("Format: 1.0\nSource: hello\n-dash\nVersion: 2.10-3\n")
	for name, s := range map[string]*pgptest.Signer{
		"Ed25519":        pgptest.NewSigner(t, "ed25519"),
		"RSA":            pgptest.NewSigner(t, "rsa", pgptest.RSA(2048)),
		"ECDSA P-256":    pgptest.NewSigner(t, "ecdsa", pgptest.ECDSA()),
		"signing subkey": pgptest.NewSigner(t, "sub", pgptest.SigningSubkey()),
	} {
		t.Run(name, func(t *testing.T) {
			now := time.Now()
			key := mustKey(t, s.PublicArmored(), now)
			record := s.ClearSignAt(t, text, now)
			want, err := mustParse(t, record).Digest()
			if err != nil {
				t.Fatal(err)
			}
			variants := pgptest.Variants(t, record)
			if _, ok := variants["ECDSA s and n-s"]; ok != (name == "ECDSA P-256") {
				t.Errorf("ECDSA variant made: %v", ok)
			}
			for vname, v := range variants {
				signed := mustParse(t, v)
				if err := signed.Verify(key, now); err != nil {
					t.Errorf("%s: %v", vname, err)
				}
				if got, err := signed.Digest(); err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s: another digest (%v)", vname, err)
				}
				if got, err := signed.VerifyDigest(key, now); err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s: VerifyDigest gives another digest (%v)", vname, err)
				}
			}
			for oname, other := range map[string][]byte{
				"a later signature": s.ClearSignAt(t, text, now.Add(time.Second)),
				"another text":      s.ClearSignAt(t, append(bytes.Clone(text), "Binary: hello\n"...), now),
			} {
				if got, _ := mustParse(t, other).Digest(); bytes.Equal(got, want) {
					t.Errorf("%s has the same digest", oname)
				}
				if got, err := mustParse(t, other).VerifyDigest(key, now.Add(time.Second)); err != nil || bytes.Equal(got, want) {
					t.Errorf("%s: VerifyDigest %x, %v", oname, got, err)
				}
			}
		})
	}
}
