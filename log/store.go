package log

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	_ "modernc.org/sqlite" // the embedded default
)

// Store keeps the records, the rebuilders' keys and the lookup index in one
// SQL database: SQLite by default, MySQL/MariaDB for a log served by several
// front ends.
type Store struct {
	db      *sql.DB // writes, and reads inside a write
	rdb     *sql.DB // reads alone: SQLite's readers do not wait for its writer
	dialect dialect
	batch   *batcher // the writes of each submission, committed together
}

type dialect struct {
	name   string
	schema []string
	// insertIgnore starts an INSERT that skips rows whose key exists.
	insertIgnore string
	// forUpdate ends a SELECT that locks the rows it reads until the
	// transaction ends (SQLite's write transactions lock the whole
	// database already).
	forUpdate string
}

var sqliteDialect = dialect{
	name:         "sqlite",
	insertIgnore: "INSERT OR IGNORE INTO",
	schema: []string{
		`CREATE TABLE IF NOT EXISTS records (sha256 TEXT PRIMARY KEY, body BLOB NOT NULL, idx INTEGER, created INTEGER NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS records_pending ON records (idx)`,
		`CREATE TABLE IF NOT EXISTS record_identities (identity TEXT PRIMARY KEY, sha256 TEXT NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS record_identities_sha256 ON record_identities (sha256)`,
		`CREATE TABLE IF NOT EXISTS rebuilder_keys (fingerprint TEXT PRIMARY KEY, armored BLOB NOT NULL, created INTEGER NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS binaries (package TEXT NOT NULL, version TEXT NOT NULL, arch TEXT NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (package, version, arch, idx))`,
		`CREATE TABLE IF NOT EXISTS sources (source TEXT NOT NULL, version TEXT NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (source, version, idx))`,
		`CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)`,
	},
}

// mysqlDialect compares names byte for byte, as SQLite does: versions
// differ in case ("1.0~RC1", "1.0~rc1"), so keys are binary strings. The
// binary package columns hold at most a file name's 255 bytes; a source
// name and version may be longer, up to what an InnoDB key holds (3072
// bytes).
var mysqlDialect = dialect{
	name:         "mysql",
	insertIgnore: "INSERT IGNORE INTO",
	forUpdate:    " FOR UPDATE",
	schema: []string{
		`CREATE TABLE IF NOT EXISTS records (sha256 VARBINARY(64) PRIMARY KEY, body MEDIUMBLOB NOT NULL, idx BIGINT, created BIGINT NOT NULL, INDEX records_pending (idx))`,
		`CREATE TABLE IF NOT EXISTS record_identities (identity VARBINARY(64) PRIMARY KEY, sha256 VARBINARY(64) NOT NULL, INDEX record_identities_sha256 (sha256))`,
		`CREATE TABLE IF NOT EXISTS rebuilder_keys (fingerprint VARBINARY(64) PRIMARY KEY, armored MEDIUMBLOB NOT NULL, created BIGINT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS binaries (package VARBINARY(255) NOT NULL, version VARBINARY(255) NOT NULL, arch VARBINARY(255) NOT NULL, idx BIGINT NOT NULL, PRIMARY KEY (package, version, arch, idx))`,
		`CREATE TABLE IF NOT EXISTS sources (source VARBINARY(1500) NOT NULL, version VARBINARY(1500) NOT NULL, idx BIGINT NOT NULL, PRIMARY KEY (source, version, idx))`,
		`CREATE TABLE IF NOT EXISTS meta (name VARBINARY(64) PRIMARY KEY, value TEXT NOT NULL)`,
	},
}

// OpenSQLite opens (creating if needed) the embedded database at path.
func OpenSQLite(ctx context.Context, path string) (*Store, error) {
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"
	db, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	// SQLite writes one transaction at a time. Writers that wait in its
	// busy handler sleep and retry, and under load give up (SQLITE_BUSY);
	// on one connection they wait their turn in Go instead.
	db.SetMaxOpenConns(1)
	st, err := openStore(ctx, db, sqliteDialect)
	if err != nil {
		return nil, err
	}
	// In WAL mode a reader sees the last commit and neither waits for the
	// writer nor holds it up: reads get connections of their own, so that
	// a lookup never queues behind a commit's sync to disk.
	rdb, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		st.Close()
		return nil, err
	}
	rdb.SetMaxOpenConns(8)
	rdb.SetMaxIdleConns(8)
	st.rdb = rdb
	return st, nil
}

// OpenMySQL opens the MySQL database named by dsn (go-sql-driver/mysql form).
func OpenMySQL(ctx context.Context, dsn string) (*Store, error) {
	db, err := openMySQLDB(dsn)
	if err != nil {
		return nil, err
	}
	return openStore(ctx, db, mysqlDialect)
}

func openStore(ctx context.Context, db *sql.DB, d dialect) (*Store, error) {
	for _, q := range d.schema {
		if _, err := db.ExecContext(ctx, q); err != nil {
			db.Close()
			return nil, fmt.Errorf("%s database: %w", d.name, err)
		}
	}
	return &Store{db: db, rdb: db, dialect: d, batch: newBatcher(db)}, nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.batch.close()
	if s.rdb != s.db {
		s.rdb.Close()
	}
	return s.db.Close()
}

// ErrNotFound is returned for a record or key the store does not hold.
var ErrNotFound = errors.New("not found")

// Record returns a stored record and its index (-1 while pending).
func (s *Store) Record(ctx context.Context, sha string) (body []byte, idx int64, err error) {
	var n sql.NullInt64
	err = s.rdb.QueryRowContext(ctx, `SELECT body, idx FROM records WHERE sha256 = ?`, sha).Scan(&body, &n)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, ErrNotFound
	}
	if !n.Valid {
		return body, -1, err
	}
	return body, n.Int64, err
}

// RecordIndex returns the index of a stored record: -1 while pending.
func (s *Store) RecordIndex(ctx context.Context, sha string) (int64, error) {
	var n sql.NullInt64
	err := s.rdb.QueryRowContext(ctx, `SELECT idx FROM records WHERE sha256 = ?`, sha).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	if !n.Valid {
		return -1, nil
	}
	return n.Int64, nil
}

// RecordByIdentity returns the SHA-256 of the stored record with the
// identity (see recordIdentity), logged or pending.
func (s *Store) RecordByIdentity(ctx context.Context, identity string) (string, error) {
	var sha string
	err := s.rdb.QueryRowContext(ctx, `SELECT sha256 FROM record_identities WHERE identity = ?`, identity).Scan(&sha)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return sha, err
}

// AddPending stores a record with no index yet, unless the store holds a
// record with the same identity: these bytes, or another encoding of the
// same signature. It returns the SHA-256 of the record that holds the
// identity now (sha itself when it was added), and whether it added it.
func (s *Store) AddPending(ctx context.Context, identity, sha string, body []byte) (holder string, added bool, err error) {
	err = s.batch.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.dialect.insertIgnore+` record_identities (identity, sha256) VALUES (?, ?)`, identity, sha)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if added = n == 1; !added {
			// A locking read: it sees the row another front end committed
			// since this transaction began.
			return tx.QueryRowContext(ctx, `SELECT sha256 FROM record_identities WHERE identity = ?`+s.dialect.forUpdate, identity).Scan(&holder)
		}
		holder = sha
		_, err = tx.ExecContext(ctx, s.dialect.insertIgnore+` records (sha256, body, idx, created) VALUES (?, ?, NULL, ?)`,
			sha, body, time.Now().UnixMilli())
		return err
	})
	return holder, added, err
}

// DropPending removes a record that was never logged, and its identity.
func (s *Store) DropPending(ctx context.Context, sha string) error {
	_, err := s.dropPending(ctx, `SELECT sha256 FROM records WHERE sha256 = ? AND idx IS NULL`, sha)
	return err
}

// DropStalePending removes pending records created before t, and their
// identities: records whose submission never completed.
func (s *Store) DropStalePending(ctx context.Context, before time.Time) (int64, error) {
	return s.dropPending(ctx, `SELECT sha256 FROM records WHERE idx IS NULL AND created < ?`, before.UnixMilli())
}

// dropPending removes the pending records that query selects, each with
// its identity, in one transaction that locks them: a record that another
// front end logs meanwhile is not removed.
func (s *Store) dropPending(ctx context.Context, query string, args ...any) (int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, query+s.dialect.forUpdate, args...)
	if err != nil {
		return 0, err
	}
	var shas []string
	for rows.Next() {
		var sha string
		if err := rows.Scan(&sha); err != nil {
			rows.Close()
			return 0, err
		}
		shas = append(shas, sha)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, sha := range shas {
		if _, err := tx.ExecContext(ctx, `DELETE FROM record_identities WHERE sha256 = ?`, sha); err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM records WHERE sha256 = ? AND idx IS NULL`, sha); err != nil {
			return 0, err
		}
	}
	return int64(len(shas)), tx.Commit()
}

// SetRecordIndex records where the record's statement is in the log. If
// the pending record is gone (another front end's clean-up took it for an
// interrupted submission), it is stored again with its identity: a logged
// record is never missing from the store.
func (s *Store) SetRecordIndex(ctx context.Context, identity, sha string, body []byte, idx int64) error {
	return s.batch.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE records SET idx = ? WHERE sha256 = ? AND idx IS NULL`, idx, sha)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.dialect.insertIgnore+` record_identities (identity, sha256) VALUES (?, ?)`, identity, sha); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.dialect.insertIgnore+` records (sha256, body, idx, created) VALUES (?, ?, ?, ?)`,
			sha, body, idx, time.Now().UnixMilli())
		return err
	})
}

// AddIdentities records the identities of logged records, identity to
// SHA-256, skipping those it holds.
func (s *Store) AddIdentities(ctx context.Context, ids map[string]string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for id, sha := range ids {
		if _, err := tx.ExecContext(ctx, s.dialect.insertIgnore+` record_identities (identity, sha256) VALUES (?, ?)`, id, sha); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Meta reads a named value; "" when unset.
func (s *Store) Meta(ctx context.Context, name string) (string, error) {
	var v string
	err := s.rdb.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// SetMeta writes a named value once; it fails if another value is there.
func (s *Store) SetMeta(ctx context.Context, name, value string) error {
	if _, err := s.db.ExecContext(ctx, s.dialect.insertIgnore+` meta (name, value) VALUES (?, ?)`, name, value); err != nil {
		return err
	}
	got, err := s.Meta(ctx, name)
	if err != nil {
		return err
	}
	if got != value {
		return fmt.Errorf("the database holds %s %q, not %q", name, got, value)
	}
	return nil
}
