package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/reprolog/reprolog/bench"
	rlog "github.com/reprolog/reprolog/log"
)

// bencher runs the rows of the table.
type bencher struct {
	o     options
	log   io.Writer
	exe   string
	notes []string

	ingestRebs []*bench.Rebuilder // half Ed25519, half RSA-4096
	fillRebs   []*bench.Rebuilder // the rebuilders of the large log
}

func (b *bencher) setup() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	b.exe = exe
	b.progress("generating rebuilder keys")
	for i := range 8 {
		kt := bench.Ed25519
		if i%2 == 1 {
			kt = bench.RSA4096
		}
		r, err := bench.NewRebuilder(fmt.Sprintf("ingest-%d", i), kt)
		if err != nil {
			return err
		}
		b.ingestRebs = append(b.ingestRebs, r)
	}
	for i := range 16 {
		kt := bench.Ed25519
		if i%8 == 7 {
			kt = bench.RSA4096
		}
		r, err := bench.NewRebuilder(fmt.Sprintf("rebuilder-%d", i), kt)
		if err != nil {
			return err
		}
		b.fillRebs = append(b.fillRebs, r)
	}
	return nil
}

func (b *bencher) ingestKeys() string {
	return fmt.Sprintf("%d rebuilders (half Ed25519, half RSA-4096 keys)", len(b.ingestRebs))
}

// fillKeys says which keys sign the records of the logs the decision,
// audit and memory rows use.
func (b *bencher) fillKeys() string {
	n := map[bench.KeyType]int{}
	for _, r := range b.fillRebs {
		n[r.Type]++
	}
	return fmt.Sprintf("%d Ed25519, %d RSA-4096 keys", n[bench.Ed25519], n[bench.RSA4096])
}

func (b *bencher) progress(format string, args ...any) {
	fmt.Fprintf(b.log, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func (b *bencher) all(ctx context.Context) ([]bench.Row, error) {
	if b.o.decisionsOnly {
		return b.logRows(ctx)
	}
	rows, err := b.ingest(ctx)
	if err != nil || b.o.ingestOnly {
		return rows, err
	}
	more, err := b.logRows(ctx)
	return append(rows, more...), err
}

// ingest measures end-to-end submissions over HTTP beside bare Tessera on
// the same storage and OpenPGP verification alone, on each backend.
func (b *bencher) ingest(ctx context.Context) ([]bench.Row, error) {
	w := &bench.World{Sources: 1 << 20, Rebuilders: len(b.ingestRebs)}
	b.progress("signing %d records", b.o.n)
	records, err := bench.Sign(w, b.ingestRebs, 0, b.o.n)
	if err != nil {
		return nil, err
	}
	by := bench.SignedBy(b.ingestRebs, 0, b.o.n)
	b.progress("verifying them alone")
	verify := map[bench.KeyType]bench.Rate{}
	for _, kt := range []bench.KeyType{bench.Ed25519, bench.RSA4096} {
		var recs [][]byte
		var keys []*bench.Rebuilder
		for i, r := range by {
			if r.Type == kt {
				recs, keys = append(recs, records[i]), append(keys, r)
			}
		}
		if verify[kt], err = bench.VerifyAlone(recs, keys); err != nil {
			return nil, err
		}
	}
	mix, err := bench.VerifyAlone(records, by)
	if err != nil {
		return nil, err
	}
	statements, err := bench.Statements(records, by)
	if err != nil {
		return nil, err
	}
	rows := []bench.Row{{
		Figure:   fmt.Sprintf("OpenPGP verification alone, %d cores", b.cores()),
		Measured: fmt.Sprintf("Ed25519 %s, RSA-4096 %s, the ingest mix %s", bench.PerSec(verify[bench.Ed25519]), bench.PerSec(verify[bench.RSA4096]), bench.PerSec(mix)),
		Bound:    "CPU",
		Target:   "",
	}}

	// The configured interval, and a short one where the interval does
	// not bound the rate; MySQL publishes at most every second.
	type run struct {
		backend  string
		interval time.Duration
	}
	runs := []run{{"embedded", b.o.interval}}
	if b.o.interval > fillInterval {
		runs = append(runs, run{"embedded", fillInterval})
	}
	if b.o.mysql != "" {
		runs = append(runs, run{"mysql", max(b.o.interval, rlog.MySQLMinCheckpointInterval)})
	}
	for i, r := range runs {
		row, err := b.ingestOn(ctx, r.backend, r.interval, i == 0, records, statements, mix)
		if err != nil {
			return rows, fmt.Errorf("ingest on %s: %w", r.backend, err)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func (b *bencher) cores() int { return runtime.GOMAXPROCS(0) }

func (b *bencher) ingestOn(ctx context.Context, backend string, interval time.Duration, profile bool, records, statements [][]byte, verify bench.Rate) (bench.Row, error) {
	dir := filepath.Join(b.o.work, fmt.Sprintf("ingest-%s-%v", backend, interval))
	cfg := bench.ServeConfig{Dir: filepath.Join(dir, "server"), CheckpointInterval: interval, Pprof: profile && b.o.profile != ""}
	var driverSetup func() (rlog.Config, error)
	storage := "Tessera POSIX + SQLite"
	if backend == "mysql" {
		storage = "Tessera MySQL + MySQL"
		tdb, err := b.database()
		if err != nil {
			return bench.Row{}, err
		}
		if cfg.MySQL, err = b.database(); err != nil {
			return bench.Row{}, err
		}
		driverSetup = func() (rlog.Config, error) {
			return rlog.SetupMySQL(ctx, filepath.Join(dir, "tessera"), tdb, "bench.reprolog/log")
		}
	} else {
		driverSetup = func() (rlog.Config, error) {
			return rlog.SetupDir(ctx, filepath.Join(dir, "tessera"), "bench.reprolog/log")
		}
	}

	b.progress("%s, checkpoint every %v: bare Tessera, %d appenders", backend, interval, b.o.workers)
	tcfg, err := driverSetup()
	if err != nil {
		return bench.Row{}, err
	}
	tessera, err := bench.TesseraAlone(ctx, tcfg.Driver, tcfg.Signer, interval, statements, b.o.workers)
	tcfg.Store.Close()
	if err != nil {
		return bench.Row{}, err
	}

	b.progress("%s, checkpoint every %v: the server over HTTP, %d submitters", backend, interval, b.o.workers)
	p, err := bench.Start(b.exe, cfg)
	if err != nil {
		return bench.Row{}, err
	}
	defer p.Stop()
	if err := bench.Register(ctx, p.URL, b.ingestRebs); err != nil {
		return bench.Row{}, err
	}
	if cfg.Pprof {
		go b.cpuProfile(p.URL, estimate(len(records), tessera))
	}
	server, err := bench.Submit(ctx, p.URL, records, b.o.workers)
	if err != nil {
		return bench.Row{}, err
	}
	bound := min(tessera.PerSecond(), verify.PerSecond())
	ratio := server.PerSecond() / bound
	met := "met"
	if ratio < 0.7 {
		met = "NOT met"
	}
	return bench.Row{
		Figure: fmt.Sprintf("ingest, %s: signed submissions over HTTP, %d submitters, checkpoint every %v", storage, b.o.workers, interval),
		Measured: fmt.Sprintf("%s (answer p50 %v, p99 %v%s)", bench.PerSec(server), server.P50.Round(time.Millisecond),
			server.P99.Round(time.Millisecond), retries(server)),
		Bound: fmt.Sprintf("bare Tessera %s (p50 %v); verification alone %s", bench.PerSec(tessera),
			tessera.P50.Round(time.Millisecond), bench.PerSec(verify)),
		Target: fmt.Sprintf(">= 70%% of %.0f/s: %.0f%%, %s", bound, 100*ratio, met),
	}, nil
}

func retries(r bench.Rate) string {
	if r.Retries == 0 {
		return ""
	}
	return fmt.Sprintf(", %d pushed back", r.Retries)
}

// estimate guesses how long n submissions take at the rate of r.
func estimate(n int, r bench.Rate) time.Duration {
	return time.Duration(float64(n) / r.PerSecond() * float64(time.Second))
}

// cpuProfile records the server's CPU profile in the middle of a run
// expected to last about d.
func (b *bencher) cpuProfile(url string, d time.Duration) {
	time.Sleep(d / 5)
	secs := max(1, int(d.Seconds()/2))
	resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", url, secs))
	if err != nil {
		b.progress("profile: %v", err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(b.o.profile)
	if err != nil {
		b.progress("profile: %v", err)
		return
	}
	defer f.Close()
	io.Copy(f, resp.Body)
	b.notes = append(b.notes, fmt.Sprintf("CPU profile of the server during %ds of the embedded ingest: go tool pprof %s", secs, b.o.profile))
}

// database creates a fresh database on the --mysql server, dropped when
// the program ends, and returns its DSN.
func (b *bencher) database() (string, error) {
	cfg, err := mysql.ParseDSN(b.o.mysql)
	if err != nil {
		return "", fmt.Errorf("--mysql: %v", err)
	}
	db, err := sql.Open("mysql", b.o.mysql)
	if err != nil {
		return "", err
	}
	defer db.Close()
	name := fmt.Sprintf("reprolog_test_bench_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	if _, err := db.Exec("CREATE DATABASE `" + name + "`"); err != nil {
		return "", fmt.Errorf("--mysql: creating a database: %v", err)
	}
	dropAtExit = append(dropAtExit, func() {
		if db, err := sql.Open("mysql", b.o.mysql); err == nil {
			db.Exec("DROP DATABASE IF EXISTS `" + name + "`")
			db.Close()
		}
	})
	cfg.DBName = name
	return cfg.FormatDSN(), nil
}

var dropAtExit []func()
