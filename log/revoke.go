package log

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/reprolog/reprolog/pgp"
)

// ErrRevokedNow is wrapped when a rebuilder sends the revocation of a
// registered key: the log stores it and refuses the key's signatures from
// then on.
var ErrRevokedNow = errors.New("key revoked")

// revokedKey returns the fingerprint of a single key whose revocation
// pgp.ParseKey reported, and the key IDs of its primary key and subkeys.
func revokedKey(data []byte) (string, []uint64, error) {
	r := bytes.NewReader(data)
	var el openpgp.EntityList
	var err error
	if block, aerr := armor.Decode(bytes.NewReader(data)); aerr == nil {
		el, err = openpgp.ReadKeyRing(block.Body)
	} else {
		el, err = openpgp.ReadKeyRing(r)
	}
	if err != nil || len(el) != 1 {
		return "", nil, fmt.Errorf("unreadable revoked key")
	}
	ids := []uint64{el[0].PrimaryKey.KeyId}
	for _, sub := range el[0].Subkeys {
		ids = append(ids, sub.PublicKey.KeyId)
	}
	return strings.ToUpper(hex.EncodeToString(el[0].PrimaryKey.Fingerprint)), ids, nil
}

// registerRevocation adds the revocation of a registered key to its stored
// copy, so that the log refuses its signatures and serves the revocation
// to auditors. A revoked key the log does not know is simply refused.
func (k *keyring) registerRevocation(ctx context.Context, armored []byte, parseErr error) error {
	fpr, _, err := revokedKey(armored)
	if err != nil {
		return parseErr
	}
	if _, err := k.store.Key(ctx, fpr); errors.Is(err, ErrNotFound) {
		return parseErr
	} else if err != nil {
		return fmt.Errorf("%w: %v", errStore, err)
	}
	_, kept, err := k.save(ctx, fpr, armored)
	if err != nil {
		return err
	}
	k.learn(kept)
	return fmt.Errorf("%w: %s is revoked: the log now refuses its signatures", ErrRevokedNow, fpr)
}

// isRevoked reports whether a registered key was revoked after it was
// registered.
func (k *keyring) isRevoked(fpr string) bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.revoked[fpr]
}

// revokedIssuer returns the fingerprint of the revoked key that holds the
// key ID, if any.
func (k *keyring) revokedIssuer(id uint64) (string, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	fpr, ok := k.revokedIDs[id]
	return fpr, ok
}

// markRevoked notes a stored key that no longer parses because it is
// revoked; k.mu is held.
func (k *keyring) markRevoked(stored []byte) {
	if _, err := pgp.ParseKey(stored, time.Now()); !errors.Is(err, pgp.ErrKeyRevoked) {
		return
	}
	fpr, ids, err := revokedKey(stored)
	if err != nil {
		return
	}
	k.revoked[fpr] = true
	for _, id := range ids {
		k.revokedIDs[id] = fpr
	}
}
