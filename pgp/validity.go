package pgp

import "sync"

// validityCache remembers whether a key could sign at a given second.
// Whether a key is usable at time t depends only on the key's packets and
// on t (to the second, as OpenPGP counts time), so the answer never
// changes; remembering it spares the self-signature verifications that
// otherwise dominate the cost of Verify.
type validityCache struct {
	mu sync.Mutex
	m  map[validityKey]error
}

type validityKey struct {
	fingerprint string
	unix        int64
}

// maxValidityEntries bounds the cache; it starts over when full.
const maxValidityEntries = 4096

func (c *validityCache) get(fp string, unix int64, check func() error) error {
	k := validityKey{fp, unix}
	c.mu.Lock()
	err, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return err
	}
	err = check()
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxValidityEntries {
		c.m = map[validityKey]error{}
	}
	c.m[k] = err
	c.mu.Unlock()
	return err
}
