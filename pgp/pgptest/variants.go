package pgptest

import (
	"bytes"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/binary"
	"math/big"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

const (
	beginSignature = "-----BEGIN PGP SIGNATURE-----\n"
	endSignature   = "-----END PGP SIGNATURE-----\n"
)

// Variants returns other encodings of a record made by ClearSign that
// carry the same signature of the same text, each a change anyone can
// make to a published record without the key: trailing spaces, a
// needless dash escape, no Hash header, armor headers, an armor checksum
// (or none, when the record has one),
// longer base64 lines, an extra unhashed subpacket, and for an ECDSA
// signature, s replaced by n-s. Each verifies as the record does, and
// each differs from the record and from the others.
func Variants(t testing.TB, record []byte) map[string][]byte {
	t.Helper()
	head, sig, checksum := splitSignature(t, record)
	text, ok := strings.CutPrefix(head, "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n")
	if !ok {
		t.Fatal("pgptest: Variants takes a record made by ClearSign (SHA512, v4)")
	}
	block := func(headers string, bin []byte, width int, checksum string) string {
		b64 := base64.StdEncoding.EncodeToString(bin)
		var b strings.Builder
		b.WriteString(beginSignature + headers + "\n")
		for len(b64) > width {
			b.WriteString(b64[:width] + "\n")
			b64 = b64[width:]
		}
		b.WriteString(b64 + "\n" + checksum + endSignature)
		return b.String()
	}
	begin := "-----BEGIN PGP SIGNED MESSAGE-----\n"
	withHash := begin + "Hash: SHA512\n\n"
	same := block("", sig, 64, checksum)
	out := map[string][]byte{
		"trailing spaces":  []byte(withHash + strings.ReplaceAll(text, "\n", " \t \n") + same),
		"dash escape":      []byte(withHash + "- " + text + same),
		"no Hash header":   []byte(begin + "\n" + text + same),
		"armor headers":    []byte(withHash + text + block("Version: GnuPG v1\nComment: a copy\n", sig, 64, checksum)),
		"armor checksum":   []byte(withHash + text + block("", sig, 64, toggleChecksum(t, sig, checksum))),
		"76-column base64": []byte(withHash + text + block("", sig, 76, checksum)),
		"unhashed subpacket": []byte(withHash + text +
			armorSignature(t, withUnhashed(t, sig, []byte{5, 101, 'x', 'y', 'z', '!'}))), // private type 101, ignored
	}
	if highS := negateS(t, sig); highS != nil {
		out["ECDSA s and n-s"] = []byte(withHash + text + armorSignature(t, highS))
	}
	for name, v := range out {
		if bytes.Equal(v, record) {
			t.Fatalf("pgptest: variant %q is the record itself", name)
		}
	}
	return out
}

// splitSignature splits a record into what precedes its signature armor,
// the signature packet, and the armor checksum line ("" if none).
func splitSignature(t testing.TB, record []byte) (head string, sig []byte, checksum string) {
	t.Helper()
	head, armored, ok := strings.Cut(string(record), beginSignature)
	if !ok {
		t.Fatal("pgptest: no signature armor")
	}
	lines := strings.Split(strings.TrimSuffix(armored, "\n"+endSignature), "\n")
	for len(lines) > 0 && lines[0] != "" { // armor headers
		lines = lines[1:]
	}
	var b64 string
	for _, line := range lines {
		if strings.HasPrefix(line, "=") {
			checksum = line + "\n"
			continue
		}
		b64 += line
	}
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("pgptest: signature armor: %v", err)
	}
	return head, sig, checksum
}

// toggleChecksum returns the armor checksum line of sig when checksum is
// empty, and "" otherwise.
func toggleChecksum(t testing.TB, sig []byte, checksum string) string {
	t.Helper()
	if checksum != "" {
		return ""
	}
	var b bytes.Buffer
	w, err := armor.EncodeWithChecksumOption(&b, "PGP SIGNATURE", nil, true)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(sig)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(line, "=") {
			return line + "\n"
		}
	}
	t.Fatal("pgptest: no armor checksum written")
	return ""
}

func armorSignature(t testing.TB, sig []byte) string {
	t.Helper()
	var b bytes.Buffer
	w, err := armor.Encode(&b, "PGP SIGNATURE", nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(sig)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String() + "\n"
}

// signatureBody returns the body of a v4 signature packet in the new
// packet format, as go-crypto writes it.
func signatureBody(t testing.TB, sig []byte) []byte {
	t.Helper()
	if len(sig) < 2 || sig[0] != 0xc2 {
		t.Fatal("pgptest: not a new-format signature packet")
	}
	var n, hdr int
	switch l := int(sig[1]); {
	case l < 192:
		n, hdr = l, 2
	case l < 224:
		n, hdr = (l-192)<<8+int(sig[2])+192, 3
	case l == 255:
		n, hdr = int(binary.BigEndian.Uint32(sig[2:6])), 6
	default:
		t.Fatal("pgptest: partial packet length")
	}
	body := sig[hdr:]
	if len(body) != n || body[0] != 4 {
		t.Fatal("pgptest: not one v4 signature packet")
	}
	return body
}

// signaturePacket wraps a signature body in a new-format packet header
// with a five-octet length.
func signaturePacket(body []byte) []byte {
	out := []byte{0xc2, 0xff, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[2:], uint32(len(body)))
	return append(out, body...)
}

// unhashedStart returns the offset of a v4 signature body's unhashed
// subpacket length.
func unhashedStart(body []byte) int {
	return 6 + int(binary.BigEndian.Uint16(body[4:6]))
}

// withUnhashed adds a subpacket (length, type, data) to the unhashed area
// of a v4 signature.
func withUnhashed(t testing.TB, sig, subpacket []byte) []byte {
	t.Helper()
	body := signatureBody(t, sig)
	at := unhashedStart(body)
	n := int(binary.BigEndian.Uint16(body[at:]))
	out := bytes.Clone(body[:at])
	out = binary.BigEndian.AppendUint16(out, uint16(n+len(subpacket)))
	out = append(out, body[at+2:at+2+n]...)
	out = append(out, subpacket...)
	out = append(out, body[at+2+n:]...)
	return signaturePacket(out)
}

// negateS returns an ECDSA P-256 signature with s replaced by n-s, which
// verifies as well; nil for another kind of signature.
func negateS(t testing.TB, sig []byte) []byte {
	t.Helper()
	body := signatureBody(t, sig)
	if packet.PublicKeyAlgorithm(body[2]) != packet.PubKeyAlgoECDSA {
		return nil
	}
	at := unhashedStart(body)
	at += 2 + int(binary.BigEndian.Uint16(body[at:])) + 2 // unhashed area, hash tag
	mpi := func(at int) (*big.Int, int) {
		bits := int(binary.BigEndian.Uint16(body[at:]))
		end := at + 2 + (bits+7)/8
		return new(big.Int).SetBytes(body[at+2 : end]), end
	}
	_, sAt := mpi(at)
	s, end := mpi(sAt)
	if end != len(body) {
		t.Fatal("pgptest: unexpected ECDSA signature layout")
	}
	ns := new(big.Int).Sub(elliptic.P256().Params().N, s)
	out := bytes.Clone(body[:sAt])
	out = binary.BigEndian.AppendUint16(out, uint16(ns.BitLen()))
	out = append(out, ns.Bytes()...)
	return signaturePacket(out)
}
