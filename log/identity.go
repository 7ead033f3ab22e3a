package log

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"

	"github.com/reprolog/reprolog/pgp"
	"github.com/reprolog/reprolog/statement"
)

// recordIdentity names what a record says, whatever its encoding: the
// builder (the primary key fingerprint that verified it) and the digest
// its signature signs, which covers the signed text, the signature's
// creation time and its other hashed data (pgp.Signed.Digest). Records
// that differ only in what anyone can change without the key (armor,
// trailing spaces, dash escapes, unhashed subpackets, the encoding of
// the signature values) have one identity, and the log holds one of them.
// digest is signed.Digest(), which verifying gives (pgp.Signed.VerifyDigest).
func recordIdentity(builder string, signed *pgp.Signed, digest []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "reprolog record identity v1\n%s\n%d\n", builder, signed.Hash)
	h.Write(digest)
	return hex.EncodeToString(h.Sum(nil))
}

// identitiesKey marks, in the store's meta table, a log whose every logged
// record has its identity recorded.
const identitiesKey = "record_identities"

// backfillIdentities records the identity of every record in the log, once:
// a log started by an earlier version holds records without one, and
// another encoding of such a record would be logged again.
func (s *Server) backfillIdentities(ctx context.Context) error {
	if done, err := s.store.Meta(ctx, identitiesKey); err != nil || done == "v1" {
		return err
	}
	size, err := s.reader.IntegratedSize(ctx)
	if err != nil {
		return fmt.Errorf("record identities: %w", err)
	}
	if size > 0 {
		s.log.Info("recording the identity of every logged record", "entries", size)
	}
	for ri := range layout.Range(0, size, size) {
		raw, err := s.reader.ReadEntryBundle(ctx, ri.Index, ri.Partial)
		if err != nil {
			return fmt.Errorf("record identities: entry bundle %d: %w", ri.Index, err)
		}
		var b api.EntryBundle
		if err := b.UnmarshalText(raw); err != nil || uint(len(b.Entries)) < ri.First+ri.N {
			return fmt.Errorf("record identities: entry bundle %d is unreadable (%v)", ri.Index, err)
		}
		ids := map[string]string{}
		for _, e := range b.Entries[ri.First : ri.First+ri.N] {
			st, err := statement.Parse(e)
			if err != nil {
				return fmt.Errorf("record identities: %w", err)
			}
			body, _, err := s.store.Record(ctx, st.Record)
			if errors.Is(err, ErrNotFound) {
				continue // nothing to name (the store keeps every logged record)
			} else if err != nil {
				return err
			}
			signed, err := pgp.ParseClearsigned(body)
			if err != nil {
				return fmt.Errorf("record identities: record %s: %w", st.Record, err)
			}
			digest, err := signed.Digest()
			if err != nil {
				return fmt.Errorf("record identities: record %s: %w", st.Record, err)
			}
			ids[recordIdentity(st.Builder, signed, digest)] = st.Record
		}
		if err := s.store.AddIdentities(ctx, ids); err != nil {
			return err
		}
	}
	return s.store.SetMeta(ctx, identitiesKey, "v1")
}
