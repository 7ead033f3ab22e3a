package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	_ "modernc.org/sqlite" // the state database
)

// Files of a state directory.
const (
	StateFile = "audit.db"   // the SQLite database
	LockFile  = "audit.lock" // held while an auditor uses the directory
)

// schema is the state database. head holds the newest checkpoint the
// auditor verified and how many entries it has processed; entries,
// binaries and sources what it learned from them; findings everything it
// found, numbered in order, with the number of the last one delivered in
// meta; pending_lookups the lookups the log did not answer yet; failures
// the records and keys it answered with a server error, and in how many
// Syncs.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS head (id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL, hash BLOB NOT NULL, signed BLOB NOT NULL, next INTEGER NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS keys (fingerprint TEXT PRIMARY KEY, armored BLOB NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS entries (idx INTEGER PRIMARY KEY, status TEXT NOT NULL, builder TEXT NOT NULL, record TEXT NOT NULL, statement BLOB NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS binaries (package TEXT NOT NULL, version TEXT NOT NULL, arch TEXT NOT NULL, inputs TEXT NOT NULL, sha256 TEXT NOT NULL, builder TEXT NOT NULL, idx INTEGER NOT NULL, verified INTEGER NOT NULL)`,
	`CREATE INDEX IF NOT EXISTS binaries_group ON binaries (package, version, arch, inputs, sha256, builder)`,
	`CREATE TABLE IF NOT EXISTS sources (source TEXT NOT NULL, source_version TEXT NOT NULL, version TEXT NOT NULL, dsc TEXT NOT NULL, idx INTEGER NOT NULL, verified INTEGER NOT NULL)`,
	`CREATE INDEX IF NOT EXISTS sources_version ON sources (source, source_version, dsc)`,
	`CREATE INDEX IF NOT EXISTS sources_binnmu ON sources (source, version)`,
	`CREATE TABLE IF NOT EXISTS pending_lookups (source INTEGER NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL, arch TEXT NOT NULL, size INTEGER NOT NULL, attempts INTEGER NOT NULL, error TEXT NOT NULL, PRIMARY KEY (source, name, version, arch))`,
	`CREATE TABLE IF NOT EXISTS failures (path TEXT PRIMARY KEY, attempts INTEGER NOT NULL, error TEXT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS findings (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, body BLOB NOT NULL)`,
}

// state is an auditor's database and the lock on its directory.
type state struct {
	db   *sql.DB
	lock *os.File
}

// openState opens (creating it if needed) the state in dir and locks it
// against a second auditor.
func openState(ctx context.Context, dir string) (*state, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("audit: %s is in use by another auditor", dir)
	}
	st, err := openDB(ctx, filepath.Join(dir, StateFile), false)
	if err != nil {
		lock.Close()
		return nil, err
	}
	st.lock = lock
	return st, nil
}

// openDB opens the database, read-only for reports.
func openDB(ctx context.Context, path string, readOnly bool) (*state, error) {
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	if readOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("audit: no audit state: %w", err)
		}
		dsn = "file:" + path + "?mode=ro&_pragma=busy_timeout(10000)"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	if !readOnly {
		for _, q := range schema {
			if _, err := db.ExecContext(ctx, q); err != nil {
				db.Close()
				return nil, fmt.Errorf("audit: state database %s: %w", path, err)
			}
		}
	}
	return &state{db: db}, nil
}

func (s *state) close() error {
	err := s.db.Close()
	if s.lock != nil {
		s.lock.Close()
	}
	return err
}

// bind ties the state to one log: a state that audits another log, or the
// same origin under another key, is refused.
func (s *state) bind(ctx context.Context, origin, vkey string) error {
	for name, want := range map[string]string{"origin": origin, "vkey": vkey} {
		got, err := s.meta(ctx, s.db, name)
		if err != nil {
			return err
		}
		if got == "" {
			if _, err := s.db.ExecContext(ctx, `INSERT INTO meta (name, value) VALUES (?, ?)`, name, want); err != nil {
				return err
			}
		} else if got != want {
			return fmt.Errorf("audit: this state audits the log %s (%s), not %s", name, got, want)
		}
	}
	return nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *state) meta(ctx context.Context, q querier, name string) (string, error) {
	var v string
	err := q.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// head is the newest verified checkpoint and the audit's position in it.
type head struct {
	Size   int64
	Hash   []byte
	Signed []byte
	Next   int64 // entries [0, Next) are processed
}

func (s *state) head(ctx context.Context) (head, bool, error) {
	var h head
	err := s.db.QueryRowContext(ctx, `SELECT size, hash, signed, next FROM head WHERE id = 1`).Scan(&h.Size, &h.Hash, &h.Signed, &h.Next)
	if errors.Is(err, sql.ErrNoRows) {
		return head{}, false, nil
	}
	return h, err == nil, err
}

// adopt records a newly verified checkpoint, keeping the position.
func (s *state) adopt(ctx context.Context, size int64, hash, signed []byte) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO head (id, size, hash, signed, next) VALUES (1, ?, ?, ?, 0)
		ON CONFLICT (id) DO UPDATE SET size = excluded.size, hash = excluded.hash, signed = excluded.signed`, size, hash, signed)
	return err
}

func (s *state) key(ctx context.Context, fpr string) ([]byte, error) {
	var armored []byte
	err := s.db.QueryRowContext(ctx, `SELECT armored FROM keys WHERE fingerprint = ?`, fpr).Scan(&armored)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return armored, err
}

func (s *state) putKey(ctx context.Context, fpr string, armored []byte) error {
	_, err := s.db.ExecContext(ctx, `INSERT OR IGNORE INTO keys (fingerprint, armored) VALUES (?, ?)`, fpr, armored)
	return err
}

// addFinding records f under key, once: a finding with the same key is
// not recorded again.
func addFinding(ctx context.Context, tx *sql.Tx, key string, f Finding) error {
	f.ID = 0
	body, err := json.Marshal(f)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT OR IGNORE INTO findings (key, kind, body) VALUES (?, ?, ?)`, key, string(f.Kind), body)
	return err
}

// findings returns the findings numbered after id, in order.
func (s *state) findings(ctx context.Context, after int64) ([]Finding, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, body FROM findings WHERE id > ? ORDER BY id`, after)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Finding
	for rows.Next() {
		var (
			id   int64
			body []byte
			f    Finding
		)
		if err := rows.Scan(&id, &body); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(body, &f); err != nil {
			return nil, fmt.Errorf("audit: finding %d in the state: %w", id, err)
		}
		f.ID = id
		out = append(out, f)
	}
	return out, rows.Err()
}

const deliveredKey = "delivered"

func (s *state) delivered(ctx context.Context) (int64, error) {
	v, err := s.meta(ctx, s.db, deliveredKey)
	if err != nil || v == "" {
		return 0, err
	}
	return strconv.ParseInt(v, 10, 64)
}

func (s *state) setDelivered(ctx context.Context, id int64) error {
	return s.setMeta(ctx, deliveredKey, id)
}

// setMeta records a number in meta.
func (s *state) setMeta(ctx context.Context, name string, v int64) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO meta (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, strconv.FormatInt(v, 10))
	return err
}

// countFailures counts one more Sync in which the log answered each path
// with the error, and returns how many there have been.
func (s *state) countFailures(ctx context.Context, errs map[string]error) (map[string]int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	n := map[string]int{}
	for path, e := range errs {
		var c int
		if err := tx.QueryRowContext(ctx, `INSERT INTO failures (path, attempts, error) VALUES (?, 1, ?)
			ON CONFLICT (path) DO UPDATE SET attempts = attempts + 1, error = excluded.error RETURNING attempts`, path, e.Error()).Scan(&c); err != nil {
			return nil, err
		}
		n[path] = c
	}
	return n, tx.Commit()
}
