package pgp_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/reprolog/reprolog/pgp"
)

// A log server checks a submitted record against the submitter's key.
func Example() {
	armored, err := os.ReadFile("testdata/key_devscripts_debsign_public_key.asc")
	if err != nil {
		panic(err)
	}
	key, err := pgp.ParseKey(armored, time.Now())
	if err != nil {
		panic(err)
	}

	record, err := os.ReadFile("testdata/gen_devscriptskey_rbtest_0.1_amd64.build1.buildinfo.asc")
	if err != nil {
		panic(err)
	}
	signed, err := pgp.ParseClearsigned(record)
	if err != nil {
		panic(err)
	}
	if err := signed.Verify(key, time.Now()); err != nil {
		panic(err)
	}
	first, _, _ := bytes.Cut(signed.Text, []byte("\n"))
	fmt.Printf("%s signed by %X\n", first, signed.IssuerFingerprint)

	tampered, err := os.ReadFile("testdata/gen_devscriptskey_rbtest_0.1_amd64.build1.TAMPERED.buildinfo.asc")
	if err != nil {
		panic(err)
	}
	signed, err = pgp.ParseClearsigned(tampered)
	if err != nil {
		panic(err)
	}
	err = signed.Verify(key, time.Now())
	fmt.Println(errors.Is(err, pgp.ErrBadSignature))

	_, err = pgp.ParseClearsigned(append([]byte("Unsigned: text\n"), record...))
	fmt.Println(err)
	// Output:
	// Format: 1.0 signed by CF218F0E7EABF584B7E20402C77E2D6872543FAF
	// true
	// pgp: malformed clear-signed record: record does not start with -----BEGIN PGP SIGNED MESSAGE-----
}
