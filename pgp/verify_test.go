package pgp_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/reprolog/reprolog/pgp"
	"github.com/reprolog/reprolog/pgp/pgptest"
)

func TestVerifyKeyTypes(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []pgptest.Option
	}{
		{"Ed25519", nil},
		{"Ed25519 with signing subkey", []pgptest.Option{pgptest.SigningSubkey()}},
		{"RSA-2048", []pgptest.Option{pgptest.RSA(2048)}},
		{"RSA-3072", []pgptest.Option{pgptest.RSA(3072)}},
		{"RSA-2048 with signing subkey", []pgptest.Option{pgptest.RSA(2048), pgptest.SigningSubkey()}},
		{"v6 Ed25519", []pgptest.Option{pgptest.V6()}},
		{"v6 Ed25519 with signing subkey", []pgptest.Option{pgptest.V6(), pgptest.SigningSubkey()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := pgptest.NewSigner(t, "rebuilder", tc.opts...)
			other := pgptest.NewSigner(t, "other")
			record := s.ClearSign(t, []byte(sampleText))
			now := time.Now()
			key, otherKey := mustKey(t, s.PublicArmored(), now), mustKey(t, other.PublicArmored(), now)
			signed := mustParse(t, record)
			checkErr(t, signed.Verify(key, now), nil)
			checkErr(t, signed.Verify(key, signed.Created), nil)
			checkErr(t, signed.Verify(otherKey, now), pgp.ErrUnknownKey)

			wantIssuer := key.SigningFingerprints()[len(key.SigningFingerprints())-1]
			if !bytes.Equal(signed.IssuerFingerprint, wantIssuer) {
				t.Errorf("issuer %X, want the newest signing key %X", signed.IssuerFingerprint, wantIssuer)
			}

			// Any change to the signed text breaks the signature.
			for _, change := range []struct{ old, new string }{
				{"Source: hello", "Source: hellp"},
				{"abc 1 hello.deb", "abc 2 hello.deb"},
				{"Format: 1.0\n", "Format: 1.0\nExtra: field\n"},
				{"Source: hello\n", "Source: hello\n\n"},
				{"- already", "- - already"},
			} {
				tampered := bytes.Replace(record, []byte(change.old), []byte(change.new), 1)
				if bytes.Equal(tampered, record) {
					t.Fatalf("record lacks %q", change.old)
				}
				checkErr(t, mustParse(t, tampered).Verify(key, now), pgp.ErrBadSignature)
			}
			// So does a change to the signature.
			sig := signatureLines(t, record)
			failed := 0
			for i := range len(sig) {
				c := sig[i]
				if c == '\n' || c == '=' {
					continue
				}
				flipped := bytes.Clone(record)
				at := bytes.Index(record, sig) + i
				flipped[at] = flipBase64(c)
				parsed, err := pgp.ParseClearsigned(flipped)
				if err != nil {
					continue // the packet no longer parses
				}
				if err := parsed.Verify(key, now); err == nil {
					t.Fatalf("signature with byte %d changed still verifies", i)
				}
				failed++
			}
			if failed == 0 {
				t.Error("no changed signature got as far as verification")
			}
		})
	}
}

func TestVerifyTimes(t *testing.T) {
	now := time.Now()
	past := now.Add(-4 * time.Hour)

	expired := pgptest.NewSigner(t, "expired", pgptest.CreatedAt(past), pgptest.Lifetime(time.Hour))
	expiredRec := expired.ClearSignAt(t, []byte(sampleText), past.Add(30*time.Minute))

	withSub := pgptest.NewSigner(t, "expired subkey", pgptest.CreatedAt(past))
	addSubkey(t, withSub, past.Add(time.Minute), time.Hour)
	subRec := withSub.ClearSignAt(t, []byte(sampleText), past.Add(30*time.Minute))
	primaryRec := withSub.ClearSignAt(t, []byte(sampleText), now)

	revokedSub := pgptest.NewSigner(t, "revoked subkey", pgptest.CreatedAt(past))
	sub := addSubkey(t, revokedSub, past.Add(time.Minute), 0)
	revokedSubRec := revokedSub.ClearSignAt(t, []byte(sampleText), past.Add(30*time.Minute))
	if err := sub.Revoke(packet.KeySuperseded, "", &packet.Config{Time: func() time.Time { return now.Add(-time.Hour) }}); err != nil {
		t.Fatal(err)
	}

	fresh := pgptest.NewSigner(t, "fresh", pgptest.CreatedAt(past))
	priv := fresh.Entity().PrivateKey
	text := strings.TrimSuffix(sampleText, "\n")
	sigAt := func(when time.Time) []byte {
		return assemble("Hash: SHA512\n", escape(sampleText), armorSig(t, nil, signPacket(t, priv, text, sigSpec{typ: packet.SigTypeText, created: when})))
	}

	tests := []struct {
		name   string
		key    []byte
		keyAt  time.Time // when the key is parsed
		record []byte
		at     time.Time
		want   error
		why    string
	}{
		{"expired key, now", expired.PublicArmored(), past.Add(time.Minute), expiredRec, now, pgp.ErrKeyExpired, "expired at"},
		{"expired key, when signed", expired.PublicArmored(), past.Add(time.Minute), expiredRec, past.Add(30 * time.Minute), nil, ""},
		{"expired key, parsed when signed", expired.PublicArmored(), past.Add(30 * time.Minute), expiredRec, past.Add(30 * time.Minute), nil, ""},
		{"expired subkey, now", withSub.PublicArmored(), now, subRec, now, pgp.ErrKeyExpired, "subkey"},
		{"expired subkey, when signed", withSub.PublicArmored(), now, subRec, past.Add(30 * time.Minute), nil, ""},
		{"primary of a key with an expired subkey", withSub.PublicArmored(), now, primaryRec, now, nil, ""},
		{"revoked subkey, now", revokedSub.PublicArmored(), now, revokedSubRec, now, pgp.ErrKeyRevoked, "revoked"},
		{"revoked subkey, when signed", revokedSub.PublicArmored(), now, revokedSubRec, past.Add(30 * time.Minute), pgp.ErrKeyRevoked, "revoked"},
		{"signed within the skew", fresh.PublicArmored(), now, sigAt(now.Add(pgp.MaxClockSkew - time.Minute)), now, nil, ""},
		{"signed in the future", fresh.PublicArmored(), now, sigAt(now.Add(pgp.MaxClockSkew + time.Minute)), now, pgp.ErrBadSignature, "after"},
		{"signed before the key existed", fresh.PublicArmored(), now, sigAt(past.Add(-time.Hour)), now, pgp.ErrBadSignature, "before key"},
		{"verified before the key existed", fresh.PublicArmored(), now, sigAt(past.Add(time.Hour)), past.Add(-time.Hour), pgp.ErrBadSignature, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := mustKey(t, tc.key, tc.keyAt)
			err := mustParse(t, tc.record).Verify(key, tc.at)
			checkErr(t, err, tc.want)
			if err != nil && !strings.Contains(err.Error(), tc.why) {
				t.Errorf("error %q does not say %q", err, tc.why)
			}
		})
	}
}

func TestVerifyIssuer(t *testing.T) {
	a := pgptest.NewSigner(t, "a", pgptest.SigningSubkey())
	b := pgptest.NewSigner(t, "b")
	certifyOnly := pgptest.NewSigner(t, "certify-only", pgptest.SigningSubkey())
	setPrimarySign(t, certifyOnly, false)
	now := time.Now()
	keyA, keyC := mustKey(t, a.PublicArmored(), now), mustKey(t, certifyOnly.PublicArmored(), now)

	text := strings.TrimSuffix(sampleText, "\n")
	record := func(signer *packet.PrivateKey, spec sigSpec) []byte {
		spec.typ = packet.SigTypeText
		return assemble("Hash: SHA512\n", escape(sampleText), armorSig(t, nil, signPacket(t, signer, text, spec)))
	}
	encSub := a.Entity().Subkeys[0].PublicKey // the encryption subkey

	tests := []struct {
		name   string
		key    *pgp.Key
		record []byte
		want   error
		why    string
	}{
		{"primary key", keyA, record(a.Entity().PrivateKey, sigSpec{}), nil, ""},
		{"key ID only", keyA, record(a.Entity().PrivateKey, sigSpec{noFingerprint: true}), nil, ""},
		{"signing subkey, key ID only", keyA, record(a.Entity().Subkeys[1].PrivateKey, sigSpec{noFingerprint: true}), nil, ""},
		{"other key", keyA, record(b.Entity().PrivateKey, sigSpec{}), pgp.ErrUnknownKey, b.Fingerprint()},
		{"other key, key ID only", keyA, record(b.Entity().PrivateKey, sigSpec{noFingerprint: true}), pgp.ErrUnknownKey, "key ID"},
		{"other key claiming to be the primary", keyA, record(b.Entity().PrivateKey, sigSpec{issuer: a.Entity().PrimaryKey}), pgp.ErrBadSignature, "does not verify"},
		{"other key claiming to be the subkey", keyA, record(b.Entity().PrivateKey, sigSpec{issuer: a.Entity().Subkeys[1].PublicKey}), pgp.ErrBadSignature, "does not verify"},
		{"claiming the encryption subkey", keyA, record(b.Entity().PrivateKey, sigSpec{issuer: encSub}), pgp.ErrBadSignature, "not a signing key"},
		{"certify-only primary key", keyC, record(certifyOnly.Entity().PrivateKey, sigSpec{}), pgp.ErrBadSignature, "not a signing key"},
		{"signing subkey of a certify-only key", keyC, record(certifyOnly.Entity().Subkeys[1].PrivateKey, sigSpec{}), nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := mustParse(t, tc.record).Verify(tc.key, now)
			checkErr(t, err, tc.want)
			if err != nil && !strings.Contains(err.Error(), tc.why) {
				t.Errorf("error %q does not say %q", err, tc.why)
			}
		})
	}

	checkErr(t, new(pgp.Signed).Verify(keyA, now), pgp.ErrMalformed)
	checkErr(t, mustParse(t, a.ClearSign(t, []byte("x\n"))).Verify(nil, now), pgp.ErrUnknownKey)
}

// TestVerifyConcurrent verifies with one key from many goroutines: a Key is
// shared by a server's request handlers.
func TestVerifyConcurrent(t *testing.T) {
	s := pgptest.NewSigner(t, "rebuilder", pgptest.SigningSubkey())
	key := mustKey(t, s.PublicArmored(), time.Now())
	good := mustParse(t, s.ClearSign(t, []byte(sampleText)))
	bad := mustParse(t, bytes.Replace(s.ClearSign(t, []byte(sampleText)), []byte("hello"), []byte("jello"), 1))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				if err := good.Verify(key, time.Now()); err != nil {
					t.Error(err)
				}
				if err := bad.Verify(key, time.Now()); err == nil {
					t.Error("tampered record verified")
				}
			}
		})
	}
	wg.Wait()
}

// signatureLines returns the base64 lines of a record's signature armor.
func signatureLines(t *testing.T, record []byte) []byte {
	_, after, ok := bytes.Cut(record, []byte("-----BEGIN PGP SIGNATURE-----\n\n"))
	if !ok {
		t.Fatal("no signature armor")
	}
	body, _, _ := bytes.Cut(after, []byte("-----END PGP SIGNATURE-----"))
	return body
}

func flipBase64(c byte) byte {
	if c == 'A' {
		return 'B'
	}
	return 'A'
}
