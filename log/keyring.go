package log

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/reprolog/reprolog/pgp"
)

// errStore marks failures of the database, not of the input.
var errStore = errors.New("store")

// ErrKeyNotAllowed is returned when registration is closed to a key.
var ErrKeyNotAllowed = errors.New("registration is restricted to the operator's keyring")

// keyring holds the registered rebuilder keys, parsed, by fingerprint and
// by signing key ID. The database is the source of truth: another front
// end may have registered a key, so a miss reloads it when the database
// holds more keys than were loaded, or at most once a second otherwise.
type keyring struct {
	store   *Store
	allowed map[string]bool // nil: open registration

	mu         sync.RWMutex
	byFpr      map[string]*pgp.Key
	byID       map[uint64][]*pgp.Key
	revoked    map[string]bool   // registered, then revoked
	revokedIDs map[uint64]string // key IDs of revoked keys, to their fingerprint
	lastReload time.Time
	loaded     int // keys in the database at the last reload
}

func newKeyring(ctx context.Context, store *Store, submitters []*pgp.Key) (*keyring, error) {
	k := &keyring{store: store, byFpr: map[string]*pgp.Key{}, byID: map[uint64][]*pgp.Key{}, revoked: map[string]bool{}, revokedIDs: map[uint64]string{}}
	if submitters != nil {
		k.allowed = map[string]bool{}
		for _, key := range submitters {
			k.allowed[key.Fingerprint()] = true
			if _, _, err := k.save(ctx, key.Fingerprint(), key.Armored()); err != nil {
				return nil, err
			}
		}
	}
	return k, k.reload(ctx)
}

// keyChange says what a registration did to the stored key.
type keyChange int

const (
	keyKept    keyChange = iota // a known key, left as it was
	keyNew                      // a key the log did not know
	keyUpdated                  // a known key, replaced by a newer copy or given a revocation
)

// register validates and stores an armored key, and says what changed.
func (k *keyring) register(ctx context.Context, armored []byte) (*pgp.Key, keyChange, error) {
	key, err := pgp.ParseKey(armored, time.Now())
	if errors.Is(err, pgp.ErrKeyRevoked) {
		return nil, keyKept, k.registerRevocation(ctx, armored, err)
	}
	if err != nil {
		return nil, keyKept, err
	}
	if k.allowed != nil && !k.allowed[key.Fingerprint()] {
		return nil, keyKept, fmt.Errorf("key %s: %w", key.Fingerprint(), ErrKeyNotAllowed)
	}
	change, kept, err := k.save(ctx, key.Fingerprint(), key.Armored())
	if err != nil {
		return nil, keyKept, err
	}
	k.learn(kept)
	return key, change, nil
}

// save stores a copy of a key. A new key is stored as it is. A known key
// keeps its stored copy unless pgp.UpdateKey finds a newer copy or a
// revocation in armored: a registration never takes away a subkey, a
// self-signature or a revocation, so it can neither make a revoked key
// valid again nor leave older records without the key that checks them.
// It returns the copy stored now.
func (k *keyring) save(ctx context.Context, fpr string, armored []byte) (keyChange, []byte, error) {
	for range 5 {
		created, err := k.store.AddKey(ctx, fpr, armored)
		if err != nil {
			return keyKept, nil, fmt.Errorf("%w: %v", errStore, err)
		}
		if created {
			return keyNew, armored, nil
		}
		old, err := k.store.Key(ctx, fpr)
		if err != nil {
			return keyKept, nil, fmt.Errorf("%w: %v", errStore, err)
		}
		kept, changed, err := pgp.UpdateKey(old, armored)
		if err != nil {
			return keyKept, nil, err
		}
		if !changed {
			return keyKept, old, nil
		}
		replaced, err := k.store.ReplaceKey(ctx, fpr, old, kept)
		if err != nil {
			return keyKept, nil, fmt.Errorf("%w: %v", errStore, err)
		}
		if replaced {
			return keyUpdated, kept, nil
		}
		// Another front end changed the key meanwhile: start again from
		// its copy.
	}
	return keyKept, nil, fmt.Errorf("%w: key %s: too many concurrent updates", errStore, fpr)
}

// learn takes the stored copy of a key into the keyring.
func (k *keyring) learn(stored []byte) {
	key, err := pgp.ParseKey(stored, time.Now())
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case err == nil:
		k.add(key)
	case errors.Is(err, pgp.ErrKeyRevoked):
		k.markRevoked(stored)
	}
}

// candidates returns the registered keys that may have made s.
func (k *keyring) candidates(ctx context.Context, s *pgp.Signed) []*pgp.Key {
	if keys := k.lookup(s); len(keys) > 0 {
		return keys
	}
	k.mu.RLock()
	stale, loaded := time.Since(k.lastReload) > time.Second, k.loaded
	k.mu.RUnlock()
	if !stale {
		n, err := k.store.KeyCount(ctx)
		stale = err == nil && n != loaded
	}
	if stale {
		_ = k.reload(ctx)
	}
	return k.lookup(s)
}

func (k *keyring) lookup(s *pgp.Signed) []*pgp.Key {
	k.mu.RLock()
	defer k.mu.RUnlock()
	keys := k.byID[s.IssuerKeyID]
	if s.IssuerFingerprint == nil {
		return keys
	}
	var out []*pgp.Key
	for _, key := range keys {
		for _, fp := range key.SigningFingerprints() {
			if bytes.Equal(fp, s.IssuerFingerprint) {
				out = append(out, key)
			}
		}
	}
	return out
}

func (k *keyring) reload(ctx context.Context) error {
	all, err := k.store.Keys(ctx)
	if err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.lastReload, k.loaded = time.Now(), len(all)
	for _, stored := range all {
		// Keys were valid when registered; whether they still are is
		// checked at each signature.
		key, err := pgp.ParseKey(stored.Armored, stored.Registered)
		if err != nil {
			k.markRevoked(stored.Armored)
			continue
		}
		if k.allowed == nil || k.allowed[key.Fingerprint()] {
			k.add(key)
		}
	}
	return nil
}

func (k *keyring) add(key *pgp.Key) {
	if _, ok := k.byFpr[key.Fingerprint()]; ok {
		for id, keys := range k.byID {
			k.byID[id] = deleteKey(keys, key.Fingerprint())
		}
	}
	k.byFpr[key.Fingerprint()] = key
	for _, id := range key.SigningKeyIDs() {
		k.byID[id] = append(k.byID[id], key)
	}
}

func deleteKey(keys []*pgp.Key, fpr string) []*pgp.Key {
	out := keys[:0]
	for _, k := range keys {
		if k.Fingerprint() != fpr {
			out = append(out, k)
		}
	}
	return out
}
