package badinput

import (
	"bytes"
	"crypto"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/reprolog/reprolog/pgp/pgptest"
)

// deb822Cases are validly signed texts that are not one well-formed
// Debian buildinfo paragraph.
func deb822Cases(t testing.TB, s *pgptest.Signer, text []byte) []Case {
	t.Helper()
	edit := func(old, new string) []byte {
		out := bytes.Replace(text, []byte(old), []byte(new), 1)
		if bytes.Equal(out, text) {
			t.Fatalf("badinput: %q is not in the buildinfo", old)
		}
		return s.ClearSign(t, out)
	}
	var deep strings.Builder
	deep.WriteString("Environment:\n")
	for range 20000 {
		deep.WriteString(" \n")
	}
	return []Case{
		{Name: "two paragraphs", Body: edit("Build-Origin:", "\nBuild-Origin:"), Status: 400, Msg: "blank line"},
		{Name: "continuation line first", Body: s.ClearSign(t, append([]byte(" x\n"), text...)), Status: 400, Msg: "continuation line before any field"},
		{Name: "comment line", Body: edit("Build-Origin:", "# a comment\nBuild-Origin:"), Status: 400, Msg: "comments are not allowed"},
		{Name: "line that is not a field", Body: edit("Build-Origin:", "no colon here\nBuild-Origin:"), Status: 400, Msg: "not a field"},
		{Name: "field name with a space", Body: edit("Build-Origin:", "Build Origin:"), Status: 400, Msg: "not a field"},
		{Name: "duplicate field", Body: edit("Build-Origin:", "Version: 0.2\nBuild-Origin:"), Status: 400, Msg: "duplicate field"},
		{Name: "duplicate field in another case", Body: edit("Build-Origin:", "version: 0.1\nBuild-Origin:"), Status: 400, Msg: "duplicate field"},
		{Name: "missing field", Body: edit("Format: 1.0\n", ""), Status: 400, Msg: "missing field format"},
		{Name: "unknown format", Body: edit("Format: 1.0", "Format: 2.0"), Status: 400, Msg: "format"},
		{Name: "draft format", Body: edit("Installed-Build-Depends:", "Build-Environment:"), Status: 400, Msg: "draft"},
		{Name: "not a buildinfo", Body: s.ClearSign(t, []byte("Hello: world\n")), Status: 400, Msg: "missing field"},
		{Name: "Arch Linux BUILDINFO", Body: s.ClearSign(t, Testdata(t, "buildinfo/testdata/arch_repro-threshold_filesystem-2025.10.12-1-any.BUILDINFO")), Status: 400, Msg: "arch linux"},
		{Name: "non-UTF-8", Body: edit("Build-Origin: Debian", "Build-Origin: D\xe9bian"), Status: 400, Msg: "utf-8"},
		{Name: "overlong UTF-8", Body: edit("Build-Origin: Debian", "Build-Origin: \xc0\xafDebian"), Status: 400, Msg: "utf-8"},
		{Name: "control character", Body: edit("Build-Origin: Debian", "Build-Origin: Debian\x1b[2J"), Status: 400, Msg: "control character"},
		{Name: "NUL byte", Body: edit("Build-Origin: Debian", "Build-Origin: Deb\x00ian"), Status: 400, Msg: "control character"},
		{Name: "bad package name", Body: edit("Source: rbtest", "Source: ../rbtest"), Status: 400, Msg: "bad package name"},
		{Name: "path in a file name", Body: edit("840 rbtest_0.1_all.deb\nBuild-Origin", "840 ../../etc/passwd\nBuild-Origin"), Status: 400, Msg: "unsafe file name"},
		{Name: "checksum lists that disagree", Body: edit("6483 840 ", "6483 841 "), Status: 400, Msg: "disagree"},
		{Name: "20000 blank continuation lines", Body: edit("Environment:\n", deep.String()), Status: 400, Msg: "blank line"},
	}
}

// signedPartCases put text outside the signed part, or play with the
// clear-signing frame and its dash escapes.
func signedPartCases(t testing.TB, s *pgptest.Signer, text []byte) []Case {
	t.Helper()
	signed := s.ClearSign(t, Versioned(text, "frame"))
	sigStart := bytes.Index(signed, []byte("-----BEGIN PGP SIGNATURE-----"))
	// An inner clear-signed message, dash-escaped as a signing tool does,
	// inside a valid outer signature: the signed text is then not a
	// buildinfo, whatever a naive reader would see.
	inner := s.ClearSign(t, Versioned(text, "inner"))
	nested := s.ClearSign(t, inner)
	var dashes strings.Builder
	for range 5000 {
		dashes.WriteString("- ")
	}
	return []Case{
		{Name: "unsigned", Body: text, Status: 400, Msg: "does not start"},
		{Name: "text before the signed part", Body: append([]byte("Source: evil\n"), signed...), Status: 400, Msg: "does not start"},
		{Name: "text after the signature", Body: append(bytes.Clone(signed), "Source: evil\n"...), Status: 400, Msg: "does not end"},
		{Name: "two signed blocks", Body: append(bytes.Clone(signed), s.ClearSign(t, Versioned(text, "second"))...), Status: 400, Msg: "bad signature armor"},
		{Name: "header other than Hash", Body: bytes.Replace(signed, []byte("Hash: SHA512\n"), []byte("Hash: SHA512\nSource: evil\n"), 1), Status: 400, Msg: "only a hash header"},
		{Name: "Hash header that lies", Body: bytes.Replace(signed, []byte("Hash: SHA512\n"), []byte("Hash: SHA256\n"), 1), Status: 400, Msg: "does not match"},
		{Name: "unescaped dash line", Body: insertBefore(signed, sigStart, "-----END PGP SIGNATURE-----\n"), Status: 400, Msg: "not dash-escaped"},
		{Name: "escaped dash line added", Body: insertBefore(signed, sigStart, "- -----END PGP SIGNATURE-----\n"), Status: 403, Msg: "bad signature"},
		{Name: "dash-escaped inner message", Body: nested, Status: 400, Msg: "not a field"},
		{Name: "deeply nested dash escapes", Body: s.ClearSign(t, []byte(dashes.String()+"x\n")), Status: 400, Msg: "not a field"},
		{Name: "CRLF line ends", Body: bytes.ReplaceAll(signed, []byte("\n"), []byte("\r\n")), Status: 400, Msg: "carriage return"},
		{Name: "byte order mark", Body: append([]byte("\xef\xbb\xbf"), signed...), Status: 400, Msg: "does not start"},
		{Name: "truncated", Body: signed[:len(signed)*2/3], Status: 400, Msg: "does not end"},
		{Name: "tampered text", Body: bytes.Replace(signed, []byte("Build-Origin: Debian"), []byte("Build-Origin: Evil"), 1), Status: 403, Msg: "bad signature"},
	}
}

func insertBefore(b []byte, at int, s string) []byte {
	return append(append(bytes.Clone(b[:at]), s...), b[at:]...)
}

// signatureCases carry signatures the log must not accept: several, weak,
// by keys it does not know, made at impossible times.
func signatureCases(t testing.TB, keys Keys, text []byte) []Case {
	t.Helper()
	good := keys.Good
	body := string(Versioned(text, "sig"))
	plain := strings.TrimSuffix(body, "\n")
	priv := good.Entity().PrivateKey
	sig := func(typ packet.SignatureType, h crypto.Hash, created time.Time) []byte {
		return signature(t, priv, plain, typ, h, created)
	}
	now := time.Now()
	textSig := sig(packet.SigTypeText, crypto.SHA512, now)
	other := keys.Unknown.Entity().PrivateKey
	forged := *other
	forged.PublicKey.KeyId, forged.PublicKey.Fingerprint = priv.KeyId, priv.Fingerprint
	var nested []byte
	for range 200 {
		var b bytes.Buffer
		w, err := packet.SerializeCompressed(nopCloser{&b}, packet.CompressionZLIB, nil)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(nested)
		w.Close()
		nested = b.Bytes()
	}
	return []Case{
		{Name: "two signatures", Body: clearsigned(t, body, textSig, sig(packet.SigTypeText, crypto.SHA256, now)), Status: 400, Msg: "more than one signature"},
		{Name: "two signatures by two keys", Body: clearsigned(t, body, textSig, signature(t, other, plain, packet.SigTypeText, crypto.SHA512, now)), Status: 400, Msg: "more than one signature"},
		{Name: "binary-document signature", Body: clearsigned(t, body, sig(packet.SigTypeBinary, crypto.SHA512, now)), Status: 400, Msg: "not canonical text"},
		{Name: "SHA-1", Body: clearsigned(t, body, sig(packet.SigTypeText, crypto.SHA1, now)), Status: 403, Msg: "weak digest"},
		{Name: "SHA-1 (dak)", Body: Testdata(t, "pgp/testdata/pgpedge_dak_sha1.asc"), Status: 403, Msg: "weak digest"},
		{Name: "MD5 (dak)", Body: Testdata(t, "pgp/testdata/pgpedge_dak_md5.asc"), Status: 403, Msg: "weak digest"},
		{Name: "RIPEMD-160 (dak)", Body: Testdata(t, "pgp/testdata/pgpedge_dak_ripemd160.asc"), Status: 403, Msg: "weak digest"},
		{Name: "unknown key", Body: keys.Unknown.ClearSign(t, text), Status: 403, Msg: "does not know"},
		{Name: "buildd key the log does not know", Body: Testdata(t, "pgp/testdata/deb_python-debian_lxml_4.5.2-1+b1_amd64.buildinfo.asc"), Status: 403, Msg: "does not know"},
		{Name: "issuer forged to a registered key", Body: clearsigned(t, body, signature(t, &forged, plain, packet.SigTypeText, crypto.SHA512, now)), Status: 403, Msg: "bad signature"},
		{Name: "signature from the future", Body: clearsigned(t, body, sig(packet.SigTypeText, crypto.SHA512, now.Add(time.Hour))), Status: 403, Msg: "after"},
		{Name: "signature older than the key", Body: clearsigned(t, body, sig(packet.SigTypeText, crypto.SHA512, priv.CreationTime.Add(-time.Hour))), Status: 403, Msg: "before key"},
		{Name: "deeply nested compressed packets", Body: clearsigned(t, body, nested), Status: 400, Msg: "no signature"},
		{Name: "signature packet truncated", Body: clearsigned(t, body, textSig[:len(textSig)-5]), Status: 400, Msg: "unreadable signature"},
	}
}

// transportCases are bodies refused for their size or content type.
func transportCases(t testing.TB, s *pgptest.Signer, text []byte) []Case {
	t.Helper()
	signed := s.ClearSign(t, Versioned(text, "transport"))
	junk := make([]byte, 64<<10)
	for i := range junk {
		junk[i] = byte(i*7 + i>>8)
	}
	return []Case{
		{Name: "empty", Status: 400, Msg: "empty"},
		{Name: "binary junk", ContentType: "application/octet-stream", Body: junk, Status: 400, Msg: "malformed"},
		{Name: "deeply nested JSON", Body: append(bytes.Repeat([]byte("["), 100000), bytes.Repeat([]byte("]"), 100000)...), Status: 400, Msg: "does not start"},
		{Name: "oversized", Body: append(bytes.Clone(signed), bytes.Repeat([]byte("x"), 5<<20)...), Status: 413, Msg: "larger than"},
		{Name: "JSON content type", ContentType: "application/json", Body: signed, Status: 415, Msg: "content type"},
		{Name: "form content type", ContentType: "application/x-www-form-urlencoded", Body: signed, Status: 415, Msg: "content type"},
		{Name: "multipart content type", ContentType: "multipart/form-data; boundary=x", Body: signed, Status: 415, Msg: "content type"},
		{Name: "unparsable content type", ContentType: "text/plain; ;;", Body: signed, Status: 415, Msg: "content type"},
	}
}

// signature makes a signature packet over text (lines joined by "\n", no
// final line end) with priv, of type typ, digest h, made at created.
func signature(t testing.TB, priv *packet.PrivateKey, text string, typ packet.SignatureType, h crypto.Hash, created time.Time) []byte {
	t.Helper()
	deterministic := false
	cfg := &packet.Config{DefaultHash: h, NonDeterministicSignaturesViaNotation: &deterministic}
	sig := &packet.Signature{SigType: typ, PubKeyAlgo: priv.PubKeyAlgo, Hash: h, CreationTime: created, IssuerKeyId: &priv.KeyId}
	hash, err := sig.PrepareSign(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := hash
	if typ == packet.SigTypeText {
		w = openpgp.NewCanonicalTextHash(hash)
	}
	w.Write([]byte(text))
	if err := sig.Sign(hash, priv, cfg); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := sig.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// clearsigned frames body (ending in "\n", no line starting with '-') and
// signature packets as a clear-signed record.
func clearsigned(t testing.TB, body string, packets ...[]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n" + body)
	w, err := armor.Encode(&b, "PGP SIGNATURE", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range packets {
		w.Write(p)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b.WriteByte('\n')
	return b.Bytes()
}

type nopCloser struct{ *bytes.Buffer }

func (nopCloser) Close() error { return nil }
