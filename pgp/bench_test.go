package pgp_test

import (
	"testing"
	"time"

	"github.com/reprolog/reprolog/pgp"
	"github.com/reprolog/reprolog/pgp/pgptest"
)

func BenchmarkParseClearsigned(b *testing.B) {
	record := readTestdata(b, "gen_devscriptskey_sphinx_1.7.2-1_amd64.buildinfo.asc")
	b.SetBytes(int64(len(record)))
	for b.Loop() {
		if _, err := pgp.ParseClearsigned(record); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	ed := pgptest.NewSigner(b, "ed25519", pgptest.SigningSubkey())
	for _, bc := range []struct {
		name        string
		key, record []byte
	}{
		{"RSA-4096", readTestdata(b, "key_devscripts_debsign_public_key.asc"), readTestdata(b, "gen_devscriptskey_sphinx_1.7.2-1_amd64.buildinfo.asc")},
		{"Ed25519-subkey", ed.PublicArmored(), ed.ClearSign(b, readTestdata(b, "deb_devscripts_sphinx_1.7.2-1_amd64.buildinfo"))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			key := mustKey(b, bc.key, time.Now())
			s := mustParse(b, bc.record)
			for b.Loop() {
				if err := s.Verify(key, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseKey(b *testing.B) {
	data := readTestdata(b, "key_devscripts_debsign_public_key.asc")
	for b.Loop() {
		if _, err := pgp.ParseKey(data, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
