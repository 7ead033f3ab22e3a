package proofs

import (
	"bytes"
	"sync"

	"github.com/reprolog/reprolog/pgp"
	"github.com/reprolog/reprolog/statement"
)

// Checked remembers the records that CheckRecord accepted, each with the
// statement and the key it was checked for, so that verifying a bundle
// does not check them again: a decision can check each record as it
// arrives from the log, while its inclusion proofs are still being built,
// and then verify the bundle. The zero value is ready to use.
type Checked struct {
	mu sync.Mutex
	ok map[checkedKey][]byte // the record that was accepted
}

type checkedKey struct {
	statement string // canonical bytes
	key       *pgp.Key
}

// CheckRecord is the package's CheckRecord, remembering a record it
// accepts.
func (c *Checked) CheckRecord(s *statement.Statement, record []byte, key *pgp.Key) error {
	if err := CheckRecord(s, record, key); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ok == nil {
		c.ok = map[checkedKey][]byte{}
	}
	c.ok[checkedKey{string(s.Marshal()), key}] = record
	return nil
}

// accepted reports whether CheckRecord accepted exactly this record for s
// and key.
func (c *Checked) accepted(s *statement.Statement, record []byte, key *pgp.Key) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	r, ok := c.ok[checkedKey{string(s.Marshal()), key}]
	c.mu.Unlock()
	return ok && bytes.Equal(r, record)
}
