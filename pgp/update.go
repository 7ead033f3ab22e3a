package pgp

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// UpdateKey decides what a holder of the public key old keeps when it
// receives update, another copy of the same key: the copy it keeps must
// still check every signature that old checked, and must never lose a
// revocation.
//
//   - When update holds every packet of old (each under the same primary
//     key, user ID or subkey) and more, it replaces old: it is a newer
//     copy, with a new subkey, user ID or self-signature.
//   - Otherwise old is kept. Any valid revocation in update (of the key,
//     or of one of old's subkeys) that old lacks is added to it, so that a
//     revoked copy that leaves out older packets still revokes.
//
// Both are key data as ParseKey reads it, with exactly one key each; they
// are not checked beyond that (update may be revoked or expired). The
// result is armored in the canonical form of Key.Armored, and changed
// reports whether it differs from old.
func UpdateKey(old, update []byte) (kept []byte, changed bool, err error) {
	oldE, err := readOne(old)
	if err != nil {
		return nil, false, err
	}
	newE, err := readOne(update)
	if err != nil {
		return nil, false, err
	}
	if !bytes.Equal(oldE.PrimaryKey.Fingerprint, newE.PrimaryKey.Fingerprint) {
		return nil, false, fmt.Errorf("pgp: key %s is not an update of key %s",
			fingerprintString(newE.PrimaryKey.Fingerprint), fingerprintString(oldE.PrimaryKey.Fingerprint))
	}
	oldSet, err := packetSet(oldE)
	if err != nil {
		return nil, false, err
	}
	newSet, err := packetSet(newE)
	if err != nil {
		return nil, false, err
	}
	keep := oldE
	if superset(newSet, oldSet) && len(newSet) > len(oldSet) {
		keep = newE
	} else if !addRevocations(oldE, newE, oldSet) {
		// Nothing changes: answer old in canonical form.
		raw, err := canonical(oldE)
		if err != nil {
			return nil, false, err
		}
		armored, err := armorKey(raw)
		return armored, false, err
	}
	raw, err := canonical(keep)
	if err != nil {
		return nil, false, err
	}
	armored, err := armorKey(raw)
	return armored, true, err
}

// readOne reads key data holding exactly one key, without judging it.
func readOne(data []byte) (*openpgp.Entity, error) {
	if len(data) > MaxKeySize {
		return nil, fmt.Errorf("pgp: key data larger than %d bytes", MaxKeySize)
	}
	es, err := readEntities(data)
	if err != nil {
		return nil, err
	}
	if len(es) != 1 {
		return nil, fmt.Errorf("pgp: key data holds %d keys, want exactly one", len(es))
	}
	return es[0], nil
}

// packetSet names every packet of e with the component it belongs to:
// the primary key, a user ID or a subkey.
func packetSet(e *openpgp.Entity) (map[string]bool, error) {
	set := map[string]bool{}
	add := func(component string, sigs ...[]*packet.VerifiableSignature) error {
		set[component] = true
		for _, list := range sigs {
			for _, s := range list {
				var b bytes.Buffer
				if err := s.Packet.Serialize(&b); err != nil {
					return err
				}
				set[component+"\x00"+b.String()] = true
			}
		}
		return nil
	}
	if err := add("key", e.Revocations, e.DirectSignatures); err != nil {
		return nil, err
	}
	for name, id := range e.Identities {
		if err := add("uid\x00"+name, id.SelfCertifications, id.Revocations); err != nil {
			return nil, err
		}
	}
	for _, sub := range e.Subkeys {
		if err := add("sub\x00"+string(sub.PublicKey.Fingerprint), sub.Bindings, sub.Revocations); err != nil {
			return nil, err
		}
	}
	if len(set) == 0 {
		return nil, errors.New("pgp: empty key")
	}
	return set, nil
}

func superset(a, b map[string]bool) bool {
	for k := range b {
		if !a[k] {
			return false
		}
	}
	return true
}

// addRevocations adds to old the valid revocations of update (of the key,
// or of a subkey old has) that old, whose packets are oldSet, lacks. It
// reports whether it added any.
func addRevocations(old, update *openpgp.Entity, oldSet map[string]bool) bool {
	has := func(component string, s *packet.VerifiableSignature) bool {
		var b bytes.Buffer
		if err := s.Packet.Serialize(&b); err != nil {
			return true // cannot be stored: skip it
		}
		return oldSet[component+"\x00"+b.String()]
	}
	added := false
	for _, r := range update.Revocations {
		if !has("key", r) && old.PrimaryKey.VerifyRevocationSignature(r.Packet) == nil {
			old.Revocations = append(old.Revocations, r)
			added = true
		}
	}
	for _, nsub := range update.Subkeys {
		for i := range old.Subkeys {
			osub := &old.Subkeys[i]
			if !bytes.Equal(osub.PublicKey.Fingerprint, nsub.PublicKey.Fingerprint) {
				continue
			}
			component := "sub\x00" + string(osub.PublicKey.Fingerprint)
			for _, r := range nsub.Revocations {
				if !has(component, r) && old.PrimaryKey.VerifySubkeyRevocationSignature(r.Packet, osub.PublicKey) == nil {
					osub.Revocations = append(osub.Revocations, r)
					added = true
				}
			}
		}
	}
	return added
}
