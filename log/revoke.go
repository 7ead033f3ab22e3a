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

// revokedFingerprint returns the fingerprint of a single key whose
// revocation pgp.ParseKey reported.
func revokedFingerprint(data []byte) (string, error) {
	r := bytes.NewReader(data)
	var el openpgp.EntityList
	var err error
	if block, aerr := armor.Decode(bytes.NewReader(data)); aerr == nil {
		el, err = openpgp.ReadKeyRing(block.Body)
	} else {
		el, err = openpgp.ReadKeyRing(r)
	}
	if err != nil || len(el) != 1 {
		return "", fmt.Errorf("unreadable revoked key")
	}
	return strings.ToUpper(hex.EncodeToString(el[0].PrimaryKey.Fingerprint)), nil
}

// registerRevocation stores the revoked form of a registered key, so that
// the log refuses its signatures and serves the revocation to auditors.
// A revoked key the log does not know is simply refused.
func (k *keyring) registerRevocation(ctx context.Context, armored []byte, parseErr error) error {
	fpr, err := revokedFingerprint(armored)
	if err != nil {
		return parseErr
	}
	if _, err := k.store.Key(ctx, fpr); err != nil {
		return parseErr
	}
	if _, err := k.store.AddKey(ctx, fpr, armored); err != nil {
		return fmt.Errorf("%w: %v", errStore, err)
	}
	k.mu.Lock()
	k.revoked[fpr] = true
	k.mu.Unlock()
	return fmt.Errorf("%w: %s is revoked: the log now refuses its signatures", ErrRevokedNow, fpr)
}

// isRevoked reports whether a registered key was revoked after it was
// registered.
func (k *keyring) isRevoked(fpr string) bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.revoked[fpr]
}

// markIfRevoked notes a stored key that no longer parses because it is
// revoked.
func (k *keyring) markIfRevoked(stored StoredKey) {
	if _, err := pgp.ParseKey(stored.Armored, time.Now()); !errors.Is(err, pgp.ErrKeyRevoked) {
		return
	}
	if fpr, err := revokedFingerprint(stored.Armored); err == nil {
		k.revoked[fpr] = true
	}
}
