package witness

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"
	_ "modernc.org/sqlite" // the embedded SQLite driver
)

// emptyTreeHash is the RFC 6962 hash of the empty tree, SHA-256 of nothing:
// the state of a log the witness has not seen yet.
var emptyTreeHash = tlog.Hash(sha256.Sum256(nil))

// LogState is the latest checkpoint a witness cosigned for a log.
type LogState struct {
	Size int64
	Hash tlog.Hash
	// Checkpoint is the signed checkpoint with the log's signatures that
	// verified; empty while the witness has cosigned nothing for the log
	// (size 0).
	Checkpoint []byte
	// Cosigned is Checkpoint followed by the cosignature the witness
	// answered with; empty if the witness kept none (size 0, or a state
	// from a version of the witness that did not keep it).
	Cosigned []byte
}

// store keeps each log's latest cosigned checkpoint in SQLite. Every update
// is a compare-and-swap on the previous size and hash, so that two
// concurrent requests can never roll the state back.
type store struct {
	db *sql.DB
}

const schema = `
CREATE TABLE IF NOT EXISTS log (
	origin     TEXT PRIMARY KEY,
	tree_size  INTEGER NOT NULL,
	tree_hash  TEXT NOT NULL,  -- base64
	checkpoint BLOB NOT NULL,  -- signed checkpoint, empty at size 0
	cosigned   BLOB NOT NULL DEFAULT x'' -- checkpoint and the witness's cosignature
) STRICT;
CREATE TABLE IF NOT EXISTS evidence (
	id       INTEGER PRIMARY KEY,
	origin   TEXT NOT NULL,
	kind     TEXT NOT NULL,
	held     BLOB NOT NULL,
	received BLOB NOT NULL,
	request  BLOB NOT NULL,
	observed INTEGER NOT NULL, -- Unix seconds
	UNIQUE (origin, kind, received)
) STRICT;
`

// openStore opens (creating if needed) the database at path. Commits are
// durable when they return: WAL journal with synchronous=FULL.
func openStore(path string) (*store, error) {
	if path == "" || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("witness: invalid database path %q", path)
	}
	db, err := sql.Open("sqlite", path+"?_busy_timeout=10000&_journal_mode=WAL&_synchronous=FULL")
	if err != nil {
		return nil, fmt.Errorf("witness: opening database %s: %w", path, err)
	}
	// One connection: SQLite has one writer anyway, and this keeps busy
	// errors out of the request path. The compare-and-swap, not this, is
	// what keeps concurrent requests safe.
	db.SetMaxOpenConns(1)
	if err := initSchema(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("witness: initializing database %s: %w", path, err)
	}
	return &store{db: db}, nil
}

// initSchema creates the tables, and adds the cosigned column to a
// database made before the witness kept its cosignatures.
func initSchema(db *sql.DB) error {
	if _, err := db.Exec(schema); err != nil {
		return err
	}
	var n int
	err := db.QueryRow(`SELECT count(*) FROM pragma_table_info('log') WHERE name = 'cosigned'`).Scan(&n)
	if err == nil && n == 0 {
		_, err = db.Exec(`ALTER TABLE log ADD COLUMN cosigned BLOB NOT NULL DEFAULT x''`)
	}
	return err
}

func (s *store) close() error { return s.db.Close() }

// addLog records origin at size 0 unless the witness already knows it.
func (s *store) addLog(ctx context.Context, origin string) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO log (origin, tree_size, tree_hash, checkpoint) VALUES (?, 0, ?, x'')
		 ON CONFLICT (origin) DO NOTHING`, origin, emptyTreeHash.String())
	return err
}

var errNoState = errors.New("witness: no state for log")

func (s *store) get(ctx context.Context, origin string) (LogState, error) {
	var st LogState
	var hash string
	err := s.db.QueryRowContext(ctx,
		`SELECT tree_size, tree_hash, checkpoint, cosigned FROM log WHERE origin = ?`, origin).
		Scan(&st.Size, &hash, &st.Checkpoint, &st.Cosigned)
	if errors.Is(err, sql.ErrNoRows) {
		return LogState{}, errNoState
	}
	if err != nil {
		return LogState{}, err
	}
	if st.Hash, err = tlog.ParseHash(hash); err != nil {
		return LogState{}, fmt.Errorf("witness: stored hash for %q: %w", origin, err)
	}
	return st, nil
}

// compareAndSwap replaces origin's state with next only if it is still old,
// and reports whether it did.
func (s *store) compareAndSwap(ctx context.Context, origin string, old, next LogState) (bool, error) {
	res, err := s.db.ExecContext(ctx,
		`UPDATE log SET tree_size = ?, tree_hash = ?, checkpoint = ?, cosigned = ?
		 WHERE origin = ? AND tree_size = ? AND tree_hash = ?`,
		next.Size, next.Hash.String(), next.Checkpoint, nonNil(next.Cosigned),
		origin, old.Size, old.Hash.String())
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

func (s *store) addEvidence(ctx context.Context, e Evidence) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO evidence (origin, kind, held, received, request, observed)
		 SELECT ?, ?, ?, ?, ?, ?
		 WHERE (SELECT count(*) FROM evidence WHERE origin = ? AND kind = ?) < ?
		 ON CONFLICT DO NOTHING`,
		e.Origin, e.Kind, nonNil(e.Held), e.Received, e.Request, e.Observed.Unix(),
		e.Origin, e.Kind, maxEvidencePerKind)
	return err
}

func (s *store) evidence(ctx context.Context) ([]Evidence, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT origin, kind, held, received, request, observed FROM evidence ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Evidence
	for rows.Next() {
		var e Evidence
		var t int64
		if err := rows.Scan(&e.Origin, &e.Kind, &e.Held, &e.Received, &e.Request, &t); err != nil {
			return nil, err
		}
		e.Observed = time.Unix(t, 0)
		out = append(out, e)
	}
	return out, rows.Err()
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
