package pgp_test

import (
	"bytes"
	"crypto"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/reprolog/reprolog/pgp"
)

// sentinels are the errors every failure must wrap exactly one of (key
// parsing aside).
var sentinels = []error{pgp.ErrMalformed, pgp.ErrWeakDigest, pgp.ErrBadSignature, pgp.ErrKeyExpired, pgp.ErrKeyRevoked, pgp.ErrUnknownKey}

// checkErr fails unless err wraps want (nil: err is nil) and no other
// sentinel, and stays short.
func checkErr(t *testing.T, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
	for _, s := range sentinels {
		if s != want && errors.Is(err, s) {
			t.Errorf("error %q also wraps %v", err, s)
		}
	}
	if len(err.Error()) > 300 || strings.Contains(err.Error(), "EVIL") {
		t.Errorf("error echoes input: %q", err)
	}
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sigSpec describes a signature packet made by signPacket.
type sigSpec struct {
	typ     packet.SignatureType
	hash    crypto.Hash
	created time.Time
	// issuer overrides the issuer subpackets (default: the signing key).
	issuer *packet.PublicKey
	// noFingerprint leaves out the issuer-fingerprint subpacket, noIssuer
	// every issuer subpacket.
	noFingerprint, noIssuer bool
}

// signPacket signs text (lines joined by "\n", no final line end) with priv
// and returns the serialized signature packet.
func signPacket(t testing.TB, priv *packet.PrivateKey, text string, spec sigSpec) []byte {
	t.Helper()
	if spec.hash == 0 {
		spec.hash = crypto.SHA512
	}
	if spec.created.IsZero() {
		spec.created = time.Now()
	}
	// Sign takes the issuer subpackets from the key it is given, so a copy
	// of priv carries the issuer wanted.
	signer := *priv
	if spec.issuer != nil {
		signer.PublicKey.KeyId, signer.PublicKey.Fingerprint = spec.issuer.KeyId, spec.issuer.Fingerprint
	}
	if spec.noFingerprint || spec.noIssuer {
		signer.PublicKey.Fingerprint = nil
	}
	deterministic := false
	cfg := &packet.Config{DefaultHash: spec.hash, NonDeterministicSignaturesViaNotation: &deterministic}
	sig := &packet.Signature{
		SigType:      spec.typ,
		PubKeyAlgo:   priv.PubKeyAlgo,
		Hash:         spec.hash,
		CreationTime: spec.created,
	}
	if !spec.noIssuer {
		sig.IssuerKeyId = &signer.PublicKey.KeyId
	}
	h, err := sig.PrepareSign(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := h
	if spec.typ == packet.SigTypeText {
		w = openpgp.NewCanonicalTextHash(h)
	}
	w.Write([]byte(text))
	if err := sig.Sign(h, &signer, cfg); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := sig.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// armorSig armors packets as a PGP SIGNATURE block, with a checksum.
func armorSig(t testing.TB, headers map[string]string, packets ...[]byte) string {
	t.Helper()
	var b bytes.Buffer
	w, err := armor.Encode(&b, "PGP SIGNATURE", headers)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range packets {
		w.Write(p)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// assemble builds a clear-signed record from its parts: the cleartext
// headers (each line ending in "\n"), the body as it appears in the record
// (ending in "\n"), and the armored signature.
func assemble(headers, body, sig string) []byte {
	return []byte("-----BEGIN PGP SIGNED MESSAGE-----\n" + headers + "\n" + body + sig + "\n")
}

// escape dash-escapes text as a clear-signing tool would.
func escape(text string) string {
	var b strings.Builder
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, "-") {
			b.WriteString("- ")
		}
		b.WriteString(line)
	}
	return b.String()
}

// mustKey parses a key and fails the test on error.
func mustKey(t testing.TB, data []byte, now time.Time) *pgp.Key {
	t.Helper()
	k, err := pgp.ParseKey(data, now)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// mustParse parses a record and fails the test on error.
func mustParse(t testing.TB, record []byte) *pgp.Signed {
	t.Helper()
	s, err := pgp.ParseClearsigned(record)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
