package log

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

	"github.com/reprolog/reprolog/statement"
)

const indexedSizeKey = "indexed_size"

// IndexedSize is the number of leading log entries the lookup index covers.
func (s *Store) IndexedSize(ctx context.Context) (uint64, error) {
	v, err := s.Meta(ctx, indexedSizeKey)
	if err != nil || v == "" {
		return 0, err
	}
	return strconv.ParseUint(v, 10, 64)
}

// IndexEntries adds the statements of entries [from, from+len(sts)) to the
// lookup index, records each record's index, and moves the indexed size, in
// one transaction. It is idempotent, and refuses to leave a gap.
func (s *Store) IndexEntries(ctx context.Context, from uint64, sts []*statement.Statement) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Front ends on one database index concurrently: the row holding the
	// indexed size is created if missing, then locked for this
	// transaction, so that the size only ever moves forward.
	if _, err := tx.ExecContext(ctx, s.dialect.insertIgnore+` meta (name, value) VALUES (?, '0')`, indexedSizeKey); err != nil {
		return err
	}
	var cur string
	if err := tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = ?`+s.dialect.forUpdate, indexedSizeKey).Scan(&cur); err != nil {
		return err
	}
	have, err := strconv.ParseUint(cur, 10, 64)
	if err != nil {
		return err
	}
	if from > have {
		return errors.New("index: entries would leave a gap")
	}
	ins := s.dialect.insertIgnore
	for i, st := range sts {
		idx := from + uint64(i)
		if idx < have {
			continue
		}
		seen := map[[3]string]bool{}
		for _, f := range st.Files {
			k := [3]string{f.Package, f.Version, f.Arch}
			if !f.IsBinary() || seen[k] {
				continue
			}
			seen[k] = true
			if _, err := tx.ExecContext(ctx, ins+` binaries (package, version, arch, idx) VALUES (?, ?, ?, ?)`, k[0], k[1], k[2], idx); err != nil {
				return err
			}
		}
		versions := []string{st.SourceVersion}
		if st.Version != st.SourceVersion {
			versions = append(versions, st.Version)
		}
		for _, v := range versions {
			if _, err := tx.ExecContext(ctx, ins+` sources (source, version, idx) VALUES (?, ?, ?)`, st.Source, v, idx); err != nil {
				return err
			}
		}
		// A record submitted and logged before a crash, whose index was not
		// recorded, gets it here.
		if _, err := tx.ExecContext(ctx, `UPDATE records SET idx = ? WHERE sha256 = ? AND idx IS NULL`, idx, st.Record); err != nil {
			return err
		}
	}
	if end := from + uint64(len(sts)); end > have {
		if _, err := tx.ExecContext(ctx, `UPDATE meta SET value = ? WHERE name = ?`, strconv.FormatUint(end, 10), indexedSizeKey); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// LookupBinary returns the indices of statements that list the binary
// package, in increasing order.
func (s *Store) LookupBinary(ctx context.Context, pkg, version, arch string) ([]uint64, error) {
	return s.indices(ctx, `SELECT idx FROM binaries WHERE package = ? AND version = ? AND arch = ? ORDER BY idx`, pkg, version, arch)
}

// LookupSource returns the indices of statements of a source version (the
// source's own version or the binNMU version).
func (s *Store) LookupSource(ctx context.Context, source, version string) ([]uint64, error) {
	return s.indices(ctx, `SELECT idx FROM sources WHERE source = ? AND version = ? ORDER BY idx`, source, version)
}

func (s *Store) indices(ctx context.Context, q string, args ...any) ([]uint64, error) {
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []uint64{}
	for rows.Next() {
		var i uint64
		if err := rows.Scan(&i); err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, rows.Err()
}

// AddKey stores a rebuilder's armored key if its fingerprint is new; it
// reports whether it was. A known key is left as it is: ReplaceKey
// updates it.
func (s *Store) AddKey(ctx context.Context, fingerprint string, armored []byte) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.dialect.insertIgnore+` rebuilder_keys (fingerprint, armored, created) VALUES (?, ?, ?)`,
		fingerprint, armored, time.Now().Unix())
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ReplaceKey replaces the stored copy of a key with another, if the stored
// copy is still old. It reports whether it replaced it: false means that
// another writer changed it first.
func (s *Store) ReplaceKey(ctx context.Context, fingerprint string, old, armored []byte) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE rebuilder_keys SET armored = ? WHERE fingerprint = ? AND armored = ?`, armored, fingerprint, old)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Key returns a rebuilder's armored key.
func (s *Store) Key(ctx context.Context, fingerprint string) ([]byte, error) {
	var b []byte
	err := s.rdb.QueryRowContext(ctx, `SELECT armored FROM rebuilder_keys WHERE fingerprint = ?`, fingerprint).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return b, err
}

// StoredKey is a registered key and when it was registered.
type StoredKey struct {
	Armored    []byte
	Registered time.Time
}

// KeyCount returns how many keys are registered.
func (s *Store) KeyCount(ctx context.Context) (int, error) {
	var n int
	err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM rebuilder_keys`).Scan(&n)
	return n, err
}

// Keys returns every registered key.
func (s *Store) Keys(ctx context.Context) ([]StoredKey, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT armored, created FROM rebuilder_keys ORDER BY fingerprint`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []StoredKey
	for rows.Next() {
		var k StoredKey
		var t int64
		if err := rows.Scan(&k.Armored, &t); err != nil {
			return nil, err
		}
		k.Registered = time.Unix(t, 0)
		out = append(out, k)
	}
	return out, rows.Err()
}
