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
// end may have registered a key, so a miss reloads it (at most once a
// second).
type keyring struct {
	store   *Store
	allowed map[string]bool // nil: open registration

	mu         sync.RWMutex
	byFpr      map[string]*pgp.Key
	byID       map[uint64][]*pgp.Key
	revoked    map[string]bool // registered, then revoked
	lastReload time.Time
}

func newKeyring(ctx context.Context, store *Store, submitters []*pgp.Key) (*keyring, error) {
	k := &keyring{store: store, byFpr: map[string]*pgp.Key{}, byID: map[uint64][]*pgp.Key{}, revoked: map[string]bool{}}
	if submitters != nil {
		k.allowed = map[string]bool{}
		for _, key := range submitters {
			k.allowed[key.Fingerprint()] = true
			if _, err := store.AddKey(ctx, key.Fingerprint(), key.Armored()); err != nil {
				return nil, err
			}
		}
	}
	return k, k.reload(ctx)
}

// register validates and stores an armored key. It reports whether the key
// was new.
func (k *keyring) register(ctx context.Context, armored []byte) (*pgp.Key, bool, error) {
	key, err := pgp.ParseKey(armored, time.Now())
	if errors.Is(err, pgp.ErrKeyRevoked) {
		return nil, false, k.registerRevocation(ctx, armored, err)
	}
	if err != nil {
		return nil, false, err
	}
	if k.allowed != nil && !k.allowed[key.Fingerprint()] {
		return nil, false, fmt.Errorf("key %s: %w", key.Fingerprint(), ErrKeyNotAllowed)
	}
	created, err := k.store.AddKey(ctx, key.Fingerprint(), key.Armored())
	if err != nil {
		return nil, false, fmt.Errorf("%w: %v", errStore, err)
	}
	k.mu.Lock()
	k.add(key)
	k.mu.Unlock()
	return key, created, nil
}

// candidates returns the registered keys that may have made s.
func (k *keyring) candidates(ctx context.Context, s *pgp.Signed) []*pgp.Key {
	if keys := k.lookup(s); len(keys) > 0 {
		return keys
	}
	k.mu.RLock()
	stale := time.Since(k.lastReload) > time.Second
	k.mu.RUnlock()
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
	k.lastReload = time.Now()
	for _, stored := range all {
		// Keys were valid when registered; whether they still are is
		// checked at each signature.
		key, err := pgp.ParseKey(stored.Armored, stored.Registered)
		if err != nil {
			k.markIfRevoked(stored)
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
