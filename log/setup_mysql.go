package log

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/go-sql-driver/mysql"
	tmysql "github.com/transparency-dev/tessera/storage/mysql"
)

// MySQLMinCheckpointInterval is the shortest checkpoint interval Tessera's
// MySQL driver accepts.
const MySQLMinCheckpointInterval = time.Second

// mysqlConns bounds the connections of one front end, shared by Tessera
// and the store: several front ends share one server, whose default limit
// is 151 connections.
const mysqlConns = 48

// tesseraMySQLSchema is the schema Tessera's MySQL driver (storage/mysql,
// compatibility version 1) works on; the driver documents it in its
// schema.sql and expects the operator to apply it. Every statement is
// idempotent, so front ends starting together may all apply it.
//
//   - Tessera: one row, the schema's compatibility version, checked by the
//     driver at start.
//   - Checkpoint: one row, the latest published checkpoint and when it was
//     published (milliseconds since the epoch).
//   - TreeState: one row, the integrated tree's size and root hash.
//   - Subtree: the hash tiles, one row per tile, rewritten until full.
//   - TiledLeaves: the entry bundles, one row per bundle.
var tesseraMySQLSchema = []string{
	"CREATE TABLE IF NOT EXISTS `Tessera` (" +
		"`id` TINYINT UNSIGNED NOT NULL, " +
		"`compatibilityVersion` BIGINT UNSIGNED NOT NULL, " +
		"PRIMARY KEY (`id`))",
	"INSERT IGNORE INTO `Tessera` (`id`, `compatibilityVersion`) VALUES (0, 1)",
	"CREATE TABLE IF NOT EXISTS `Checkpoint` (" +
		"`id` TINYINT UNSIGNED NOT NULL, " +
		"`note` MEDIUMBLOB NOT NULL, " +
		"`published_at` BIGINT NOT NULL, " +
		"PRIMARY KEY (`id`))",
	"CREATE TABLE IF NOT EXISTS `TreeState` (" +
		"`id` TINYINT UNSIGNED NOT NULL, " +
		"`size` BIGINT UNSIGNED NOT NULL, " +
		"`root` TINYBLOB NOT NULL, " +
		"PRIMARY KEY (`id`))",
	"CREATE TABLE IF NOT EXISTS `Subtree` (" +
		"`level` TINYINT UNSIGNED NOT NULL, " +
		"`index` BIGINT UNSIGNED NOT NULL, " +
		"`nodes` MEDIUMBLOB NOT NULL, " +
		"PRIMARY KEY (`level`, `index`))",
	"CREATE TABLE IF NOT EXISTS `TiledLeaves` (" +
		"`tile_index` BIGINT UNSIGNED NOT NULL, " +
		"`size` SMALLINT UNSIGNED NOT NULL, " +
		"`data` LONGBLOB NOT NULL, " +
		"PRIMARY KEY (`tile_index`))",
}

// SetupMySQL prepares a log kept in a MySQL or MariaDB database: Tessera's
// MySQL storage, and the records, keys and lookup index, all in the
// database dsn names (go-sql-driver/mysql form,
// "user:password@tcp(host:3306)/dbname"). It applies the schemas, so the
// database only has to exist. The checkpoint key stays in dir: every front
// end of one log needs the same key files there. origin may be empty (see
// LoadOrCreateKey). The caller fills in the rest of the Config and keeps
// CheckpointInterval at MySQLMinCheckpointInterval or more.
func SetupMySQL(ctx context.Context, dir, dsn, origin string) (Config, error) {
	db, err := openMySQLDB(dsn)
	if err != nil {
		return Config{}, err
	}
	cfg, err := setupMySQL(ctx, dir, db, origin)
	if err != nil {
		db.Close()
	}
	return cfg, err
}

func setupMySQL(ctx context.Context, dir string, db *sql.DB, origin string) (Config, error) {
	// The tiles are in this database: refuse one whose log keeps them in
	// a bucket (SetupAWS), before Tessera's tables are added to it.
	cfg, err := openDatabaseLog(ctx, dir, db, origin, "mysql")
	if err != nil {
		return Config{}, err
	}
	if err := applyTesseraSchema(ctx, db); err != nil {
		return Config{}, err
	}
	driver, err := tmysql.New(ctx, db)
	if err != nil {
		return Config{}, fmt.Errorf("tessera MySQL storage: %v", err)
	}
	cfg.Driver = driver
	return cfg, nil
}

// openDatabaseLog loads (or, for a database that holds no log yet,
// creates) the checkpoint key in dir and opens the store in db, which
// must keep its log's tiles where tiles says: "mysql", or a bucket.
func openDatabaseLog(ctx context.Context, dir string, db *sql.DB, origin, tiles string) (Config, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Config{}, err
	}
	signer, vkey, err := loadOrCreateKey(dir, origin, DefaultOrigin(), func() (string, error) { return mysqlLog(ctx, db) })
	if err != nil {
		return Config{}, err
	}
	// The store shares the connections; closing it, after Tessera has
	// stopped, closes them.
	store, err := openStore(ctx, db, mysqlDialect)
	if err != nil {
		return Config{}, err
	}
	if err := store.SetMeta(ctx, "tiles", tiles); err != nil {
		return Config{}, fmt.Errorf("MySQL database: %v", err)
	}
	return Config{Signer: signer, VerifierKey: vkey, Store: store, CheckpointInterval: MySQLMinCheckpointInterval}, nil
}

// mysqlLog names the log the database holds, "" when it holds none.
func mysqlLog(ctx context.Context, db *sql.DB) (string, error) {
	var origin string
	err := db.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = 'origin'`).Scan(&origin)
	var me *mysql.MySQLError
	switch {
	case errors.Is(err, sql.ErrNoRows), errors.As(err, &me) && me.Number == 1146: // no such table
		return "", nil
	case err != nil:
		return "", fmt.Errorf("MySQL database: %w", err)
	}
	return fmt.Sprintf("the MySQL database (the log %q)", origin), nil
}

// openMySQLDB opens the database dsn names, with a bounded pool.
func openMySQLDB(dsn string) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("MySQL DSN: %v", err)
	}
	if cfg.DBName == "" {
		return nil, errors.New("MySQL DSN names no database (user:password@tcp(host:3306)/dbname)")
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("MySQL DSN: %v", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(mysqlConns)
	db.SetMaxIdleConns(mysqlConns)
	db.SetConnMaxIdleTime(time.Minute)
	return db, nil
}

func applyTesseraSchema(ctx context.Context, db *sql.DB) error {
	for _, q := range tesseraMySQLSchema {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("MySQL database: Tessera's schema: %w", err)
		}
	}
	return nil
}
