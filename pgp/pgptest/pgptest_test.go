package pgptest_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/reprolog/reprolog/pgp"
	"github.com/reprolog/reprolog/pgp/pgptest"
)

func TestSigner(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []pgptest.Option
		algo packet.PublicKeyAlgorithm
		bits uint16
	}{
		{"default", nil, packet.PubKeyAlgoEdDSA, 0},
		{"RSA", []pgptest.Option{pgptest.RSA(2048)}, packet.PubKeyAlgoRSA, 2048},
		{"v6", []pgptest.Option{pgptest.V6()}, packet.PubKeyAlgoEd25519, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := pgptest.NewSigner(t, "rebuilder-a", tc.opts...)
			pk := s.Entity().PrimaryKey
			if pk.PubKeyAlgo != tc.algo {
				t.Errorf("algorithm %v, want %v", pk.PubKeyAlgo, tc.algo)
			}
			if bits, _ := pk.BitLength(); tc.bits != 0 && bits != tc.bits {
				t.Errorf("%d bits, want %d", bits, tc.bits)
			}
			record := s.ClearSign(t, []byte("Source: hello\n-dash\n"))
			prefix := "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nSource: hello\n- -dash\n-----BEGIN PGP SIGNATURE-----\n"
			if tc.name == "v6" { // RFC 9580: no Hash header for v6 signatures
				prefix = "-----BEGIN PGP SIGNED MESSAGE-----\n\nSource: hello\n- -dash\n-----BEGIN PGP SIGNATURE-----\n"
			}
			if !bytes.HasPrefix(record, []byte(prefix)) || !bytes.HasSuffix(record, []byte("\n-----END PGP SIGNATURE-----\n")) {
				t.Errorf("record is not laid out as gpg does:\n%s", record)
			}
			key, err := pgp.ParseKey(s.PublicArmored(), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if key.Fingerprint() != s.Fingerprint() {
				t.Errorf("fingerprint %s, want %s", key.Fingerprint(), s.Fingerprint())
			}
			signed, err := pgp.ParseClearsigned(record)
			if err != nil {
				t.Fatal(err)
			}
			if err := signed.Verify(key, time.Now()); err != nil {
				t.Error(err)
			}
			if string(signed.Text) != "Source: hello\n-dash\n" {
				t.Errorf("Text = %q", signed.Text)
			}
		})
	}
}

func TestSignerOptions(t *testing.T) {
	past := time.Now().Add(-2 * time.Hour)
	s := pgptest.NewSigner(t, "expired", pgptest.CreatedAt(past), pgptest.Lifetime(time.Hour), pgptest.SigningSubkey())
	if !s.Entity().PrimaryKey.CreationTime.Equal(past.Truncate(time.Second)) {
		t.Errorf("created %v, want %v", s.Entity().PrimaryKey.CreationTime, past)
	}
	if _, err := pgp.ParseKey(s.PublicArmored(), time.Now()); !errors.Is(err, pgp.ErrKeyExpired) {
		t.Errorf("expired key: error %v, want ErrKeyExpired", err)
	}
	signed, err := pgp.ParseClearsigned(s.ClearSignAt(t, []byte("a\n"), past.Add(time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	sub := s.Entity().Subkeys[len(s.Entity().Subkeys)-1].PublicKey
	if !bytes.Equal(signed.IssuerFingerprint, sub.Fingerprint) || !signed.Created.Equal(past.Add(time.Minute).Truncate(time.Second)) {
		t.Errorf("signed by %X at %v, want the subkey %X at %v", signed.IssuerFingerprint, signed.Created, sub.Fingerprint, past.Add(time.Minute))
	}

	r := pgptest.NewSigner(t, "revoked")
	r.Revoke(t)
	if _, err := pgp.ParseKey(r.PublicArmored(), time.Now()); !errors.Is(err, pgp.ErrKeyRevoked) {
		t.Errorf("revoked key: error %v, want ErrKeyRevoked", err)
	}
}
