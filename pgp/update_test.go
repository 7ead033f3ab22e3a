package pgp_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/reprolog/reprolog/pgp"
	"github.com/reprolog/reprolog/pgp/pgptest"
)

// withoutSubkeys returns s's public key with none of its subkeys, as a
// stripped-down copy an attacker could send.
func withoutSubkeys(t testing.TB, s *pgptest.Signer) []byte {
	t.Helper()
	e := *s.Entity()
	e.Subkeys = nil
	var b bytes.Buffer
	if err := e.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	return armorBlock(t, b.Bytes())
}

// subkeyFingerprints lists the subkeys of key data, revoked or not.
func subkeyFingerprints(t testing.TB, data []byte) map[string]bool {
	t.Helper()
	el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	if err != nil || len(el) != 1 {
		t.Fatalf("reading key data: %v (%d keys)", err, len(el))
	}
	out := map[string]bool{}
	for _, sub := range el[0].Subkeys {
		out[string(sub.PublicKey.Fingerprint)] = true
	}
	return out
}

func TestUpdateKey(t *testing.T) {
	now := time.Now()
	s := pgptest.NewSigner(t, "rebuilder", pgptest.SigningSubkey())
	first := s.PublicArmored()
	stored := mustKey(t, first, now).Armored()
	stripped := withoutSubkeys(t, s)

	// Identical copies and copies that leave something out change nothing.
	for name, update := range map[string][]byte{"the same copy": first, "canonical form": stored, "without subkeys": stripped} {
		kept, changed, err := pgp.UpdateKey(stored, update)
		if err != nil || changed || !bytes.Equal(kept, stored) {
			t.Errorf("%s: changed %v, err %v; the stored copy must stay", name, changed, err)
		}
	}

	// A newer copy with one more subkey replaces it.
	addSubkey(t, s, now, 0)
	newer := s.PublicArmored()
	kept, changed, err := pgp.UpdateKey(stored, newer)
	if err != nil || !changed || !bytes.Equal(kept, mustKey(t, newer, now).Armored()) {
		t.Fatalf("a newer copy: changed %v, err %v", changed, err)
	}
	stored = kept
	if _, changed, _ := pgp.UpdateKey(stored, first); changed {
		t.Error("the older copy replaced the newer one")
	}

	// A subkey revocation is kept, even when the copy carrying it leaves
	// out the other subkeys.
	sub := &s.Entity().Subkeys[1]
	if err := sub.Revoke(packet.KeyCompromised, "", nil); err != nil {
		t.Fatal(err)
	}
	kept, changed, err = pgp.UpdateKey(stored, s.PublicArmored())
	if err != nil || !changed {
		t.Fatalf("a subkey revocation: changed %v, err %v", changed, err)
	}
	stored = kept
	if _, changed, _ := pgp.UpdateKey(stored, newer); changed {
		t.Error("a copy without the subkey revocation replaced the stored one")
	}

	// A revoked copy that leaves out every subkey still revokes, and
	// the subkeys stay.
	s.Revoke(t)
	kept, changed, err = pgp.UpdateKey(stored, withoutSubkeys(t, s))
	if err != nil || !changed {
		t.Fatalf("a stripped revoked copy: changed %v, err %v", changed, err)
	}
	if _, err := pgp.ParseKey(kept, now); !errors.Is(err, pgp.ErrKeyRevoked) {
		t.Errorf("the stored copy is not revoked: %v", err)
	}
	if got, want := subkeyFingerprints(t, kept), subkeyFingerprints(t, s.PublicArmored()); len(got) != 3 || len(got) != len(want) {
		t.Errorf("the revoked copy kept %d of %d subkeys", len(got), len(want))
	}
	revokedCopy := kept

	// Never un-revoked: no earlier copy replaces the revoked one.
	for name, update := range map[string][]byte{"first": first, "newer": newer, "stripped": stripped} {
		if kept, changed, err := pgp.UpdateKey(revokedCopy, update); err != nil || changed || !bytes.Equal(kept, revokedCopy) {
			t.Errorf("the %s copy changed the revoked key (changed %v, err %v)", name, changed, err)
		}
	}

	// Another key is not an update.
	if _, _, err := pgp.UpdateKey(stored, pgptest.NewSigner(t, "other").PublicArmored()); err == nil {
		t.Error("another key accepted as an update")
	}
	if _, _, err := pgp.UpdateKey(stored, []byte("junk")); err == nil {
		t.Error("junk accepted as an update")
	}
}
