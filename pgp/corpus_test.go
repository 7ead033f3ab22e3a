package pgp

import (
	"bytes"
	"crypto"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// Real-world material from testdata (see testdata/PROVENANCE.tsv at the
// module root) and what a careful verifier says about it.

const devscriptsFPR = "CF218F0E7EABF584B7E20402C77E2D6872543FAF"

// relaxed accepts the 1024-bit RSA keys of the dak test fixtures, so that
// the rest of their story can be checked.
var relaxed = policy{minRSABits: 1024}

func corpus(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ringKey returns the key fpr of a keyring file, checked at now under pol.
func ringKey(t *testing.T, file, fpr string, now time.Time, pol policy) (*Key, error) {
	t.Helper()
	entities, err := readEntities(corpus(t, file))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entities {
		if fingerprintString(e.PrimaryKey.Fingerprint) == fpr {
			return newKey(e, now, pol)
		}
	}
	t.Fatalf("%s holds no key %s", file, fpr)
	return nil, nil
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Errorf("error = %v, want %v", err, want)
	}
}

func TestCorpusDevscripts(t *testing.T) {
	now := time.Now()
	armored, err := ParseKey(corpus(t, "key_devscripts_debsign_public_key.asc"), now)
	if err != nil {
		t.Fatal(err)
	}
	binary, err := ParseKey(corpus(t, "key_devscripts_debsign_public_keyring.gpg"), now)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []*Key{armored, binary} {
		if k.Fingerprint() != devscriptsFPR {
			t.Errorf("Fingerprint = %s, want %s", k.Fingerprint(), devscriptsFPR)
		}
		if ids := k.SigningKeyIDs(); !slices.Equal(ids, []uint64{0xC77E2D6872543FAF}) {
			t.Errorf("SigningKeyIDs = %X, want only the primary key (the subkey encrypts)", ids)
		}
	}
	if !bytes.Equal(armored.Armored(), binary.Armored()) {
		t.Error("armored and binary forms of the key give different Armored")
	}

	for record, unsigned := range map[string]string{
		"gen_devscriptskey_rbtest_0.1_amd64.build1.buildinfo.asc": "gen_local_rbtest_0.1_amd64.build1.buildinfo",
		"gen_devscriptskey_rbtest_0.1_amd64.build2.buildinfo.asc": "gen_local_rbtest_0.1_amd64.build2.buildinfo",
		"gen_devscriptskey_sphinx_1.7.2-1_amd64.buildinfo.asc":    "deb_devscripts_sphinx_1.7.2-1_amd64.buildinfo",
	} {
		s, err := ParseClearsigned(corpus(t, record))
		if err != nil {
			t.Fatalf("%s: %v", record, err)
		}
		if !bytes.Equal(s.Text, corpus(t, unsigned)) {
			t.Errorf("%s: Text differs from %s", record, unsigned)
		}
		if fingerprintString(s.IssuerFingerprint) != devscriptsFPR || s.IssuerKeyID != 0xC77E2D6872543FAF || s.Hash != crypto.SHA512 {
			t.Errorf("%s: issuer %X/%X, hash %v", record, s.IssuerFingerprint, s.IssuerKeyID, s.Hash)
		}
		wantErr(t, s.Verify(armored, s.Created), nil)
		wantErr(t, s.Verify(binary, s.Created.Add(365*24*time.Hour)), nil)
	}

	s, err := ParseClearsigned(corpus(t, "gen_devscriptskey_rbtest_0.1_amd64.build1.TAMPERED.buildinfo.asc"))
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.Verify(armored, s.Created), ErrBadSignature)
}

// TestCorpusBuildd parses records signed by Debian's buildds, whose keys
// are not in the corpus.
func TestCorpusBuildd(t *testing.T) {
	key, err := ParseKey(corpus(t, "key_devscripts_debsign_public_key.asc"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for file, issuer := range map[string]string{
		"deb_python-debian_lxml_4.5.2-1+b1_amd64.buildinfo.asc":              "FFBBEB95180C01C8EDDF343927D29D008F31F3CA",
		"deb_rebuilderd-crawler_courier_1.0.16-3+b1_amd64.buildinfo.asc":     "56F8220E6D224E2F3807C4E2393CB6ACFE6A01A3",
		"deb_rebuilderd-crawler_rust-sniffglue_0.14.0-2_amd64.buildinfo.asc": "F033CE18C6901DBA966542A9B7F6F7EBFB3491B1",
	} {
		s, err := ParseClearsigned(corpus(t, file))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if got := fingerprintString(s.IssuerFingerprint); got != issuer {
			t.Errorf("%s: issuer %s, want %s", file, got, issuer)
		}
		if !bytes.HasPrefix(s.Text, []byte("Format: 1.0\n")) || !bytes.Contains(s.Text, []byte("\nInstalled-Build-Depends:\n")) {
			t.Errorf("%s: Text is not the buildinfo", file)
		}
		wantErr(t, s.Verify(key, s.Created), ErrUnknownKey)
	}
}

func TestCorpusDak(t *testing.T) {
	const (
		valid         = "0ABB89079CB58F8F94F6F310CB9D5C5828606E84"
		expired       = "05A558AE65B77B559BBE0C4D543B2BAEDA044F0B"
		expiredSubkey = "8865D9EC71713394ADBD8F729F7A24B7F6388CE1"
		ring          = "pgpedge_dak_pubring.gpg"
	)
	now := time.Now()

	// reprolog refuses the fixture keys: RSA-1024.
	_, err := ParseKeyring(corpus(t, ring), now)
	if err == nil || !strings.Contains(err.Error(), "RSA-1024 is too weak") || !regexp.MustCompile(`[0-9A-F]{40}`).MatchString(err.Error()) {
		t.Errorf("dak keyring: error %v, want RSA-1024 refused, naming the key", err)
	}
	if _, err := ringKey(t, ring, valid, now, defaultPolicy); err == nil {
		t.Error("RSA-1024 key accepted")
	}

	for file, want := range map[string]error{
		"pgpedge_dak_md5.asc":       ErrWeakDigest,
		"pgpedge_dak_sha1.asc":      ErrWeakDigest,
		"pgpedge_dak_ripemd160.asc": ErrWeakDigest,
		"pgpedge_dak_message.asc":   ErrMalformed,
		"pgpedge_dak_plaintext.txt": ErrMalformed,
	} {
		_, err := ParseClearsigned(corpus(t, file))
		if !errors.Is(err, want) {
			t.Errorf("%s: error %v, want %v", file, err, want)
		}
	}
	// MD5 cannot even be parsed by go-crypto: it is still reported as weak
	// when no Hash header says so.
	noHeader := bytes.Replace(corpus(t, "pgpedge_dak_md5.asc"), []byte("Hash: MD5\n"), nil, 1)
	if _, err := ParseClearsigned(noHeader); !errors.Is(err, ErrWeakDigest) {
		t.Errorf("MD5 without Hash header: error %v, want ErrWeakDigest", err)
	}

	// With 1024-bit RSA allowed: valid.asc verifies.
	s, err := ParseClearsigned(corpus(t, "pgpedge_dak_valid.asc"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := ringKey(t, ring, valid, now, relaxed)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.Verify(k, now), nil)

	// expired.asc: gpgv exits 0 (EXPKEYSIG), but the key has expired. It
	// was valid when it signed.
	s, err = ParseClearsigned(corpus(t, "pgpedge_dak_expired.asc"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ringKey(t, ring, expired, now, relaxed); !errors.Is(err, ErrKeyExpired) {
		t.Errorf("expired key parsed now: error %v, want ErrKeyExpired", err)
	}
	k, err = ringKey(t, ring, expired, s.Created, relaxed)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.Verify(k, now), ErrKeyExpired)
	wantErr(t, s.Verify(k, s.Created), nil)

	// expired-subkey.asc: signed by a subkey that has expired since; the
	// primary key still signs.
	s, err = ParseClearsigned(corpus(t, "pgpedge_dak_expired-subkey.asc"))
	if err != nil {
		t.Fatal(err)
	}
	if s.IssuerKeyID != 0xF83C509037BB91A0 || s.IssuerFingerprint != nil {
		t.Errorf("issuer %X/%X, want key ID F83C509037BB91A0 only", s.IssuerKeyID, s.IssuerFingerprint)
	}
	k, err = ringKey(t, ring, expiredSubkey, now, relaxed)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(k.SigningKeyIDs(), 0xF83C509037BB91A0) {
		t.Errorf("SigningKeyIDs %X lack the expired subkey", k.SigningKeyIDs())
	}
	wantErr(t, s.Verify(k, now), ErrKeyExpired)
	wantErr(t, s.Verify(k, s.Created), nil)
}

func TestCorpusPythonDebian(t *testing.T) {
	// Whitespace-only line after the Hash header, fake END lines inside and
	// a text after the signature: refused, whatever gpgv makes of it.
	if _, err := ParseClearsigned(corpus(t, "pgpedge_python-debian_test_Dsc.badsig.asc")); !errors.Is(err, ErrMalformed) {
		t.Errorf("badsig: error %v, want ErrMalformed", err)
	}
	_, err := ParseKeyring(corpus(t, "pgpedge_python-debian_test-keyring.gpg"), time.Now())
	if err == nil || !strings.Contains(err.Error(), "8FEFE900783CF175827C2F65D14219877A786561") || !strings.Contains(err.Error(), "DSA") {
		t.Errorf("python-debian keyring: error %v, want the DSA key refused", err)
	}
}

// TestCorpusGnuPG checks the output of testdata/gen-gpg.sh: an Ed25519 key
// and records made by GnuPG.
func TestCorpusGnuPG(t *testing.T) {
	const (
		primary = "129A8C68745337DF33054D3699F7252B16A5C2C4"
		subkey  = "F70DBA236B8C590653B39C4F7600CA7925602DF6"
	)
	later := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) // after the subkey expired
	k, err := ParseKey(corpus(t, "gpg_ed25519_key.asc"), later)
	if err != nil {
		t.Fatal(err)
	}
	var fps []string
	for _, fp := range k.SigningFingerprints() {
		fps = append(fps, fingerprintString(fp))
	}
	if k.Fingerprint() != primary || !slices.Equal(fps, []string{primary, subkey}) {
		t.Errorf("key %s with signing keys %v", k.Fingerprint(), fps)
	}
	text := regexp.MustCompile(`(?m)[ \t]+$`).ReplaceAll(corpus(t, "gpg_text.txt"), nil)

	for _, tc := range []struct {
		file, issuer string
		at           time.Time
		want         error
	}{
		{"gpg_subkey_signed.asc", subkey, time.Time{}, nil},
		{"gpg_subkey_signed.asc", subkey, later, ErrKeyExpired},
		{"gpg_primary_signed.asc", primary, time.Time{}, nil},
		{"gpg_primary_signed.asc", primary, later, nil},
	} {
		s, err := ParseClearsigned(corpus(t, tc.file))
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if !bytes.Equal(s.Text, text) {
			t.Errorf("%s: Text = %q, want %q", tc.file, s.Text, text)
		}
		if got := fingerprintString(s.IssuerFingerprint); got != tc.issuer {
			t.Errorf("%s: issuer %s, want %s", tc.file, got, tc.issuer)
		}
		at := tc.at
		if at.IsZero() {
			at = s.Created
		}
		wantErr(t, s.Verify(k, at), tc.want)
	}
	if _, err := ParseClearsigned(corpus(t, "gpg_detached.asc")); !errors.Is(err, ErrMalformed) {
		t.Errorf("detached signature: error %v, want ErrMalformed", err)
	}
}
