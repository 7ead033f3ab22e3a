package pgp

import (
	"errors"
	"fmt"
	"time"
)

// ParseExpiredKey reads a key that ParseKey refused at now because it has
// expired. It checks the key as ParseKey does, as of the last second it was
// valid, and returns that moment. Records the key signed before then still
// verify with Signed.Verify at their own time; a revoked key is refused.
func ParseExpiredKey(data []byte, now time.Time) (*Key, time.Time, error) {
	if _, err := ParseKey(data, now); !errors.Is(err, ErrKeyExpired) {
		if err == nil {
			return nil, time.Time{}, errors.New("pgp: the key has not expired")
		}
		return nil, time.Time{}, err
	}
	entities, err := readEntities(data)
	if err != nil {
		return nil, time.Time{}, err
	}
	if len(entities) != 1 {
		return nil, time.Time{}, fmt.Errorf("pgp: key data holds %d keys, want exactly one", len(entities))
	}
	e := entities[0]
	created := e.PrimaryKey.CreationTime
	self, err := e.VerifyPrimaryKey(created, defaultPolicy.config(created))
	if err != nil || self.KeyLifetimeSecs == nil || *self.KeyLifetimeSecs == 0 {
		return nil, time.Time{}, fmt.Errorf("pgp: key %s: cannot tell when it expired", fingerprintString(e.PrimaryKey.Fingerprint))
	}
	last := created.Add(time.Duration(*self.KeyLifetimeSecs)*time.Second - time.Second)
	k, err := ParseKey(data, last)
	if err != nil {
		return nil, time.Time{}, err
	}
	return k, last, nil
}
