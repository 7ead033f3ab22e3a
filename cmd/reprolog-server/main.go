// Command reprolog-server runs a reprolog transparency log: rebuilders
// submit clear-signed .buildinfo records, everyone reads the log as C2SP
// tlog-tiles.
//
//	reprolog-server [--data DIR] [--listen ADDR] [--origin NAME]
//	                [--submitters KEYRING] [--witness-policy FILE]
//	                [--max-pending N] [--failure-rate R] [--failure-burst N]
//	                [--mysql DSN [--s3-bucket NAME [--s3-endpoint URL]]]
//
// On first start it creates the log's checkpoint key in DIR, writes its
// verifier key to DIR/log.pub and prints it. By default DIR holds the whole
// log; with --mysql (or REPROLOG_MYSQL_DSN) the log, its records, keys and
// index live in that MySQL or MariaDB database, and several front ends with
// the same key files in DIR serve one log. With --s3-bucket too, the log is
// on Tessera's AWS storage: the database sequences it, the bucket holds its
// tiles.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/transparency-dev/tessera"

	rlog "github.com/reprolog/reprolog/log"
	"github.com/reprolog/reprolog/pgp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "reprolog-server:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reprolog-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		dir        = fs.String("data", "./reprolog-data", "data directory: checkpoint key, tiles, database")
		listen     = fs.String("listen", "127.0.0.1:8080", "address to serve HTTP on")
		origin     = fs.String("origin", "", "the log's name, for a new log (default: HOSTNAME/reprolog)")
		submitters = fs.String("submitters", "", "keyring of the only rebuilders allowed to register (default: open registration)")
		witnesses  = fs.String("witness-policy", "", "C2SP tlog-policy file: witnesses that must cosign each checkpoint")
		interval   = fs.Duration("checkpoint-interval", time.Second, "how often to publish a checkpoint")
		maxRecord  = fs.Int64("max-record-size", rlog.DefaultMaxRecordSize, "largest record accepted, in bytes")
		maxPending = fs.Uint("max-pending", rlog.DefaultMaxPending, "submissions in progress (not yet in a published checkpoint) beyond which the log answers 503")
		rateLimit  = fs.Float64("rate-limit", 50, "submissions per second each builder may sustain (0: unlimited)")
		burst      = fs.Int("burst", 500, "submissions each builder may send at once")
		failRate   = fs.Float64("failure-rate", 1, "refused submissions and key registrations per second each client address may sustain (0: unlimited)")
		failBurst  = fs.Int("failure-burst", 100, "refused submissions and key registrations each client address may make at once")
		readHeader = fs.Duration("read-header-timeout", 10*time.Second, "how long a client may take to send a request's headers")
		readAll    = fs.Duration("read-timeout", 30*time.Second, "how long a client may take to send a whole request, body included")
		mysqlDSN   = fs.String("mysql", os.Getenv("REPROLOG_MYSQL_DSN"),
			"keep the log in this MySQL/MariaDB database, user:password@tcp(host:3306)/dbname (default $REPROLOG_MYSQL_DSN); --data then holds only the checkpoint key")
		bucket rlog.Bucket
	)
	fs.StringVar(&bucket.Name, "s3-bucket", "", "with --mysql: keep the tiles in this S3 bucket (Tessera's AWS storage); credentials from the AWS environment")
	fs.StringVar(&bucket.Prefix, "s3-prefix", "", "with --s3-bucket: a prefix for the log's objects in the bucket")
	fs.StringVar(&bucket.Endpoint, "s3-endpoint", "", "with --s3-bucket: URL of an S3-compatible object store (default: Amazon S3)")
	fs.StringVar(&bucket.Region, "s3-region", "", "with --s3-bucket: the bucket's region (default: $AWS_REGION)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *maxPending == 0 {
		return errors.New("--max-pending must be at least 1")
	}
	// The operator's files are read before anything is created, so that a
	// mistake in one leaves no data directory behind.
	var allowed []*pgp.Key
	if *submitters != "" {
		raw, err := os.ReadFile(*submitters)
		if err != nil {
			return fmt.Errorf("--submitters: %v", err)
		}
		if allowed, err = pgp.ParseKeyring(raw, time.Now()); err != nil {
			return fmt.Errorf("--submitters %s: %v", *submitters, err)
		}
	}
	var group *tessera.WitnessGroup
	if *witnesses != "" {
		raw, err := os.ReadFile(*witnesses)
		if err != nil {
			return fmt.Errorf("--witness-policy: %v", err)
		}
		g, err := tessera.NewWitnessGroupFromPolicy(raw)
		if err != nil {
			return fmt.Errorf("--witness-policy %s: %v", *witnesses, err)
		}
		group = &g
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	cfg, err := setup(ctx, *dir, *mysqlDSN, bucket, *origin, *interval)
	if err != nil {
		return err
	}
	cfg.Logger = logger
	cfg.CheckpointInterval = *interval
	cfg.MaxRecordSize = *maxRecord
	cfg.MaxPending = *maxPending
	cfg.RatePerBuilder, cfg.BurstPerBuilder = *rateLimit, *burst
	cfg.FailureRatePerClient, cfg.FailureBurstPerClient = *failRate, *failBurst
	cfg.Submitters = allowed
	cfg.Witnesses = group
	s, err := rlog.New(ctx, cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		s.Close(context.Background())
		return err
	}
	fmt.Fprintf(stdout, "reprolog log %s on http://%s\nverifier key: %s\n", s.Origin(), ln.Addr(), s.VerifierKey())
	srv := &http.Server{
		Handler:           http.MaxBytesHandler(s.Handler(), 2*cfg.MaxRecordSize),
		ReadHeaderTimeout: *readHeader,
		ReadTimeout:       *readAll,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
		logger.Info("shutting down")
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv.Shutdown(shutdownCtx)
	if closeErr := s.Close(shutdownCtx); closeErr != nil {
		logger.Warn("closing the log", "error", closeErr)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// setup prepares the storage: the data directory, a MySQL database, or a
// MySQL database and an S3 bucket.
func setup(ctx context.Context, dir, dsn string, b rlog.Bucket, origin string, interval time.Duration) (rlog.Config, error) {
	if b.Name == "" && (b.Prefix != "" || b.Endpoint != "" || b.Region != "") {
		return rlog.Config{}, errors.New("--s3-prefix, --s3-endpoint and --s3-region need --s3-bucket")
	}
	if dsn == "" {
		if b.Name != "" {
			return rlog.Config{}, errors.New("--s3-bucket needs --mysql: the database sequences the log and keeps its records")
		}
		return rlog.SetupDir(ctx, dir, origin)
	}
	if interval < rlog.MySQLMinCheckpointInterval {
		return rlog.Config{}, fmt.Errorf("--checkpoint-interval %v: the MySQL storage publishes at most every %v", interval, rlog.MySQLMinCheckpointInterval)
	}
	if b.Name != "" {
		return rlog.SetupAWS(ctx, dir, dsn, b, origin)
	}
	return rlog.SetupMySQL(ctx, dir, dsn, origin)
}
