package pgp_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/reprolog/reprolog/pgp"
	"github.com/reprolog/reprolog/pgp/pgptest"
)

func TestParseKey(t *testing.T) {
	ed := pgptest.NewSigner(t, "ed25519")
	tests := []struct {
		name    string
		signer  *pgptest.Signer
		signing int // number of signing keys
		fprLen  int
	}{
		{"Ed25519", ed, 1, 40},
		{"Ed25519 with signing subkey", pgptest.NewSigner(t, "sub", pgptest.SigningSubkey()), 2, 40},
		{"RSA-2048", pgptest.NewSigner(t, "rsa2048", pgptest.RSA(2048)), 1, 40},
		{"RSA-3072 with signing subkey", pgptest.NewSigner(t, "rsa3072", pgptest.RSA(3072), pgptest.SigningSubkey()), 2, 40},
		{"v6 Ed25519", pgptest.NewSigner(t, "v6", pgptest.V6()), 1, 64},
	}
	now := time.Now()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := mustKey(t, tc.signer.PublicArmored(), now)
			if k.Fingerprint() != tc.signer.Fingerprint() || len(k.Fingerprint()) != tc.fprLen || strings.ToUpper(k.Fingerprint()) != k.Fingerprint() {
				t.Errorf("Fingerprint = %s, want %s (%d upper-case hex digits)", k.Fingerprint(), tc.signer.Fingerprint(), tc.fprLen)
			}
			ids, fps := k.SigningKeyIDs(), k.SigningFingerprints()
			if len(ids) != tc.signing || len(fps) != tc.signing {
				t.Fatalf("%d signing key IDs and %d fingerprints, want %d", len(ids), len(fps), tc.signing)
			}
			e := tc.signer.Entity()
			if ids[0] != e.PrimaryKey.KeyId || !bytes.Equal(fps[0], e.PrimaryKey.Fingerprint) {
				t.Errorf("first signing key %X, want the primary key %X", ids[0], e.PrimaryKey.KeyId)
			}
			if tc.signing == 2 {
				sub := e.Subkeys[1].PublicKey // [0] is the encryption subkey
				if ids[1] != sub.KeyId || !bytes.Equal(fps[1], sub.Fingerprint) {
					t.Errorf("second signing key %X, want the signing subkey %X", ids[1], sub.KeyId)
				}
			}

			// The same key, binary or re-armored, gives the same Key.
			for _, data := range [][]byte{k.Armored(), dearmor(t, k.Armored()), dearmor(t, tc.signer.PublicArmored())} {
				again := mustKey(t, data, now)
				if !bytes.Equal(again.Armored(), k.Armored()) || again.Fingerprint() != k.Fingerprint() {
					t.Errorf("re-parsed key differs")
				}
			}
		})
	}
}

func TestParseKeyRefuses(t *testing.T) {
	start := time.Now()
	past := start.Add(-3 * time.Hour)
	a := pgptest.NewSigner(t, "a")
	b := pgptest.NewSigner(t, "b")

	revokedKey := pgptest.NewSigner(t, "revoked")
	revokedKey.Revoke(t)
	expired := pgptest.NewSigner(t, "expired", pgptest.CreatedAt(past), pgptest.Lifetime(time.Hour))
	certifyOnly := pgptest.NewSigner(t, "certify-only")
	setPrimarySign(t, certifyOnly, false)
	expiredSubOnly := pgptest.NewSigner(t, "expired-subkey", pgptest.CreatedAt(past))
	addSubkey(t, expiredSubOnly, past, time.Hour)
	setPrimarySign(t, expiredSubOnly, false)
	badSelfSig := pgptest.NewSigner(t, "bad self-signature")
	for _, id := range badSelfSig.Entity().Identities {
		id.UserId.Id = "someone else"
	}
	future := pgptest.NewSigner(t, "future", pgptest.CreatedAt(start.Add(time.Hour)))
	weakRSA := pgptest.NewSigner(t, "rsa1024", pgptest.RSA(1024))
	now := time.Now() // after every key's creation

	var secret, secretBin bytes.Buffer
	w, _ := armor.Encode(&secret, openpgp.PrivateKeyType, nil)
	if err := a.Entity().SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := a.Entity().SerializePrivate(&secretBin, nil); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		data []byte
		want error  // a sentinel the error must wrap, or nil
		why  string // part of the error's text
	}{
		{"empty", nil, nil, "no key data"},
		{"text", []byte("hello"), nil, "neither armored nor binary"},
		{"two keys", append(a.PublicArmored(), b.PublicArmored()...), nil, "2 keys"},
		{"two keys in one block", armorBlock(t, append(dearmor(t, a.PublicArmored()), dearmor(t, b.PublicArmored())...)), nil, "2 keys"},
		{"armored secret key", secret.Bytes(), nil, "secret key material"},
		{"binary secret key", secretBin.Bytes(), nil, "secret key material"},
		{"text before the key", append([]byte("EVIL\n"), a.PublicArmored()...), nil, "neither armored nor binary"},
		{"text after the key", append(a.PublicArmored(), "EVIL\n"...), nil, "unexpected data"},
		{"revoked", revokedKey.PublicArmored(), pgp.ErrKeyRevoked, revokedKey.Fingerprint()},
		{"expired", expired.PublicArmored(), pgp.ErrKeyExpired, "expired at " + past.Add(time.Hour).UTC().Format(time.RFC3339)},
		{"cannot sign", certifyOnly.PublicArmored(), nil, "no key able to sign"},
		{"only an expired signing subkey", expiredSubOnly.PublicArmored(), nil, "no key able to sign"},
		{"bad self-signature", badSelfSig.PublicArmored(), nil, "no valid self-signature"},
		{"created in the future", future.PublicArmored(), nil, "created in the future"},
		{"RSA-1024", weakRSA.PublicArmored(), nil, "RSA-1024 is too weak"},
		{"subkey only", subkeyOnly(t, a), nil, "does not start with a primary public key"},
		{"truncated", dearmor(t, a.PublicArmored())[:40], nil, "unreadable key data"},
		{"oversized", make([]byte, pgp.MaxKeySize+1), nil, "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := pgp.ParseKey(tc.data, now)
			if err == nil {
				t.Fatalf("accepted key %s", k.Fingerprint())
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %q does not wrap %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.why) {
				t.Errorf("error %q does not say %q", err, tc.why)
			}
			if strings.Contains(err.Error(), "EVIL") {
				t.Errorf("error echoes input: %q", err)
			}
		})
	}

	// Keys that are refused now were fine earlier.
	for _, s := range []*pgptest.Signer{expired, expiredSubOnly} {
		if _, err := pgp.ParseKey(s.PublicArmored(), past.Add(30*time.Minute)); err != nil {
			t.Errorf("key valid at %v refused: %v", past.Add(30*time.Minute), err)
		}
	}
}

func TestParseKeyring(t *testing.T) {
	a, b := pgptest.NewSigner(t, "a"), pgptest.NewSigner(t, "b", pgptest.RSA(2048))
	expired := pgptest.NewSigner(t, "expired", pgptest.CreatedAt(time.Now().Add(-2*time.Hour)), pgptest.Lifetime(time.Hour))
	now := time.Now()

	for name, data := range map[string][]byte{
		"armored blocks": append(a.PublicArmored(), b.PublicArmored()...),
		"one block":      armorBlock(t, append(dearmor(t, a.PublicArmored()), dearmor(t, b.PublicArmored())...)),
		"binary":         append(dearmor(t, a.PublicArmored()), dearmor(t, b.PublicArmored())...),
	} {
		keys, err := pgp.ParseKeyring(data, now)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(keys) != 2 || keys[0].Fingerprint() != a.Fingerprint() || keys[1].Fingerprint() != b.Fingerprint() {
			t.Errorf("%s: got %d keys, want %s and %s", name, len(keys), a.Fingerprint(), b.Fingerprint())
		}
	}

	_, err := pgp.ParseKeyring(append(a.PublicArmored(), expired.PublicArmored()...), now)
	if !errors.Is(err, pgp.ErrKeyExpired) || !strings.Contains(err.Error(), expired.Fingerprint()) {
		t.Errorf("keyring with an expired key: error %v, want one naming %s", err, expired.Fingerprint())
	}
	_, err = pgp.ParseKeyring(append(a.PublicArmored(), a.PublicArmored()...), now)
	if err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("keyring with a duplicate key: error %v", err)
	}
	if _, err = pgp.ParseKeyring([]byte("  \n"), now); err == nil {
		t.Error("empty keyring accepted")
	}
}

// TestArmoredCanonical checks that Armored drops third-party certifications
// and does not depend on packet order or user ID order.
func TestArmoredCanonical(t *testing.T) {
	a, b := pgptest.NewSigner(t, "a"), pgptest.NewSigner(t, "b")
	now := time.Now().Add(time.Minute) // after the user ID added below
	plain := mustKey(t, a.PublicArmored(), now).Armored()

	if err := a.Entity().AddUserId("a second name", "", "", nil); err != nil {
		t.Fatal(err)
	}
	twoUIDs := mustKey(t, a.PublicArmored(), now).Armored()
	for range 5 { // Serialize walks a map: orders vary
		if got := mustKey(t, a.PublicArmored(), now).Armored(); !bytes.Equal(got, twoUIDs) {
			t.Fatal("Armored depends on user ID order")
		}
	}
	if bytes.Equal(plain, twoUIDs) {
		t.Error("Armored ignores a new user ID")
	}

	before := a.PublicArmored()
	if err := a.Entity().SignIdentity("a", b.Entity(), nil); err != nil {
		t.Fatal(err)
	}
	certified := a.PublicArmored()
	if len(certified) <= len(before) {
		t.Fatal("certification missing from the public key")
	}
	if got := mustKey(t, certified, now).Armored(); !bytes.Equal(got, twoUIDs) {
		t.Error("Armored keeps a third-party certification")
	}
}

// dearmor returns the binary packets of an armored block.
func dearmor(t testing.TB, armored []byte) []byte {
	t.Helper()
	block, err := armor.Decode(bytes.NewReader(armored))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := b.ReadFrom(block.Body); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func armorBlock(t testing.TB, bin []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(bin)
	w.Close()
	return b.Bytes()
}

// setPrimarySign sets or clears the sign flag of the primary key's
// self-signatures and signs them again.
func setPrimarySign(t testing.TB, s *pgptest.Signer, sign bool) {
	t.Helper()
	for _, id := range s.Entity().Identities {
		for _, sig := range id.SelfCertifications {
			sig.Packet.FlagSign = sign
			if err := sig.Packet.SignUserId(id.UserId.Id, s.Entity().PrimaryKey, s.Entity().PrivateKey, &packet.Config{Time: func() time.Time { return sig.Packet.CreationTime }}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// addSubkey adds a signing subkey created at created, expiring after life
// (0: never).
func addSubkey(t testing.TB, s *pgptest.Signer, created time.Time, life time.Duration) *openpgp.Subkey {
	t.Helper()
	cfg := &packet.Config{Time: func() time.Time { return created }, KeyLifetimeSecs: uint32(life / time.Second)}
	if err := s.Entity().AddSigningSubkey(cfg); err != nil {
		t.Fatal(err)
	}
	return &s.Entity().Subkeys[len(s.Entity().Subkeys)-1]
}

// subkeyOnly returns the packets of a's subkeys without the primary key.
func subkeyOnly(t testing.TB, a *pgptest.Signer) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, sub := range a.Entity().Subkeys {
		if err := sub.Serialize(&b, false); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}
