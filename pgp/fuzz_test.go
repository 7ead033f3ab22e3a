package pgp_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/reprolog/reprolog/pgp"
	"github.com/reprolog/reprolog/pgp/pgptest"
)

func FuzzParseClearsigned(f *testing.F) {
	files, err := filepath.Glob("testdata/*.asc")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	s := pgptest.NewSigner(f, "fuzz", pgptest.SigningSubkey())
	f.Add(s.ClearSign(f, []byte(sampleText)))
	f.Add(pgptest.NewSigner(f, "fuzz-v6", pgptest.V6()).ClearSign(f, []byte("- \n--\n\n")))
	key := mustKey(f, readTestdata(f, "key_devscripts_debsign_public_key.asc"), time.Now())
	own := mustKey(f, s.PublicArmored(), time.Now())

	f.Fuzz(func(t *testing.T, record []byte) {
		s, err := pgp.ParseClearsigned(record)
		if err != nil {
			if errors.Is(err, pgp.ErrMalformed) == errors.Is(err, pgp.ErrWeakDigest) {
				t.Fatalf("error %q wraps neither or both of ErrMalformed and ErrWeakDigest", err)
			}
			if len(err.Error()) > 200 {
				t.Fatalf("error too long: %q", err)
			}
			return
		}
		if len(record) > pgp.MaxRecordSize || !bytes.HasPrefix(record, []byte("-----BEGIN PGP SIGNED MESSAGE-----\n")) {
			t.Fatal("accepted a record that is too large or starts wrongly")
		}
		if !bytes.HasSuffix(s.Text, []byte("\n")) || bytes.IndexByte(s.Text, '\r') >= 0 {
			t.Fatalf("Text %q does not end in a newline or holds a CR", s.Text)
		}
		again, err := pgp.ParseClearsigned(record)
		if err != nil || !bytes.Equal(again.Text, s.Text) || again.IssuerKeyID != s.IssuerKeyID {
			t.Fatal("parsing is not deterministic")
		}
		for _, k := range []*pgp.Key{key, own} {
			err := s.Verify(k, s.Created)
			if err != nil && !errors.Is(err, pgp.ErrBadSignature) && !errors.Is(err, pgp.ErrUnknownKey) &&
				!errors.Is(err, pgp.ErrKeyExpired) && !errors.Is(err, pgp.ErrKeyRevoked) {
				t.Fatalf("Verify: unexpected error %v", err)
			}
		}
	})
}

func FuzzParseKeyring(f *testing.F) {
	for _, name := range []string{
		"key_devscripts_debsign_public_key.asc", "key_devscripts_debsign_public_keyring.gpg",
		"gpg_ed25519_key.asc", "pgpedge_dak_pubring.gpg", "pgpedge_python-debian_test-keyring.gpg",
	} {
		f.Add(readTestdata(f, name))
	}
	f.Add(pgptest.NewSigner(f, "fuzz", pgptest.SigningSubkey()).PublicArmored())
	f.Add(pgptest.NewSigner(f, "fuzz-v6", pgptest.V6()).PublicArmored())
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := pgp.ParseKeyring(data, now)
		if err != nil {
			return
		}
		for _, k := range keys {
			again, err := pgp.ParseKey(k.Armored(), now)
			if err != nil {
				t.Fatalf("Armored of an accepted key is refused: %v", err)
			}
			if again.Fingerprint() != k.Fingerprint() || !bytes.Equal(again.Armored(), k.Armored()) {
				t.Fatal("Armored does not round-trip")
			}
			if len(k.SigningKeyIDs()) == 0 {
				t.Fatal("accepted key has no signing key")
			}
		}
	})
}
