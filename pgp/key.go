package pgp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// Size limits of the key data ParseKey and ParseKeyring accept.
const (
	MaxKeySize     = 1 << 20
	MaxKeyringSize = 64 << 20
)

const (
	publicBegin  = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
	publicEnd    = "-----END PGP PUBLIC KEY BLOCK-----"
	privateBegin = "-----BEGIN PGP PRIVATE KEY BLOCK-----"
)

// Key is a validated rebuilder public key. It is immutable and safe for
// concurrent use.
type Key struct {
	fingerprint string
	raw         []byte // public packets in canonical order
	armored     []byte
	signing     []*packet.PublicKey // keys bound for signing, primary first
	pol         policy
	validity    *validityCache
}

// ParseKey parses exactly one OpenPGP public key, armored or binary, and
// checks it at time now: it must carry a valid self-signature on the primary
// key and a user ID (or, for v6 keys, a direct-key signature), must not be
// revoked nor expired, must use strong algorithms (RSA of at least 2048 bits,
// ECDSA on NIST or Brainpool curves, EdDSA, Ed25519, Ed448; never DSA or
// ElGamal), and the primary key or a subkey must be able to sign at now.
// Secret key material is refused. Expired and revoked keys give errors
// wrapping ErrKeyExpired and ErrKeyRevoked.
func ParseKey(data []byte, now time.Time) (*Key, error) {
	if len(data) > MaxKeySize {
		return nil, fmt.Errorf("pgp: key data larger than %d bytes", MaxKeySize)
	}
	keys, err := parseKeys(data, now, defaultPolicy)
	if err != nil {
		return nil, err
	}
	if len(keys) != 1 {
		return nil, fmt.Errorf("pgp: key data holds %d keys, want exactly one", len(keys))
	}
	return keys[0], nil
}

// ParseKeyring parses one or more public keys, armored (one or several
// blocks) or binary, and checks each as ParseKey does. Any invalid or
// duplicate key is an error naming its fingerprint.
func ParseKeyring(data []byte, now time.Time) ([]*Key, error) {
	if len(data) > MaxKeyringSize {
		return nil, fmt.Errorf("pgp: keyring larger than %d bytes", MaxKeyringSize)
	}
	keys, err := parseKeys(data, now, defaultPolicy)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("pgp: keyring holds no keys")
	}
	return keys, nil
}

// Fingerprint returns the primary key's fingerprint in uppercase hex: 40
// characters for a v4 key, 64 for a v6 key.
func (k *Key) Fingerprint() string { return k.fingerprint }

// Armored returns the key's public packets, ASCII-armored: the primary key,
// its revocations and direct-key signatures, each user ID (sorted) with its
// self-signatures, and each subkey with its bindings and revocations.
// Certifications by other keys and unknown packets are dropped, so the same
// key always gives the same bytes.
func (k *Key) Armored() []byte { return bytes.Clone(k.armored) }

// SigningKeyIDs returns the 64-bit key IDs of the primary key and of every
// subkey that is bound for signing, whether or not it has expired or been
// revoked since: Verify decides that for a given time.
func (k *Key) SigningKeyIDs() []uint64 {
	ids := make([]uint64, len(k.signing))
	for i, pk := range k.signing {
		ids[i] = pk.KeyId
	}
	return ids
}

// SigningFingerprints returns the fingerprints of the keys SigningKeyIDs
// lists, in the same order.
func (k *Key) SigningFingerprints() [][]byte {
	fps := make([][]byte, len(k.signing))
	for i, pk := range k.signing {
		fps[i] = bytes.Clone(pk.Fingerprint)
	}
	return fps
}

// entity parses a fresh copy of the key. go-crypto caches verification
// results inside an entity, with a dependence on the time asked about, so
// every check works on its own copy.
func (k *Key) entity() *openpgp.Entity {
	e, err := readCanonical(k.raw)
	if err != nil {
		// newKey parsed the same bytes successfully.
		panic("pgp: canonical key does not parse: " + err.Error())
	}
	return e
}

// readCanonical parses the output of canonical: exactly one entity.
func readCanonical(raw []byte) (*openpgp.Entity, error) {
	r := packet.NewReader(bytes.NewReader(raw))
	e, err := openpgp.ReadEntity(r)
	if err != nil {
		return nil, err
	}
	if _, err := r.Next(); err != io.EOF {
		return nil, errors.New("more than one key")
	}
	return e, nil
}

func fingerprintString(fp []byte) string {
	return strings.ToUpper(hex.EncodeToString(fp))
}

// parseKeys decodes data into keys and checks each one at now.
func parseKeys(data []byte, now time.Time, pol policy) ([]*Key, error) {
	entities, err := readEntities(data)
	if err != nil {
		return nil, err
	}
	var keys []*Key
	seen := map[string]bool{}
	for _, e := range entities {
		k, err := newKey(e, now, pol)
		if err != nil {
			return nil, err
		}
		if seen[k.fingerprint] {
			return nil, fmt.Errorf("pgp: key %s appears twice", k.fingerprint)
		}
		seen[k.fingerprint] = true
		keys = append(keys, k)
	}
	return keys, nil
}

// readEntities decodes armored or binary key data into entities.
func readEntities(data []byte) ([]*openpgp.Entity, error) {
	bin, err := dearmor(data)
	if err != nil {
		return nil, err
	}
	primaries, err := scanPackets(bin)
	if err != nil {
		return nil, err
	}
	r := packet.NewReader(bytes.NewReader(bin))
	var entities []*openpgp.Entity
	for {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("pgp: unreadable key data: %v", err)
		}
		pk, ok := p.(*packet.PublicKey)
		if !ok || pk.IsSubkey {
			return nil, errors.New("pgp: key data does not start with a primary public key")
		}
		r.Unread(p)
		e, err := openpgp.ReadEntity(r)
		if err != nil {
			return nil, fmt.Errorf("pgp: key %s: %v", fingerprintString(pk.Fingerprint), err)
		}
		entities = append(entities, e)
	}
	if len(entities) != primaries {
		return nil, fmt.Errorf("pgp: key data holds %d primary keys but only %d could be read", primaries, len(entities))
	}
	return entities, nil
}

// dearmor returns the binary packets of armored or binary key data.
func dearmor(data []byte) ([]byte, error) {
	rest := bytes.TrimSpace(data)
	if len(rest) == 0 {
		return nil, errors.New("pgp: no key data")
	}
	if !bytes.HasPrefix(rest, []byte("-----BEGIN ")) {
		if data[0]&0x80 == 0 {
			return nil, errors.New("pgp: key data is neither armored nor binary OpenPGP")
		}
		return data, nil
	}
	var bin []byte
	for ; len(rest) > 0; rest = bytes.TrimSpace(rest) {
		if bytes.HasPrefix(rest, []byte(privateBegin)) {
			return nil, errors.New("pgp: key data holds secret key material")
		}
		if !bytes.HasPrefix(rest, []byte(publicBegin)) {
			return nil, errors.New("pgp: unexpected data around the armored public key")
		}
		end := bytes.Index(rest, []byte(publicEnd))
		if end < 0 {
			return nil, errors.New("pgp: armored public key has no end line")
		}
		block, err := armor.Decode(bytes.NewReader(rest[:end+len(publicEnd)]))
		if err != nil {
			return nil, errors.New("pgp: bad armor around the public key")
		}
		body, err := io.ReadAll(block.Body)
		if err != nil {
			return nil, errors.New("pgp: bad armor around the public key")
		}
		bin = append(bin, body...)
		rest = rest[end+len(publicEnd):]
	}
	return bin, nil
}

// scanPackets counts the primary keys in bin and refuses secret keys and
// primary keys go-crypto cannot read (which it would otherwise skip).
func scanPackets(bin []byte) (int, error) {
	r := packet.NewReader(bytes.NewReader(bin))
	primaries := 0
	for {
		p, err := r.NextWithUnsupported()
		if err == io.EOF {
			return primaries, nil
		}
		if err != nil {
			return 0, fmt.Errorf("pgp: unreadable key data: %v", err)
		}
		u, unsupported := p.(*packet.UnsupportedPacket)
		if unsupported {
			p = u.IncompletePacket
		}
		switch pk := p.(type) {
		case *packet.PrivateKey:
			return 0, errors.New("pgp: key data holds secret key material")
		case *packet.PublicKey:
			if pk.IsSubkey {
				continue
			}
			if unsupported {
				return 0, fmt.Errorf("pgp: unsupported primary key: %v", u.Error)
			}
			primaries++
		}
	}
}

// canonical serializes the public packets of e in a stable order.
func canonical(e *openpgp.Entity) ([]byte, error) {
	var b bytes.Buffer
	if err := e.PrimaryKey.Serialize(&b); err != nil {
		return nil, err
	}
	var sigs []*packet.Signature
	for _, s := range e.Revocations {
		sigs = append(sigs, s.Packet)
	}
	for _, s := range e.DirectSignatures {
		sigs = append(sigs, s.Packet)
	}
	if err := serializeSigs(&b, sigs); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(e.Identities))
	for name := range e.Identities {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		id := e.Identities[name]
		if err := id.UserId.Serialize(&b); err != nil {
			return nil, err
		}
		sigs = sigs[:0]
		for _, s := range id.Revocations {
			sigs = append(sigs, s.Packet)
		}
		for _, s := range id.SelfCertifications {
			sigs = append(sigs, s.Packet)
		}
		if err := serializeSigs(&b, sigs); err != nil {
			return nil, err
		}
	}
	for _, sub := range e.Subkeys {
		if err := sub.Serialize(&b, false); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

func serializeSigs(w io.Writer, sigs []*packet.Signature) error {
	for _, s := range sigs {
		if err := s.Serialize(w); err != nil {
			return err
		}
	}
	return nil
}

func armorKey(raw []byte) ([]byte, error) {
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(raw); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}
