// Package logtest runs a real reprolog log for tests, served over HTTP on
// 127.0.0.1: by default Tessera POSIX storage and SQLite in a temporary
// directory; on MySQL or MariaDB, a fresh database per log, when a test
// binary runs its tests on every backend (RunBackends) and MySQLEnv names a
// server.
package logtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"k8s.io/klog/v2"

	rlog "github.com/reprolog/reprolog/log"
)

func init() {
	// Tessera logs through klog; tests keep quiet.
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
}

// Log is a running log.
type Log struct {
	URL    string // http://127.0.0.1:PORT
	VKey   string // the log's verifier key
	Origin string
	Dir    string // the data directory: the checkpoint key, and the embedded storage
	DSN    string // the MySQL database, on the MySQL backend
	Server *rlog.Server

	srv *http.Server
}

// Option changes the Config before the log starts.
type Option func(*rlog.Config)

// Start runs a log until the test ends.
func Start(t testing.TB, opts ...Option) *Log {
	t.Helper()
	dir := t.TempDir()
	return StartDir(t, dir, opts...)
}

// StartDir runs a log on an existing data directory until the test ends
// or Stop is called. On MySQL, a directory that a running log uses gives
// a second front end of that log: the same key and database.
func StartDir(t testing.TB, dir string, opts ...Option) *Log {
	t.Helper()
	ctx := context.Background()
	cfg, dsn, err := setup(t, ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if Current() == Embedded {
		cfg.CheckpointInterval = 100 * time.Millisecond
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, o := range opts {
		o(&cfg)
	}
	s, err := rlog.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &Log{URL: "http://" + ln.Addr().String(), VKey: s.VerifierKey(), Origin: s.Origin(), Dir: dir, DSN: dsn, Server: s,
		srv: &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}}
	go l.srv.Serve(ln)
	t.Cleanup(l.Stop)
	return l
}

// Stop shuts the log down; it is safe to call twice.
func (l *Log) Stop() {
	if l.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l.srv.Shutdown(ctx)
	l.Server.Close(ctx)
	l.srv = nil
}

// LargeBuildinfo returns the buildinfo text with extra Installed-Build-Depends
// entries, so that it is at least size bytes: a large, valid record to
// sign, as a build with a huge dependency closure gives.
func LargeBuildinfo(text []byte, size int) []byte {
	var deps strings.Builder
	deps.WriteString("Installed-Build-Depends:\n")
	for i := 0; len(text)+deps.Len() < size; i++ {
		fmt.Fprintf(&deps, " reprolog-large-test-dependency-%06d (= 1.0.%d-1),\n", i, i)
	}
	return bytes.Replace(text, []byte("Installed-Build-Depends:\n"), []byte(deps.String()), 1)
}

// Register registers an armored public key.
func (l *Log) Register(t testing.TB, armored []byte) string {
	t.Helper()
	var res rlog.KeyResult
	l.post(t, "/keys", armored, &res)
	return res.Fingerprint
}

// Submit submits a record and returns its index.
func (l *Log) Submit(t testing.TB, record []byte) uint64 {
	t.Helper()
	var res rlog.Result
	l.post(t, "/add", record, &res)
	return res.Index
}

func (l *Log) post(t testing.TB, path string, body []byte, v any) {
	t.Helper()
	resp, err := http.Post(l.URL+path, "text/plain", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST %s: %s: %s", path, resp.Status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(fmt.Errorf("POST %s: %v", path, err))
	}
}
