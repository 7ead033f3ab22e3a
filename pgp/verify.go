package pgp

import (
	"bytes"
	"hash"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// MaxClockSkew is how far in the future, relative to the time of
// verification, a signature's creation time may lie.
const MaxClockSkew = 5 * time.Minute

// Verify checks the signature against key at time at. The issuer (by
// fingerprint when the signature names one, else by key ID) must be the
// primary key or a subkey of key that is bound for signing; that key must
// not be revoked (ever), must not be expired at at, must have been valid
// when the signature was made, and the signature must be made neither
// before the key's creation nor after at+MaxClockSkew.
//
// Errors wrap ErrUnknownKey (issuer not part of key), ErrKeyRevoked,
// ErrKeyExpired or ErrBadSignature (everything else, including a signature
// that does not verify). Verify uses the record as ParseClearsigned parsed
// it; changing the exported fields of s has no effect on it.
func (s *Signed) Verify(key *Key, at time.Time) error {
	_, err := s.verify(key, at, false)
	return err
}

// VerifyDigest verifies as Verify does and returns the Digest of the
// signature it verified, reading the signed text once for both.
func (s *Signed) VerifyDigest(key *Key, at time.Time) ([]byte, error) {
	return s.verify(key, at, true)
}

func (s *Signed) verify(key *Key, at time.Time, wantDigest bool) ([]byte, error) {
	if s == nil || len(s.sig) == 0 {
		return nil, malformed("signature was not parsed by ParseClearsigned")
	}
	if key == nil {
		return nil, fail(ErrUnknownKey, "no key")
	}
	sig, err := readSignature(s.sig)
	if err != nil {
		return nil, err
	}
	fp, id, err := issuer(sig)
	if err != nil {
		return nil, err
	}
	e := key.entity()
	pub, sub := find(e, fp, id)
	if pub == nil {
		if fp != nil {
			return nil, fail(ErrUnknownKey, "signed by %s, which is not part of key %s", fingerprintString(fp), key.fingerprint)
		}
		return nil, fail(ErrUnknownKey, "signed by key ID %016X, which is not part of key %s", id, key.fingerprint)
	}
	name := fingerprintString(pub.Fingerprint)
	if !key.bound(pub) {
		return nil, fail(ErrBadSignature, "signed by %s, which is not a signing key of %s", name, key.fingerprint)
	}
	created := sig.CreationTime
	if created.After(at.Add(MaxClockSkew)) {
		return nil, fail(ErrBadSignature, "signature made at %s, after %s", stamp(created), stamp(at))
	}
	if created.Unix() < pub.CreationTime.Unix() {
		return nil, fail(ErrBadSignature, "signature made at %s, before key %s existed", stamp(created), name)
	}
	if revoked(e, nil) {
		return nil, fail(ErrKeyRevoked, "key %s is revoked", key.fingerprint)
	}
	if sub != nil && revoked(e, sub) {
		return nil, fail(ErrKeyRevoked, "subkey %s of %s is revoked", name, key.fingerprint)
	}
	if err := key.usableAt(pub.Fingerprint, at); err != nil {
		return nil, err
	}
	if created.Unix() != at.Unix() {
		if err := key.usableAt(pub.Fingerprint, created); err != nil {
			return nil, err
		}
	}
	// The key's validity was checked above, at both times; what is left is
	// the signature itself: its details, then the library's verification
	// over the canonical text. go-crypto ignores the 16-bit hash tag of v4
	// signatures; GnuPG checks it, and so a changed tag cannot make a
	// second valid encoding of the same signature.
	for _, n := range sig.Notations {
		if n.IsCritical {
			return nil, fail(ErrBadSignature, "signature by %s carries an unknown critical notation", name)
		}
	}
	if sig.SigLifetimeSecs != nil && *sig.SigLifetimeSecs != 0 &&
		at.Unix() > created.Add(time.Duration(*sig.SigLifetimeSecs)*time.Second).Unix() {
		return nil, fail(ErrBadSignature, "signature by %s expired", name)
	}
	h, err := s.textHash(sig)
	if err != nil {
		return nil, fail(ErrBadSignature, "signature by %s: %v", name, err)
	}
	tagged, err := s.copyHash(h, sig)
	if err != nil {
		return nil, fail(ErrBadSignature, "signature by %s: %v", name, err)
	}
	if packet.VerifyHashTag(tagged, sig) != nil {
		return nil, fail(ErrBadSignature, "signature by %s has a wrong hash tag", name)
	}
	var digest []byte
	if wantDigest {
		d, err := s.copyHash(h, sig)
		if err != nil {
			return nil, fail(ErrBadSignature, "signature by %s: %v", name, err)
		}
		digest = finish(d, sig)
	}
	if err := pub.VerifySignature(h, sig); err != nil {
		return nil, fail(ErrBadSignature, "signature by %s does not verify (%v)", name, err)
	}
	return digest, nil
}

// Digest returns what the signature signs: the digest, with the algorithm
// in s.Hash, of the signed text followed by the signature's hashed data
// (its type, algorithms, creation time, issuer and other hashed
// subpackets; for a v6 signature, its salt first). A signature is a
// signature of this digest, so the changes a third party can make to a
// record without breaking its signature leave it as it is: the armor and
// its headers and checksum, trailing spaces, dash escapes, the Hash
// header, unhashed subpackets, another encoding of the same signature
// values (such as ECDSA's s and n-s). Two records with the same Hash and
// Digest whose signatures verify with the same key are one signature of
// one text, however they are encoded.
func (s *Signed) Digest() ([]byte, error) {
	if s == nil || len(s.sig) == 0 {
		return nil, malformed("signature was not parsed by ParseClearsigned")
	}
	sig, err := readSignature(s.sig)
	if err != nil {
		return nil, err
	}
	h, err := s.textHash(sig)
	if err != nil {
		return nil, malformed("signature digest: %v", err)
	}
	return finish(h, sig), nil
}

// finish completes h, a hash of sig with the canonical text written into
// it, into the digest the signature signs (see Digest).
func finish(h hash.Hash, sig *packet.Signature) []byte {
	h.Write(sig.HashSuffix)
	return h.Sum(nil)
}

// copyHash returns a copy of h, a hash of sig with the canonical text
// written into it, without reading the text again when h can be cloned.
func (s *Signed) copyHash(h hash.Hash, sig *packet.Signature) (hash.Hash, error) {
	if c, ok := h.(hash.Cloner); ok {
		if d, err := c.Clone(); err == nil {
			return d, nil
		}
	}
	return s.textHash(sig)
}

// textHash returns sig's hash with the canonical text written into it.
func (s *Signed) textHash(sig *packet.Signature) (hash.Hash, error) {
	h, err := sig.PrepareVerify()
	if err != nil {
		return nil, err
	}
	openpgp.NewCanonicalTextHash(h).Write(s.signed)
	return h, nil
}

// find returns the key of e named by fingerprint fp, or by key ID id when fp
// is nil, and the subkey it belongs to (nil for the primary key).
func find(e *openpgp.Entity, fp []byte, id uint64) (*packet.PublicKey, *openpgp.Subkey) {
	match := func(pk *packet.PublicKey) bool {
		if fp != nil {
			return bytes.Equal(pk.Fingerprint, fp)
		}
		return pk.KeyId == id
	}
	if match(e.PrimaryKey) {
		return e.PrimaryKey, nil
	}
	for i := range e.Subkeys {
		if match(e.Subkeys[i].PublicKey) {
			return e.Subkeys[i].PublicKey, &e.Subkeys[i]
		}
	}
	return nil, nil
}

// bound reports whether pk is one of k's signing keys.
func (k *Key) bound(pk *packet.PublicKey) bool {
	for _, s := range k.signing {
		if bytes.Equal(s.Fingerprint, pk.Fingerprint) {
			return true
		}
	}
	return false
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
