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
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/reprolog/reprolog/internal/testenv"
	rlog "github.com/reprolog/reprolog/log"
)

// MySQLEnv names the environment variable that points tests at a MySQL or
// MariaDB server: a go-sql-driver/mysql DSN of an account that may create
// and drop databases named reprolog_test_*, e.g.
// "reprolog_test:PASSWORD@tcp(127.0.0.1:3306)/". scripts/test sets it.
const MySQLEnv = "REPROLOG_TEST_MYSQL_DSN"

// S3Env names the environment variable that points tests at an
// S3-compatible object store, as a URL with the credentials in it:
// "http://ACCESS_KEY:SECRET_KEY@127.0.0.1:PORT". Together with MySQLEnv it
// runs the tests on Tessera's AWS storage too. scripts/test sets it.
const S3Env = "REPROLOG_TEST_S3"

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
	// AWS keeps the log in Tessera's AWS storage: a fresh MySQL database
	// to sequence it and hold the records and index, and a fresh bucket
	// of the object store S3Env names for its tiles.
	AWS Backend = "aws"
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

// BackendsEnv, when set, picks some of the backends, e.g.
// REPROLOG_TEST_BACKENDS=aws to run only on Tessera's AWS storage.
const BackendsEnv = "REPROLOG_TEST_BACKENDS"

// Backends lists the backends tests can run on here: Embedded, MySQL
// when MySQLEnv is set, and AWS when S3Env is set too; only those that
// BackendsEnv names when it is set.
func Backends() []Backend {
	bs := []Backend{Embedded}
	if os.Getenv(MySQLEnv) != "" {
		bs = append(bs, MySQL)
		if os.Getenv(S3Env) != "" {
			bs = append(bs, AWS)
		}
	}
	pick := os.Getenv(BackendsEnv)
	if pick == "" {
		return bs
	}
	var picked []Backend
	for _, b := range bs {
		if slices.Contains(strings.Split(pick, ","), string(b)) {
			picked = append(picked, b)
		}
	}
	return picked
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
			fmt.Printf("logtest: the same tests on the %s backend\n", b)
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

// dsnFile and bucketFile, in a test log's data directory, name its
// database and bucket, so that StartDir on the same directory opens the
// same log.
const (
	dsnFile    = "logtest-mysql.dsn"
	bucketFile = "logtest-s3.bucket"
)

// setup prepares a log in dir on the current backend; dsn names its MySQL
// database.
func setup(t testing.TB, ctx context.Context, dir string) (cfg rlog.Config, dsn string, err error) {
	if Current() == Embedded {
		cfg, err = rlog.SetupDir(ctx, dir, "reprolog.test/log")
		return cfg, "", err
	}
	dsn, err = keep(dir, dsnFile, func() string { return NewDatabase(t) })
	if err != nil {
		return rlog.Config{}, "", err
	}
	if Current() == MySQL {
		cfg, err = rlog.SetupMySQL(ctx, dir, dsn, "reprolog.test/log")
		return cfg, dsn, err
	}
	name, err := keep(dir, bucketFile, func() string { return NewBucket(t).Name })
	if err != nil {
		return rlog.Config{}, "", err
	}
	b := S3Bucket(t)
	b.Name = name
	cfg, err = rlog.SetupAWS(ctx, dir, dsn, b, "reprolog.test/log")
	return cfg, dsn, err
}

// keep returns what file in dir holds, first writing what create returns
// when there is no such file: the database or bucket of a test log, so
// that StartDir on the same directory opens the same log.
func keep(dir, file string, create func() string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(dir, file))
	if errors.Is(err, os.ErrNotExist) {
		raw = []byte(create())
		err = os.WriteFile(filepath.Join(dir, file), raw, 0o600)
	}
	return string(raw), err
}

// NewDatabase creates a fresh database on the server MySQLEnv names, drops
// it when the test ends, and returns its DSN. It skips the test when
// MySQLEnv is not set.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(MySQLEnv)
	if admin == "" {
		testenv.Unavailable(t, "no MySQL server: %s is not set", MySQLEnv)
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

// Setup prepares the storage of the log in dir on the current backend, as
// StartDir does, without starting it: the same database and bucket for a
// directory that a test log used.
func Setup(t testing.TB, dir string) (rlog.Config, error) {
	t.Helper()
	cfg, _, err := setup(t, context.Background(), dir)
	return cfg, err
}
