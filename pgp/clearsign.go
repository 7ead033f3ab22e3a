package pgp

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// MaxRecordSize is the size of the largest record ParseClearsigned accepts.
const MaxRecordSize = 4 << 20

const (
	beginSigned    = "-----BEGIN PGP SIGNED MESSAGE-----"
	beginSignature = "-----BEGIN PGP SIGNATURE-----"
	endSignature   = "-----END PGP SIGNATURE-----"
)

// hashNames maps the values of the cleartext "Hash" armor header to digests.
var hashNames = map[string]crypto.Hash{
	"MD5":       crypto.MD5,
	"SHA1":      crypto.SHA1,
	"RIPEMD160": crypto.RIPEMD160,
	"SHA224":    crypto.SHA224,
	"SHA256":    crypto.SHA256,
	"SHA384":    crypto.SHA384,
	"SHA512":    crypto.SHA512,
	"SHA3-256":  crypto.SHA3_256,
	"SHA3-512":  crypto.SHA3_512,
}

// strongHashes are the digests a record's signature may use.
var strongHashes = map[crypto.Hash]bool{
	crypto.SHA224:   true,
	crypto.SHA256:   true,
	crypto.SHA384:   true,
	crypto.SHA512:   true,
	crypto.SHA3_256: true,
	crypto.SHA3_512: true,
}

// weakHashes are refused with ErrWeakDigest. go-crypto cannot even parse
// signatures over MD5 (ID 1) or RIPEMD-160 (ID 3); it reports them as
// unsupported hash functions.
var weakHashes = map[crypto.Hash]bool{
	crypto.MD5:       true,
	crypto.SHA1:      true,
	crypto.RIPEMD160: true,
}

var weakUnsupported = map[error]string{
	pgperrors.UnsupportedError("hash function 1"): "MD5",
	pgperrors.UnsupportedError("hash function 3"): "RIPEMD-160",
}

// Signed is a parsed clear-signed message. Its signature is not verified
// until Verify is called.
type Signed struct {
	// Text is the signed text: dash-unescaped, without trailing spaces and
	// tabs on each line, lines joined with "\n", ending in "\n".
	Text []byte
	// IssuerKeyID is the 64-bit ID of the key that claims to have signed.
	IssuerKeyID uint64
	// IssuerFingerprint is the issuer's fingerprint, nil when the signature
	// has no issuer-fingerprint subpacket.
	IssuerFingerprint []byte
	// Created is the signature's creation time, as claimed by the signer.
	Created time.Time
	// Hash is the signature's digest algorithm.
	Hash crypto.Hash

	signed []byte // the canonical text that was hashed (CRLF line ends)
	sig    []byte // the signature packet
}

// ParseClearsigned parses a clear-signed record strictly. The record must
// start with the BEGIN PGP SIGNED MESSAGE line at its first byte and end
// with the END PGP SIGNATURE line, optionally followed by one "\n". It must
// not contain carriage returns. The only cleartext armor header allowed is
// a single Hash header naming the signature's digest; the signature armor
// may carry Version and Comment headers, which are ignored. Every body line
// starting with '-' must be dash-escaped ("- "). The armored block must hold
// exactly one canonical-text (type 0x01) signature.
//
// Malformed records give an error wrapping ErrMalformed; signatures over
// MD5, SHA-1 or RIPEMD-160 give ErrWeakDigest.
//
// OpenPGP leaves some bytes of a record outside the signature: trailing
// spaces and tabs of text lines, optional dash escapes ("- From"), the Hash
// header, the signature armor headers and checksum, and the signature's
// unhashed subpackets, and the encoding of the signature values. Two
// different records can therefore carry the same valid signature of the
// same Text; a caller that must not count one signature twice compares
// the signer and Signed.Digest, not record bytes.
func ParseClearsigned(record []byte) (*Signed, error) {
	if len(record) > MaxRecordSize {
		return nil, malformed("record larger than %d bytes", MaxRecordSize)
	}
	f, err := frame(record)
	if err != nil {
		return nil, err
	}
	block, rest := clearsign.Decode(record)
	if block == nil || len(rest) != 0 {
		return nil, malformed("not a single clear-signed message")
	}
	if !bytes.Equal(block.Plaintext, f.text) {
		return nil, malformed("ambiguous signed text")
	}
	if block.ArmoredSignature.Type != "PGP SIGNATURE" {
		return nil, malformed("no signature block")
	}
	raw, err := io.ReadAll(io.LimitReader(block.ArmoredSignature.Body, MaxRecordSize))
	if err != nil {
		return nil, malformed("bad signature armor")
	}
	sig, err := readSignature(raw)
	if err != nil {
		return nil, err
	}
	if f.hash != "" && hashNames[f.hash] != sig.Hash {
		return nil, malformed("Hash header does not match the signature's digest")
	}
	fp, id, err := issuer(sig)
	if err != nil {
		return nil, err
	}
	return &Signed{
		Text:              append(bytes.Clone(block.Plaintext), '\n'),
		IssuerKeyID:       id,
		IssuerFingerprint: fp,
		Created:           sig.CreationTime,
		Hash:              sig.Hash,
		signed:            block.Bytes,
		sig:               raw,
	}, nil
}

// framed is what frame learns from a record's lines.
type framed struct {
	hash string // value of the Hash header, "" when there is none
	text []byte // the unescaped text without its last line end
}

// frame checks the line structure of a clear-signed record.
func frame(record []byte) (*framed, error) {
	if bytes.IndexByte(record, '\r') >= 0 {
		return nil, malformed("carriage return in record")
	}
	lines := bytes.Split(bytes.TrimSuffix(record, []byte("\n")), []byte("\n"))
	if string(lines[0]) != beginSigned {
		return nil, malformed("record does not start with %s", beginSigned)
	}
	last := len(lines) - 1
	if last == 0 || string(lines[last]) != endSignature {
		return nil, malformed("record does not end with %s", endSignature)
	}
	f := &framed{}

	// Cleartext armor headers, up to an empty line.
	i := 1
	for ; i < last && len(lines[i]) != 0; i++ {
		name, value, ok := bytes.Cut(lines[i], []byte(": "))
		if !ok || string(name) != "Hash" {
			return nil, malformed("line %d: only a Hash header may precede the text", i+1)
		}
		if f.hash != "" {
			return nil, malformed("line %d: more than one Hash header", i+1)
		}
		if _, ok := hashNames[string(value)]; !ok {
			return nil, malformed("line %d: Hash header names no single known digest", i+1)
		}
		f.hash = string(value)
	}
	i++

	// The signed text, up to the signature armor.
	start := i
	text := make([]byte, 0, len(record))
	for ; i < last && string(lines[i]) != beginSignature; i++ {
		line := lines[i]
		if len(line) > 0 && line[0] == '-' {
			if !bytes.HasPrefix(line, []byte("- ")) {
				return nil, malformed("line %d: line starting with '-' is not dash-escaped", i+1)
			}
			line = line[2:]
		}
		if i > start {
			text = append(text, '\n')
		}
		text = append(text, bytes.TrimRight(line, " \t")...)
	}
	if i >= last {
		return nil, malformed("no %s line", beginSignature)
	}
	if i == start {
		return nil, malformed("empty signed text")
	}
	f.text = text
	i++

	// Signature armor headers, an empty line, base64 lines, an optional
	// checksum line, and the end line.
	for ; i < last && len(lines[i]) != 0; i++ {
		name, _, ok := bytes.Cut(lines[i], []byte(": "))
		if !ok || (string(name) != "Version" && string(name) != "Comment") || !printable(lines[i]) {
			return nil, malformed("line %d: unexpected signature armor header", i+1)
		}
	}
	i++
	if i >= last {
		return nil, malformed("empty signature armor")
	}
	var b64 []byte
	for ; i < last; i++ {
		line := lines[i]
		if i == last-1 && len(line) == 5 && line[0] == '=' && isBase64(line[1:]) {
			break
		}
		if len(line) == 0 || len(line) > 76 || !isBase64(line) {
			return nil, malformed("line %d: bad signature armor", i+1)
		}
		b64 = append(b64, line...)
	}
	// Only canonical base64: no padding inside, no stray bits in the last
	// character. The same signature then has a single encoding.
	if _, err := base64.StdEncoding.Strict().DecodeString(string(b64)); err != nil {
		return nil, malformed("signature armor is not canonical base64")
	}
	return f, nil
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

func isBase64(b []byte) bool {
	for _, c := range b {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '+', c == '/', c == '=':
		default:
			return false
		}
	}
	return true
}

// readSignature parses raw as exactly one signature packet fit for a record.
func readSignature(raw []byte) (*packet.Signature, error) {
	r := bytes.NewReader(raw)
	p, err := packet.Read(r)
	if err != nil {
		for weak, name := range weakUnsupported {
			if errors.Is(err, weak) {
				return nil, fail(ErrWeakDigest, "signature digest is %s", name)
			}
		}
		return nil, malformed("unreadable signature packet")
	}
	sig, ok := p.(*packet.Signature)
	if !ok {
		return nil, malformed("armored block holds no signature")
	}
	if r.Len() != 0 {
		if p, err := packet.Read(r); err == nil {
			if _, ok := p.(*packet.Signature); ok {
				return nil, malformed("more than one signature")
			}
		}
		return nil, malformed("data after the signature")
	}
	if weakHashes[sig.Hash] {
		return nil, fail(ErrWeakDigest, "signature digest is %v", sig.Hash)
	}
	if !strongHashes[sig.Hash] {
		return nil, malformed("unsupported signature digest")
	}
	if sig.SigType != packet.SigTypeText {
		return nil, malformed("signature type %#02x is not canonical text (0x01)", uint8(sig.SigType))
	}
	if sig.CreationTime.IsZero() {
		return nil, malformed("signature has no creation time")
	}
	return sig, nil
}

// issuer returns the issuer fingerprint (nil if absent) and key ID of sig.
func issuer(sig *packet.Signature) ([]byte, uint64, error) {
	fp := sig.IssuerFingerprint
	switch {
	case len(fp) == 20 && sig.IssuerKeyVersion == 4:
		id := binary.BigEndian.Uint64(fp[12:])
		if sig.IssuerKeyId != nil && *sig.IssuerKeyId != id {
			return nil, 0, malformed("issuer key ID and fingerprint disagree")
		}
		return bytes.Clone(fp), id, nil
	case len(fp) == 32 && sig.IssuerKeyVersion == 6:
		return bytes.Clone(fp), binary.BigEndian.Uint64(fp[:8]), nil
	case len(fp) != 0:
		return nil, 0, malformed("unsupported issuer fingerprint")
	case sig.Version == 4 && sig.IssuerKeyId != nil:
		return nil, *sig.IssuerKeyId, nil
	}
	return nil, 0, malformed("signature names no issuer")
}
