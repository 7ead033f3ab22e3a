package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/reprolog/reprolog/buildinfo"
	"github.com/reprolog/reprolog/pgp"
	"github.com/reprolog/reprolog/statement"
)

// Statuses of an entry in the state. An entry is used to look for
// conflicts only when it is verified: the log alone cannot make a builder
// seem to disagree.
const (
	statusVerified   = "verified"
	statusKeyRevoked = "key-revoked" // the builder revoked its key since: not the log's fault
)

// check is the outcome of checking one entry's record: a status, and for
// a problem of the log, what is wrong.
type check struct {
	status string // statusVerified, statusKeyRevoked or a Problem
	detail string
}

// checkRecord fetches the record of st, the statement parsed from entry,
// and checks it: its SHA-256 and size, its signature by the builder's key
// (as of the signature's time), and that it derives exactly the entry. The
// error is for failures to fetch; what the log got wrong is in the check.
func (a *Auditor) checkRecord(ctx context.Context, st *statement.Statement, entry []byte) (check, error) {
	if st.RecordSize > pgp.MaxRecordSize {
		return check{ProblemRecordInvalid, fmt.Sprintf("the statement names a record of %d bytes, larger than any record", st.RecordSize)}, nil
	}
	record, err := a.api.get(ctx, "/record/"+st.Record, max(st.RecordSize, 1))
	switch {
	case errors.Is(err, errNotFound), errors.Is(err, errRefused):
		return check{ProblemRecordMissing, err.Error()}, nil
	case errors.Is(err, errTooLarge):
		return check{ProblemRecordMismatch, err.Error()}, nil
	case err != nil:
		return check{}, err
	}
	sum := sha256.Sum256(record)
	if hex.EncodeToString(sum[:]) != st.Record || int64(len(record)) != st.RecordSize {
		return check{ProblemRecordMismatch, fmt.Sprintf("GET /record/%s answers %d bytes with SHA-256 %x", st.Record, len(record), sum)}, nil
	}
	signed, err := pgp.ParseClearsigned(record)
	if err != nil {
		return check{ProblemRecordInvalid, err.Error()}, nil
	}
	key, c, err := a.key(ctx, st.Builder, signed.Created)
	if err != nil || c.status != "" {
		return c, err
	}
	if err := signed.Verify(key, signed.Created); errors.Is(err, pgp.ErrKeyRevoked) {
		return check{statusKeyRevoked, err.Error()}, nil
	} else if err != nil {
		return check{ProblemRecordSignature, err.Error()}, nil
	}
	b, err := buildinfo.Parse(signed.Text)
	if err != nil {
		return check{ProblemRecordInvalid, err.Error()}, nil
	}
	derived, err := statement.Derive(b, key.Fingerprint(), record)
	if err != nil {
		return check{ProblemStatementMismatch, err.Error()}, nil
	}
	if !bytes.Equal(derived.Marshal(), entry) {
		return check{ProblemStatementMismatch, "the record derives another statement"}, nil
	}
	return check{status: statusVerified}, nil
}

// keys keeps the builders' keys: the armored keys in the state, so that
// every key is fetched once, and the parsed keys in memory.
type keys struct {
	mu     sync.Mutex
	parsed map[string]*pgp.Key
	flight map[string]*sync.Mutex
}

// key returns the builder's key, parsed as of at (the time of the
// signature being checked). A key the log does not serve, or serves
// broken, gives a check with the problem.
func (a *Auditor) key(ctx context.Context, fpr string, at time.Time) (*pgp.Key, check, error) {
	a.keys.mu.Lock()
	if k := a.keys.parsed[fpr]; k != nil {
		a.keys.mu.Unlock()
		return k, check{}, nil
	}
	fl := a.keys.flight[fpr]
	if fl == nil {
		fl = &sync.Mutex{}
		a.keys.flight[fpr] = fl
	}
	a.keys.mu.Unlock()
	fl.Lock()
	defer fl.Unlock()
	a.keys.mu.Lock()
	k := a.keys.parsed[fpr]
	a.keys.mu.Unlock()
	if k != nil {
		return k, check{}, nil
	}

	armored, err := a.st.key(ctx, fpr)
	if err != nil {
		return nil, check{}, err
	}
	if armored == nil {
		armored, err = a.api.get(ctx, "/keys/"+fpr, maxKeySize)
		switch {
		case errors.Is(err, errNotFound), errors.Is(err, errRefused):
			return nil, check{ProblemKeyMissing, err.Error()}, nil
		case errors.Is(err, errTooLarge):
			return nil, check{ProblemKeyInvalid, err.Error()}, nil
		case err != nil:
			return nil, check{}, err
		}
		if err := a.st.putKey(ctx, fpr, armored); err != nil {
			return nil, check{}, err
		}
	}
	k, err = pgp.ParseKey(armored, at)
	switch {
	case errors.Is(err, pgp.ErrKeyRevoked):
		return nil, check{statusKeyRevoked, err.Error()}, nil
	case errors.Is(err, pgp.ErrKeyExpired):
		// Expired when it signed: the log should have refused the record.
		return nil, check{ProblemRecordSignature, err.Error()}, nil
	case err != nil:
		return nil, check{ProblemKeyInvalid, err.Error()}, nil
	case k.Fingerprint() != fpr:
		return nil, check{ProblemKeyInvalid, fmt.Sprintf("GET /keys/%s answers the key %s", fpr, k.Fingerprint())}, nil
	}
	a.keys.mu.Lock()
	a.keys.parsed[fpr] = k
	a.keys.mu.Unlock()
	return k, check{}, nil
}
