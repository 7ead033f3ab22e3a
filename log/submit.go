package log

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/transparency-dev/tessera"

	"github.com/reprolog/reprolog/buildinfo"
	"github.com/reprolog/reprolog/pgp"
	"github.com/reprolog/reprolog/statement"
)

// Result is the answer to an accepted submission.
type Result struct {
	Index      uint64 `json:"index"`
	Statement  string `json:"statement"`
	Checkpoint string `json:"checkpoint"`
	// Duplicate is true when the log already held the record.
	Duplicate bool `json:"duplicate"`
}

// Error is a refused submission: an HTTP status and a message for the
// submitter.
type Error struct {
	Status     int
	Msg        string
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

func refuse(status int, err error, format string, args ...any) *Error {
	return &Error{Status: status, Err: err, Msg: fmt.Sprintf(format, args...)}
}

// Submit verifies a record, logs its statement and waits until a published
// checkpoint covers it. A record the log holds already, in these bytes or
// in another encoding of the same signature (see recordIdentity), is
// answered with its index and does not count against the builder's rate.
func (s *Server) Submit(ctx context.Context, record []byte) (*Result, error) {
	c, err := s.check(ctx, record)
	if err != nil {
		return nil, err
	}
	holder, err := s.store.RecordByIdentity(ctx, c.identity)
	switch {
	case err == nil:
		return s.existing(ctx, holder, c)
	case !errors.Is(err, ErrNotFound):
		return nil, s.internal("reading the record", err)
	}
	if ok, wait := s.limit.allow(c.st.Builder); !ok {
		return nil, &Error{Status: http.StatusTooManyRequests, RetryAfter: max(wait, time.Second),
			Msg: fmt.Sprintf("builder %s is submitting too fast: retry later", c.st.Builder)}
	}
	return s.inflight.do(ctx, c.st.Record, func(ctx context.Context) (*Result, error) { return s.submit(ctx, record, c) })
}

// checked is a verified record.
type checked struct {
	st       *statement.Statement
	b        *buildinfo.Buildinfo
	identity string
}

// Verify checks a record as Submit does, without logging it, and returns
// its statement.
func (s *Server) Verify(ctx context.Context, record []byte) (*statement.Statement, error) {
	c, err := s.check(ctx, record)
	if err != nil {
		return nil, err
	}
	return c.st, nil
}

func (s *Server) check(ctx context.Context, record []byte) (*checked, error) {
	if int64(len(record)) > s.cfg.MaxRecordSize {
		return nil, refuse(http.StatusRequestEntityTooLarge, nil, "record larger than %d bytes", s.cfg.MaxRecordSize)
	}
	signed, err := pgp.ParseClearsigned(record)
	switch {
	case errors.Is(err, pgp.ErrWeakDigest):
		return nil, refuse(http.StatusForbidden, err, "%v", err)
	case err != nil:
		return nil, refuse(http.StatusBadRequest, err, "%v", err)
	}
	key, digest, err := s.signer(ctx, signed)
	if err != nil {
		return nil, err
	}
	b, err := buildinfo.Parse(signed.Text)
	if err != nil {
		return nil, refuse(http.StatusBadRequest, err, "%v", err)
	}
	st, err := statement.Derive(b, key.Fingerprint(), record)
	if err != nil {
		return nil, refuse(http.StatusBadRequest, err, "%v", err)
	}
	return &checked{st: st, b: b, identity: recordIdentity(key.Fingerprint(), signed, digest)}, nil
}

// signer finds the registered key that made the signature and verifies it
// now: a key expired or revoked at submission time is refused. It returns
// the key and the digest the signature signs (pgp.Signed.Digest).
func (s *Server) signer(ctx context.Context, signed *pgp.Signed) (*pgp.Key, []byte, error) {
	candidates := s.keys.candidates(ctx, signed)
	if fpr, ok := s.keys.revokedIssuer(signed.IssuerKeyID); len(candidates) == 0 && ok {
		return nil, nil, refuse(http.StatusForbidden, pgp.ErrKeyRevoked, "signed by key %s, which is revoked: the log refuses its signatures", fpr)
	}
	if len(candidates) == 0 {
		issuer := fmt.Sprintf("key ID %016X", signed.IssuerKeyID)
		if signed.IssuerFingerprint != nil {
			issuer = fmt.Sprintf("key %X", signed.IssuerFingerprint)
		}
		return nil, nil, refuse(http.StatusForbidden, pgp.ErrUnknownKey,
			"signed by %s, which this log does not know: register the public key first (POST /keys, or reprolog submit --key FILE)", issuer)
	}
	var err error
	for _, key := range candidates {
		if s.keys.isRevoked(key.Fingerprint()) {
			err = fmt.Errorf("%w: key %s is revoked", pgp.ErrKeyRevoked, key.Fingerprint())
			continue
		}
		var digest []byte
		if digest, err = signed.VerifyDigest(key, time.Now()); err == nil {
			return key, digest, nil
		}
	}
	return nil, nil, refuse(http.StatusForbidden, err, "%v", err)
}

func (s *Server) submit(ctx context.Context, record []byte, c *checked) (*Result, error) {
	// Tessera's POSIX and MySQL drivers do not push back: the log bounds
	// the submissions in progress itself, before storing anything.
	if s.pending.Add(1) > int64(s.cfg.MaxPending) {
		s.pending.Add(-1)
		return nil, &Error{Status: http.StatusServiceUnavailable, RetryAfter: time.Second,
			Msg: fmt.Sprintf("the log is busy (%d submissions in progress): retry later", s.cfg.MaxPending)}
	}
	defer s.pending.Add(-1)
	entry := c.st.Marshal()
	sha := c.st.Record

	// Step 2: store the record durably, marked pending. If the store holds
	// it already, or another encoding of it, this is a resubmission:
	// answer the existing index.
	holder, added, err := s.store.AddPending(ctx, c.identity, sha, record)
	if err != nil {
		return nil, s.internal("storing the record", err)
	}
	if !added {
		return s.existing(ctx, holder, c)
	}
	// Step 3: append the statement; Tessera assigns the index durably.
	idx, err := s.appender.Add(ctx, tessera.NewEntry(entry))()
	if err != nil {
		if dropErr := s.store.DropPending(context.WithoutCancel(ctx), sha); dropErr != nil {
			s.log.Error("removing a record whose statement was not logged", "sha256", sha, "error", dropErr)
		}
		if errors.Is(err, tessera.ErrPushback) {
			return nil, &Error{Status: http.StatusServiceUnavailable, Err: err, RetryAfter: time.Second,
				Msg: "the log is busy: retry later"}
		}
		return nil, s.internal("appending the statement", err)
	}
	if err := s.store.SetRecordIndex(ctx, c.identity, sha, record, int64(idx.Index)); err != nil {
		// The statement is logged but the record's row could not be
		// written: do not acknowledge. The client retries, and the
		// resubmission finds the pending row, which the indexer completes.
		return nil, s.internal("recording the record's index", err)
	}
	return s.await(ctx, idx.Index, entry, false)
}

// existing answers a resubmission once the entry of holder, the record
// with the same identity, is published. Its statement is the one derived
// from holder's bytes: the submitted record's, but for the record's hash
// and size when holder is another encoding of it.
func (s *Server) existing(ctx context.Context, holder string, c *checked) (*Result, error) {
	entry := c.st.Marshal()
	for {
		idx, err := s.store.RecordIndex(ctx, holder)
		switch {
		case errors.Is(err, ErrNotFound):
			// The first submission failed and was removed: try again.
			return nil, &Error{Status: http.StatusServiceUnavailable, RetryAfter: time.Second,
				Msg: "an earlier submission of this record failed: retry"}
		case err != nil:
			return nil, s.internal("reading the record", err)
		case idx >= 0:
			if holder != c.st.Record {
				body, _, err := s.store.Record(ctx, holder)
				if err != nil {
					return nil, s.internal("reading the record", err)
				}
				st, err := statement.Derive(c.b, c.st.Builder, body)
				if err != nil {
					return nil, s.internal("deriving the logged statement", err)
				}
				entry = st.Marshal()
			}
			return s.await(ctx, uint64(idx), entry, true)
		}
		// Another front end is logging it right now.
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// await waits until a published checkpoint and the lookup index cover idx.
func (s *Server) await(ctx context.Context, idx uint64, entry []byte, dup bool) (*Result, error) {
	_, cp, err := s.awaiter.Await(ctx, func() (tessera.Index, error) { return tessera.Index{Index: idx}, nil })
	if err == nil {
		err = s.indexer.waitFor(ctx, idx+1)
	}
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, ctx.Err() // the caller stopped waiting: the entry is logged all the same
	case err != nil:
		return nil, s.internal("waiting for the checkpoint and the index", err)
	}
	return &Result{Index: idx, Statement: string(entry), Checkpoint: string(cp), Duplicate: dup}, nil
}

func (s *Server) internal(what string, err error) *Error {
	if isStorageFull(err) {
		s.log.Error("storage full or unwritable", "while", what, "error", err)
		return storageUnavailable(err)
	}
	s.log.Error(what, "error", err)
	return &Error{Status: http.StatusInternalServerError, Err: err, Msg: "internal error while " + what}
}
