package logtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-sql-driver/mysql"

	rlog "github.com/reprolog/reprolog/log"
)

// MySQLEnv names the environment variable that points tests at a MySQL or
// MariaDB server: a go-sql-driver/mysql DSN of an account that may create
// and drop databases named reprolog_test_*, e.g.
// "reprolog_test:PASSWORD@tcp(127.0.0.1:3306)/". scripts/test sets it.
const MySQLEnv = "REPROLOG_TEST_MYSQL_DSN"

// Backend is where a test log keeps its entries, records and index.
type Backend string

const (
	// Embedded is the default: Tessera's POSIX storage and SQLite in the
	// data directory.
	Embedded Backend = "embedded"
	// MySQL keeps the log in a fresh MySQL database per log (per data
	// directory), dropped when the test ends; the checkpoint key stays in
	// the data directory.
	MySQL Backend = "mysql"
)

var current atomic.Value // Backend

// Current is the backend Start and StartDir use: Embedded unless
// RunBackends or Use chose another.
func Current() Backend {
	if b, ok := current.Load().(Backend); ok {
		return b
	}
	return Embedded
}

// Use makes Start and StartDir use b from now on.
func Use(b Backend) { current.Store(b) }

// Backends lists the backends tests can run on here: Embedded, and MySQL
// when MySQLEnv is set.
func Backends() []Backend {
	if os.Getenv(MySQLEnv) == "" {
		return []Backend{Embedded}
	}
	return []Backend{Embedded, MySQL}
}

// RunBackends runs a package's tests once on each of Backends and returns
// the exit code for os.Exit; call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(logtest.RunBackends(m)) }
//
// A fuzzing run (-test.fuzz) runs on the current backend only.
func RunBackends(m *testing.M) int {
	code := 0
	for i, b := range Backends() {
		if i > 0 && fuzzing() {
			break
		}
		Use(b)
		if i > 0 {
			fmt.Printf("logtest: the same tests on the %s backend (%s)\n", b, MySQLEnv)
		}
		if c := m.Run(); c != 0 {
			fmt.Printf("logtest: tests failed on the %s backend\n", b)
			code = c
		}
	}
	Use(Embedded)
	return code
}

func fuzzing() bool {
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "-test.fuzz=") && a != "-test.fuzz=" {
			return true
		}
	}
	return false
}

// dsnFile, in a MySQL test log's data directory, names its database, so
// that StartDir on the same directory opens the same log.
const dsnFile = "logtest-mysql.dsn"

// setup prepares a log in dir on the current backend; dsn names its MySQL
// database.
func setup(t testing.TB, ctx context.Context, dir string) (cfg rlog.Config, dsn string, err error) {
	if Current() != MySQL {
		cfg, err = rlog.SetupDir(ctx, dir, "reprolog.test/log")
		return cfg, "", err
	}
	raw, err := os.ReadFile(filepath.Join(dir, dsnFile))
	if errors.Is(err, os.ErrNotExist) {
		raw = []byte(NewDatabase(t))
		err = os.WriteFile(filepath.Join(dir, dsnFile), raw, 0o600)
	}
	if err != nil {
		return rlog.Config{}, "", err
	}
	cfg, err = rlog.SetupMySQL(ctx, dir, string(raw), "reprolog.test/log")
	return cfg, string(raw), err
}

// NewDatabase creates a fresh database on the server MySQLEnv names, drops
// it when the test ends, and returns its DSN. It skips the test when
// MySQLEnv is not set.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(MySQLEnv)
	if admin == "" {
		t.Skipf("no MySQL server: %s is not set", MySQLEnv)
	}
	cfg, err := mysql.ParseDSN(admin)
	if err != nil {
		t.Fatalf("%s: %v", MySQLEnv, err)
	}
	b := make([]byte, 8)
	rand.Read(b)
	name := "reprolog_test_" + hex.EncodeToString(b)
	db, err := sql.Open("mysql", admin)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE `" + name + "`"); err != nil {
		t.Fatalf("creating a test database on %s: %v", cfg.Addr, err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("mysql", admin)
		if err != nil {
			t.Error(err)
			return
		}
		defer db.Close()
		if _, err := db.Exec("DROP DATABASE IF EXISTS `" + name + "`"); err != nil {
			t.Errorf("dropping the test database %s: %v", name, err)
		}
	})
	cfg.DBName = name
	return cfg.FormatDSN()
}
