package log

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/transparency-dev/tessera"
	"golang.org/x/mod/sumdb/note"

	"github.com/reprolog/reprolog/pgp"
)

// Config configures a Server.
type Config struct {
	// Signer signs checkpoints; its name is the log's origin.
	Signer note.Signer
	// Verifier is the signer's verifier key (vkey), served at /log.pub.
	VerifierKey string
	// Driver is the Tessera storage: POSIX by default, MySQL for a log with
	// several front ends.
	Driver tessera.Driver
	// Store keeps records, keys and the lookup index.
	Store *Store
	// Submitters, when not nil, closes registration to these keys.
	Submitters []*pgp.Key
	// Witnesses, when set, must cosign every checkpoint before it is
	// published (Tessera's witness support).
	Witnesses *tessera.WitnessGroup
	// WitnessTimeout bounds the wait for witnesses (Tessera's default when 0).
	WitnessTimeout time.Duration
	// CheckpointInterval is how often a new checkpoint is published
	// (default 1s).
	CheckpointInterval time.Duration
	// MaxRecordSize bounds submitted records (default 4 MiB).
	MaxRecordSize int64
	// MaxPending bounds the submissions of new records in progress (stored
	// and appended, not yet covered by a published checkpoint): beyond it
	// the log answers 503 with Retry-After and stores nothing (default
	// DefaultMaxPending). Tessera's own pushback gets the same bound.
	MaxPending uint
	// RatePerBuilder bounds each builder's sustained submissions per
	// second (0: unlimited); BurstPerBuilder is how many may come at once.
	RatePerBuilder  float64
	BurstPerBuilder int
	// FailureRatePerClient bounds the refused submissions and key
	// registrations (400, 403, 413, 415) each client address may sustain
	// per second (0: unlimited); FailureBurstPerClient is how many it may
	// make at once. Beyond that, every request of the address to POST /add
	// and POST /keys is answered 429 with Retry-After, before its body is
	// read. An IPv6 client counts by its /64 network.
	FailureRatePerClient  float64
	FailureBurstPerClient int
	// Logger receives the server's log (slog.Default when nil).
	Logger *slog.Logger
}

// DefaultMaxRecordSize is the default bound on a submitted record.
const DefaultMaxRecordSize = 4 << 20

// DefaultMaxPending is the default bound on submissions in progress.
const DefaultMaxPending = 4096

// Server is a running log.
type Server struct {
	cfg      Config
	origin   string
	verifier note.Verifier
	log      *slog.Logger
	store    *Store
	keys     *keyring
	appender *tessera.Appender
	reader   tessera.LogReader
	awaiter  *tessera.PublicationAwaiter
	indexer  *indexer
	shutdown func(context.Context) error
	cancel   context.CancelFunc
	inflight singleflight
	pending  atomic.Int64 // submissions of new records in progress
	limit    *limiter     // submissions per builder
	failures *limiter     // refused requests per client address
	started  time.Time
}

// New starts a log: Tessera's appender on cfg.Driver, the lookup indexer,
// and the clean-up of submissions a crash interrupted.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.CheckpointInterval == 0 {
		cfg.CheckpointInterval = time.Second
	}
	if cfg.MaxRecordSize == 0 {
		cfg.MaxRecordSize = DefaultMaxRecordSize
	}
	if cfg.MaxPending == 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	v, err := note.NewVerifier(cfg.VerifierKey)
	if err != nil {
		return nil, fmt.Errorf("log verifier key: %v", err)
	}
	if v.Name() != cfg.Signer.Name() || v.KeyHash() != cfg.Signer.KeyHash() {
		return nil, errors.New("log verifier key does not match the signer")
	}
	// One database serves one log: refuse a database of another log.
	if err := cfg.Store.SetMeta(ctx, "origin", cfg.Signer.Name()); err != nil {
		return nil, err
	}
	if held, err := cfg.Store.Meta(ctx, "vkey"); err != nil {
		return nil, err
	} else if held != "" && held != cfg.VerifierKey {
		return nil, fmt.Errorf("the database belongs to the log whose verifier key is %s, not %s: %s and %s are another log's keys",
			held, cfg.VerifierKey, SignerKeyFile, VerifierKeyFile)
	}
	if err := cfg.Store.SetMeta(ctx, "vkey", cfg.VerifierKey); err != nil {
		return nil, err
	}
	keys, err := newKeyring(ctx, cfg.Store, cfg.Submitters)
	if err != nil {
		return nil, err
	}
	opts := tessera.NewAppendOptions().
		WithCheckpointSigner(cfg.Signer).
		WithCheckpointInterval(cfg.CheckpointInterval).
		WithAntispam(tessera.DefaultAntispamInMemorySize, nil).
		WithPushback(cfg.MaxPending)
	if cfg.Witnesses != nil {
		opts = opts.WithWitnesses(*cfg.Witnesses, &tessera.WitnessOptions{Timeout: cfg.WitnessTimeout})
	}
	runCtx, cancel := context.WithCancel(context.Background())
	appender, shutdown, reader, err := tessera.NewAppender(runCtx, cfg.Driver, opts)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("tessera: %v", err)
	}
	s := &Server{
		cfg: cfg, origin: cfg.Signer.Name(), verifier: v, log: cfg.Logger,
		store: cfg.Store, keys: keys, appender: appender, reader: reader,
		shutdown: shutdown, cancel: cancel, started: time.Now(),
		limit:    newLimiter(cfg.RatePerBuilder, cfg.BurstPerBuilder),
		failures: newLimiter(cfg.FailureRatePerClient, cfg.FailureBurstPerClient),
	}
	if err := s.checkExistingCheckpoint(ctx); err != nil {
		cancel()
		return nil, err
	}
	if err := s.backfillIdentities(ctx); err != nil {
		cancel()
		return nil, err
	}
	s.awaiter = tessera.NewPublicationAwaiter(runCtx, reader.ReadCheckpoint, 25*time.Millisecond)
	s.indexer = newIndexer(s, cfg.Logger)
	go s.indexer.run(runCtx)
	go s.dropInterrupted(runCtx)
	return s, nil
}

// checkExistingCheckpoint refuses storage that holds a log signed by
// another key or with another origin.
func (s *Server) checkExistingCheckpoint(ctx context.Context) error {
	cp, err := s.reader.ReadCheckpoint(ctx)
	if err != nil || len(cp) == 0 {
		return nil // a new log
	}
	if _, err := note.Open(cp, note.VerifierList(s.verifier)); err != nil {
		return fmt.Errorf("the storage holds a log that %s did not sign (another origin or key): %v", s.origin, err)
	}
	return nil
}

// dropInterrupted removes records whose submission a crash interrupted
// before their statement reached the log: once the index covers every
// entry sequenced so far, a pending record from before this start was
// never logged, and its submitter was never answered.
func (s *Server) dropInterrupted(ctx context.Context) {
	for {
		next, err := s.reader.NextIndex(ctx)
		if err == nil {
			if err = s.indexer.waitFor(ctx, next); err == nil {
				n, err := s.store.DropStalePending(ctx, s.started)
				if err == nil {
					if n > 0 {
						s.log.Info("dropped records of interrupted submissions", "count", n)
					}
					return
				}
			}
		}
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("clean-up of interrupted submissions", "error", err)
		time.Sleep(time.Second)
	}
}

// Origin is the log's origin line.
func (s *Server) Origin() string { return s.origin }

// VerifierKey is the log's verifier key.
func (s *Server) VerifierKey() string { return s.cfg.VerifierKey }

// Close stops accepting work, lets Tessera finish what it sequenced, and
// closes the store.
func (s *Server) Close(ctx context.Context) error {
	err := s.shutdown(ctx)
	s.cancel()
	s.indexer.stop()
	return errors.Join(err, s.store.Close())
}

// Handler is the HTTP API.
func (s *Server) Handler() http.Handler { return s.routes() }

// singleflight makes concurrent submissions of one record share one
// append. The append runs on its own, detached from the request that
// started it: a client that goes away does not cancel the work that others
// wait for, and each caller stops waiting when its own context ends.
type singleflight struct {
	mu sync.Mutex
	m  map[string]*flight
}

type flight struct {
	done chan struct{}
	res  *Result
	err  error
}

// flightTimeout bounds one append and its wait for publication.
const flightTimeout = 5 * time.Minute

func (g *singleflight) do(ctx context.Context, key string, fn func(context.Context) (*Result, error)) (*Result, error) {
	g.mu.Lock()
	if g.m == nil {
		g.m = map[string]*flight{}
	}
	f, ok := g.m[key]
	if !ok {
		f = &flight{done: make(chan struct{})}
		g.m[key] = f
		go func() {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flightTimeout)
			defer cancel()
			f.res, f.err = fn(fctx)
			g.mu.Lock()
			delete(g.m, key)
			g.mu.Unlock()
			close(f.done)
		}()
	}
	g.mu.Unlock()
	select {
	case <-f.done:
		return f.res, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
