package pgp_test

import (
	"bytes"
	"crypto"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/reprolog/reprolog/pgp"
	"github.com/reprolog/reprolog/pgp/pgptest"
)

const sampleText = "Format: 1.0\nSource: hello\n-----END PGP SIGNATURE-----\n- already escaped\nChecksums-Sha256:\n abc 1 hello.deb\n"

func TestParseClearsigned(t *testing.T) {
	s := pgptest.NewSigner(t, "rebuilder-a")
	priv := s.Entity().PrivateKey
	v6 := pgptest.NewSigner(t, "rebuilder-v6", pgptest.V6())
	good := s.ClearSign(t, []byte(sampleText))
	text := strings.TrimSuffix(sampleText, "\n")
	body := escape(sampleText)
	sig := func(spec sigSpec) []byte {
		return signPacket(t, priv, text, spec)
	}
	textSig := sig(sigSpec{typ: packet.SigTypeText})
	armored := armorSig(t, nil, textSig)
	second := pgptest.NewSigner(t, "rebuilder-b").ClearSign(t, []byte("Source: other\n"))
	keyBlock := pgptest.NewSigner(t, "rebuilder-c").PublicArmored()
	replace := func(old, new string) []byte {
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("record lacks %q", old)
		}
		return bytes.Replace(good, []byte(old), []byte(new), 1)
	}

	tests := []struct {
		name   string
		record []byte
		want   error
		why    string // part of the error's text
		text   string // expected Text when want is nil ("" means sampleText)
	}{
		{name: "pgptest", record: good},
		{name: "no final newline", record: bytes.TrimSuffix(good, []byte("\n"))},
		{name: "assembled", record: assemble("Hash: SHA512\n", body, armored)},
		{name: "no Hash header", record: assemble("", body, armored)},
		{name: "Version and Comment in signature armor", record: assemble("Hash: SHA512\n", body, armorSig(t, map[string]string{"Version": "GnuPG v1", "Comment": "x"}, textSig))},
		{name: "SHA224", record: assemble("Hash: SHA224\n", body, armorSig(t, nil, sig(sigSpec{typ: packet.SigTypeText, hash: crypto.SHA224})))},
		{name: "SHA256", record: assemble("Hash: SHA256\n", body, armorSig(t, nil, sig(sigSpec{typ: packet.SigTypeText, hash: crypto.SHA256})))},
		{name: "SHA384", record: assemble("Hash: SHA384\n", body, armorSig(t, nil, sig(sigSpec{typ: packet.SigTypeText, hash: crypto.SHA384})))},
		{name: "SHA3-256", record: assemble("Hash: SHA3-256\n", body, armorSig(t, nil, sig(sigSpec{typ: packet.SigTypeText, hash: crypto.SHA3_256})))},
		{name: "SHA3-512", record: assemble("Hash: SHA3-512\n", body, armorSig(t, nil, sig(sigSpec{typ: packet.SigTypeText, hash: crypto.SHA3_512})))},
		{name: "v6 key", record: v6.ClearSign(t, []byte(sampleText))},
		{name: "trailing whitespace is not signed", record: pgptest.NewSigner(t, "ws").ClearSign(t, []byte("A: b  \t\nC: d\n")), text: "A: b\nC: d\n"},
		{name: "single empty line", record: assemble("Hash: SHA512\n", "\n", armorSig(t, nil, signPacket(t, priv, "", sigSpec{typ: packet.SigTypeText}))), text: "\n"},
		{name: "escaped line not starting with a dash", record: assemble("Hash: SHA512\n", "- From here\n", armorSig(t, nil, signPacket(t, priv, "From here", sigSpec{typ: packet.SigTypeText}))), text: "From here\n"},

		{name: "empty", record: nil, want: pgp.ErrMalformed, why: "does not start"},
		{name: "plain text", record: []byte("Source: hello\n"), want: pgp.ErrMalformed, why: "does not start"},
		{name: "text before", record: append([]byte("EVIL\n"), good...), want: pgp.ErrMalformed, why: "does not start"},
		{name: "newline before", record: append([]byte("\n"), good...), want: pgp.ErrMalformed, why: "does not start"},
		{name: "space before", record: append([]byte(" "), good...), want: pgp.ErrMalformed, why: "does not start"},
		{name: "text after", record: append(bytes.Clone(good), "EVIL\n"...), want: pgp.ErrMalformed, why: "does not end"},
		{name: "two newlines after", record: append(bytes.Clone(good), '\n'), want: pgp.ErrMalformed, why: "does not end"},
		{name: "two signed blocks", record: append(bytes.Clone(good), second...), want: pgp.ErrMalformed, why: "bad signature armor"},
		{name: "key block after", record: append(bytes.Clone(good), keyBlock...), want: pgp.ErrMalformed, why: "does not end"},
		{name: "two signatures", record: assemble("Hash: SHA512\n", body, armorSig(t, nil, textSig, sig(sigSpec{typ: packet.SigTypeText}))), want: pgp.ErrMalformed, why: "more than one signature"},
		{name: "binary signature", record: assemble("Hash: SHA512\n", body, armorSig(t, nil, sig(sigSpec{typ: packet.SigTypeBinary}))), want: pgp.ErrMalformed, why: "type 0x00"},
		{name: "standalone signature type", record: assemble("Hash: SHA512\n", body, armorSig(t, nil, sig(sigSpec{typ: packet.SignatureType(0x02)}))), want: pgp.ErrMalformed, why: "type 0x02"},
		{name: "signature then other data", record: assemble("Hash: SHA512\n", body, armorSig(t, nil, textSig, []byte{0xcb, 0x03, 'b', 0, 0})), want: pgp.ErrMalformed, why: "data after the signature"},
		{name: "key packet instead of signature", record: assemble("Hash: SHA512\n", body, armorSig(t, nil, keyPacket(t, s))), want: pgp.ErrMalformed, why: "holds no signature"},
		{name: "no issuer", record: assemble("Hash: SHA512\n", body, armorSig(t, nil, sig(sigSpec{typ: packet.SigTypeText, noIssuer: true}))), want: pgp.ErrMalformed, why: "no issuer"},
		{name: "SHA-1", record: assemble("Hash: SHA1\n", body, armorSig(t, nil, sig(sigSpec{typ: packet.SigTypeText, hash: crypto.SHA1}))), want: pgp.ErrWeakDigest, why: "SHA-1"},
		{name: "SHA-1 without Hash header", record: assemble("", body, armorSig(t, nil, sig(sigSpec{typ: packet.SigTypeText, hash: crypto.SHA1}))), want: pgp.ErrWeakDigest, why: "SHA-1"},
		{name: "SHA-1 under a SHA512 header", record: assemble("Hash: SHA512\n", body, armorSig(t, nil, sig(sigSpec{typ: packet.SigTypeText, hash: crypto.SHA1}))), want: pgp.ErrWeakDigest, why: "SHA-1"},
		{name: "Hash header mismatch", record: assemble("Hash: SHA256\n", body, armored), want: pgp.ErrMalformed, why: "does not match"},
		{name: "two Hash headers", record: assemble("Hash: SHA512\nHash: SHA512\n", body, armored), want: pgp.ErrMalformed, why: "more than one Hash"},
		{name: "Hash list", record: assemble("Hash: SHA256,SHA512\n", body, armored), want: pgp.ErrMalformed, why: "no single known digest"},
		{name: "lower-case Hash value", record: assemble("Hash: sha512\n", body, armored), want: pgp.ErrMalformed, why: "no single known digest"},
		{name: "unknown Hash value", record: assemble("Hash: EVIL\n", body, armored), want: pgp.ErrMalformed, why: "no single known digest"},
		{name: "other cleartext header", record: assemble("Hash: SHA512\nComment: EVIL\n", body, armored), want: pgp.ErrMalformed, why: "only a Hash header"},
		{name: "whitespace-only header end", record: replace("Hash: SHA512\n\n", "Hash: SHA512\n \n"), want: pgp.ErrMalformed, why: "only a Hash header"},
		{name: "no header end", record: []byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n-----END PGP SIGNATURE-----\n"), want: pgp.ErrMalformed, why: "no -----BEGIN PGP SIGNATURE----- line"},
		{name: "unescaped dash line", record: replace("- - already", "-- already"), want: pgp.ErrMalformed, why: "not dash-escaped"},
		{name: "lone dash", record: assemble("Hash: SHA512\n", body+"-\n", armored), want: pgp.ErrMalformed, why: "not dash-escaped"},
		{name: "fake end line", record: assemble("Hash: SHA512\n", body+"-----END PGP NOSIGNATURE-----\n", armored), want: pgp.ErrMalformed, why: "not dash-escaped"},
		{name: "begin line with trailing space", record: replace("-----BEGIN PGP SIGNATURE-----\n", "-----BEGIN PGP SIGNATURE----- \n"), want: pgp.ErrMalformed, why: "not dash-escaped"},
		{name: "start line with trailing space", record: replace("-----BEGIN PGP SIGNED MESSAGE-----\n", "-----BEGIN PGP SIGNED MESSAGE----- \n"), want: pgp.ErrMalformed, why: "does not start"},
		{name: "end line with trailing space", record: append(bytes.Clone(bytes.TrimSuffix(good, []byte("\n"))), " \n"...), want: pgp.ErrMalformed, why: "does not end"},
		{name: "CRLF", record: bytes.ReplaceAll(good, []byte("\n"), []byte("\r\n")), want: pgp.ErrMalformed, why: "carriage return"},
		{name: "CR in text", record: replace("Source: hello", "Source: hel\rlo"), want: pgp.ErrMalformed, why: "carriage return"},
		{name: "text changed", record: replace("Source: hello", "Source: EVIL!"), want: nil, text: strings.Replace(sampleText, "hello", "EVIL!", 1)},
		{name: "no signature", record: []byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nSource: x\n-----END PGP SIGNATURE-----\n"), want: pgp.ErrMalformed, why: "no -----BEGIN PGP SIGNATURE----- line"},
		{name: "empty signed text", record: assemble("Hash: SHA512\n", "", armored), want: pgp.ErrMalformed, why: "empty signed text"},
		{name: "truncated", record: good[:len(good)/2], want: pgp.ErrMalformed, why: "does not end"},
		{name: "no signature end", record: bytes.TrimSuffix(bytes.TrimSuffix(good, []byte("\n")), []byte("-----END PGP SIGNATURE-----")), want: pgp.ErrMalformed, why: "does not end"},
		{name: "other header in signature armor", record: assemble("Hash: SHA512\n", body, armorSig(t, map[string]string{"Hash": "SHA512"}, textSig)), want: pgp.ErrMalformed, why: "unexpected signature armor header"},
		{name: "bad base64", record: replace("-----BEGIN PGP SIGNATURE-----\n\n", "-----BEGIN PGP SIGNATURE-----\n\n!EVIL!\n"), want: pgp.ErrMalformed, why: "bad signature armor"},
		{name: "stray bits in base64", record: strayBits(t, readTestdata(t, "gen_devscriptskey_rbtest_0.1_amd64.build1.buildinfo.asc")), want: pgp.ErrMalformed, why: "canonical base64"},
		{name: "empty signature armor", record: assemble("Hash: SHA512\n", body, "-----BEGIN PGP SIGNATURE-----\n\n-----END PGP SIGNATURE-----"), want: pgp.ErrMalformed, why: "empty signature armor"},
		{name: "base64 of garbage", record: assemble("Hash: SHA512\n", body, "-----BEGIN PGP SIGNATURE-----\n\nRVZJTA==\n-----END PGP SIGNATURE-----"), want: pgp.ErrMalformed, why: "unreadable signature packet"},
		{name: "message block", record: []byte("-----BEGIN PGP MESSAGE-----\n\nRVZJTA==\n-----END PGP MESSAGE-----\n"), want: pgp.ErrMalformed, why: "does not start"},
		{name: "oversized", record: oversized(t, good), want: pgp.ErrMalformed, why: "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pgp.ParseClearsigned(tc.record)
			checkErr(t, err, tc.want)
			if tc.want != nil {
				if !strings.Contains(err.Error(), tc.why) {
					t.Errorf("error %q does not say %q", err, tc.why)
				}
				if got != nil {
					t.Error("non-nil result with an error")
				}
				return
			}
			want := tc.text
			if want == "" {
				want = sampleText
			}
			if string(got.Text) != want {
				t.Errorf("Text = %q, want %q", got.Text, want)
			}
			if got.Created.IsZero() || got.Hash == 0 || got.IssuerKeyID == 0 || got.IssuerFingerprint == nil {
				t.Errorf("incomplete result %+v", got)
			}
		})
	}
}

// TestParseClearsignedFields checks the issuer, time and digest reported.
func TestParseClearsignedFields(t *testing.T) {
	s := pgptest.NewSigner(t, "rebuilder-a", pgptest.SigningSubkey(), pgptest.CreatedAt(time.Now().Add(-2*time.Hour)))
	when := time.Now().Add(-time.Hour).Truncate(time.Second)
	got := mustParse(t, s.ClearSignAt(t, []byte(sampleText), when))
	sub := s.Entity().Subkeys[len(s.Entity().Subkeys)-1].PublicKey
	if got.IssuerKeyID != sub.KeyId || !bytes.Equal(got.IssuerFingerprint, sub.Fingerprint) {
		t.Errorf("issuer = %X/%X, want the signing subkey %X/%X", got.IssuerKeyID, got.IssuerFingerprint, sub.KeyId, sub.Fingerprint)
	}
	if !got.Created.Equal(when) {
		t.Errorf("Created = %v, want %v", got.Created, when)
	}
	if got.Hash != crypto.SHA512 {
		t.Errorf("Hash = %v, want SHA-512", got.Hash)
	}

	priv := s.Entity().PrivateKey
	noFP := assemble("Hash: SHA512\n", escape(sampleText), armorSig(t, nil, signPacket(t, priv, strings.TrimSuffix(sampleText, "\n"), sigSpec{typ: packet.SigTypeText, noFingerprint: true})))
	got = mustParse(t, noFP)
	if got.IssuerFingerprint != nil || got.IssuerKeyID != priv.KeyId {
		t.Errorf("issuer = %X/%X, want key ID %X only", got.IssuerKeyID, got.IssuerFingerprint, priv.KeyId)
	}
}

// TestParseClearsignedTextRoundTrip checks that the Text of a pgptest
// record is the text signed, for texts full of clear-signing traps.
func TestParseClearsignedTextRoundTrip(t *testing.T) {
	s := pgptest.NewSigner(t, "rebuilder-a")
	for _, text := range []string{
		"a\n",
		"\n",
		"\n\n\n",
		"-\n--\n- -\n",
		"-----BEGIN PGP SIGNATURE-----\n-----END PGP SIGNATURE-----\n",
		"From me\n>From you\n",
		"no final newline",
		"ünïcödé\n\x00\x01\n",
		"a\n\nb\n\n",
	} {
		got := mustParse(t, s.ClearSign(t, []byte(text)))
		want := text
		if !strings.HasSuffix(want, "\n") {
			want += "\n"
		}
		if string(got.Text) != want {
			t.Errorf("Text = %q, want %q", got.Text, want)
		}
	}
}

func oversized(t *testing.T, good []byte) []byte {
	body := strings.Repeat("Padding: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n", pgp.MaxRecordSize/64)
	rec := bytes.Replace(good, []byte("Format: 1.0\n"), []byte("Format: 1.0\n"+body), 1)
	if len(rec) <= pgp.MaxRecordSize {
		t.Fatalf("oversized record has only %d bytes", len(rec))
	}
	return rec
}

// keyPacket returns the serialized primary public key of s.
func keyPacket(t *testing.T, s *pgptest.Signer) []byte {
	var b bytes.Buffer
	if err := s.Entity().PrimaryKey.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// strayBits sets an unused bit in the last base64 character before the
// padding of a record's signature.
func strayBits(t *testing.T, record []byte) []byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	start := bytes.Index(record, []byte("-----BEGIN PGP SIGNATURE-----"))
	pad := bytes.IndexByte(record[start:], '=')
	if pad < 0 {
		t.Fatal("signature has no base64 padding")
	}
	out := bytes.Clone(record)
	i := start + pad - 1
	out[i] = alphabet[strings.IndexByte(alphabet, out[i])^1]
	return out
}
