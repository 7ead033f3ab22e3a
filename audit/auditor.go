package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"

	"github.com/reprolog/reprolog/pgp"
)

// Config configures an Auditor.
type Config struct {
	// Log is the log's URL, LogKey its checkpoint verifier key (a note
	// verifier key whose name is the log's origin).
	Log    string
	LogKey string
	// StateDir holds what the auditor learned (see StateFile).
	StateDir string
	// Quorum, when set, checks every checkpoint before it is used, for
	// example that witnesses cosigned it (witness.Policy.Verify). A
	// checkpoint it refuses is not used until a later one passes. It only
	// decides whether the audit moves on: a checkpoint signed by the log
	// that is inconsistent with the one held is a finding either way.
	Quorum func(signedCheckpoint []byte) error
	// Deliver receives each finding once it is recorded, in order. Until
	// Deliver returns nil for a finding, it is delivered again, from the
	// next Sync on (and after a restart), and the audit waits: it is for
	// what must not fall behind (printing the finding). A consumer that
	// may fail for a while without holding the audit up is a Notifier.
	Deliver func(Finding) error
	// Progress is called after each batch of entries.
	Progress func(Progress)
	// LookupSample is how many of the packages and sources named in a
	// batch are looked up in the log, to check that its answers name every
	// entry the auditor saw; 0 disables the check.
	LookupSample int
	// LookupRecheck is how many of the packages and sources named by
	// earlier entries are looked up again with each batch, to find an
	// entry the log's index drops later; 0 disables it.
	LookupRecheck int
	// Attempts is how many Syncs a record or a builder's key the log
	// answers with a server error (5xx), or a lookup it does not answer,
	// is tried in before it is a finding (default 5). Until then a record
	// holds the audit up (the Sync fails); a lookup does not.
	Attempts int
	// BatchSize is how many entries are committed together (default 1024).
	BatchSize int
	// Workers is how many records are fetched and checked at once
	// (default 16).
	Workers int
	// HTTPClient talks to the log (a client with a one-minute timeout when
	// nil).
	HTTPClient *http.Client
	// Logger receives notes that are not findings: a builder key revoked
	// since it signed, a lookup that failed (discarded when nil).
	Logger *slog.Logger
}

// Auditor follows one log. It is not safe for concurrent use, but for
// the Run of its Notifiers next to Sync.
type Auditor struct {
	cfg      Config
	verifier note.Verifier
	origin   string
	api      *fetcher
	tiles    torchwood.TileReader
	st       *state
	keys     keys
	log      *slog.Logger
	// lookupDown is set, for the rest of a Sync, once a lookup failed.
	lookupDown bool
	notifiers  []*Notifier
}

// Open opens the state in cfg.StateDir, creating it on first use. A state
// directory follows one log: Open refuses one made for another log or key,
// and one that another auditor has open.
func Open(ctx context.Context, cfg Config) (*Auditor, error) {
	v, err := note.NewVerifier(cfg.LogKey)
	if err != nil {
		return nil, fmt.Errorf("audit: log key: %v", err)
	}
	if !strings.HasPrefix(cfg.Log, "http://") && !strings.HasPrefix(cfg.Log, "https://") {
		return nil, fmt.Errorf("audit: log URL %q: want http:// or https://", cfg.Log)
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1024
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 5
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 16
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute}
	}
	rt := hc.Transport
	if rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		rt = t
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	base := strings.TrimSuffix(cfg.Log, "/")
	tf, err := torchwood.NewTileFetcher(base+"/",
		torchwood.WithHTTPClient(&http.Client{Transport: capTransport{rt, maxTileSize}, Timeout: hc.Timeout}),
		torchwood.WithUserAgent("reprolog-audit"), torchwood.WithConcurrencyLimit(8))
	if err != nil {
		return nil, err
	}
	st, err := openState(ctx, cfg.StateDir)
	if err != nil {
		return nil, err
	}
	if err := st.bind(ctx, v.Name(), cfg.LogKey); err != nil {
		st.close()
		return nil, err
	}
	return &Auditor{
		cfg: cfg, verifier: v, origin: v.Name(), log: logger, st: st, tiles: tf,
		api:  &fetcher{base: base, hc: &http.Client{Transport: rt, Timeout: hc.Timeout}, attempts: 4, pause: 500 * time.Millisecond},
		keys: keys{parsed: map[string]*pgp.Key{}, flight: map[string]*sync.Mutex{}},
	}, nil
}

// Close closes the state.
func (a *Auditor) Close() error { return a.st.close() }

// Result says what one Sync did.
type Result struct {
	// TreeSize is the size of the checkpoint the audit stands on, and
	// Position how many of its entries are processed.
	TreeSize, Position int64
	// Processed and Verified count the entries of this Sync, and those
	// whose record checked.
	Processed, Verified int64
	// Findings counts the findings delivered during this Sync, by kind.
	Findings map[Kind]int
	// Unused says why the log's newest checkpoint was not used when that
	// is not the log's fault (Config.Quorum refused it).
	Unused error
}

// Progress reports how far a Sync is.
type Progress struct {
	Position, TreeSize int64 // entries processed, of the checkpoint's
	Processed          int64 // in this Sync
	Elapsed            time.Duration
}

// Rate is the number of entries processed per second in this Sync.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Processed) / p.Elapsed.Seconds()
}

// Remaining estimates the time left to reach the checkpoint.
func (p Progress) Remaining() time.Duration {
	r := p.Rate()
	if r == 0 {
		return 0
	}
	return time.Duration(float64(p.TreeSize-p.Position) / r * float64(time.Second))
}

// Sync delivers any finding not delivered yet, fetches the log's
// checkpoint, verifies it against the last one, and processes every entry
// up to it. Findings about the log itself do not make it fail: it returns
// an error only when it could not do its work (the log unreachable, the
// state unwritable, Deliver failing), and a later Sync resumes.
func (a *Auditor) Sync(ctx context.Context) (*Result, error) {
	res := &Result{Findings: map[Kind]int{}}
	a.lookupDown = false
	if err := a.deliver(ctx, res); err != nil {
		return res, err
	}
	held, haveHead, err := a.st.head(ctx)
	if err != nil {
		return res, err
	}
	// When the log's checkpoint cannot be had, the entries of the one
	// held are still processed, and the error returned after.
	v, verr := a.verifyCheckpoint(ctx, held, haveHead)
	res.TreeSize, res.Position, res.Unused = v.tree.N, held.Next, v.unused
	if len(v.found) > 0 {
		if err := a.record(ctx, v.found, nil); err != nil {
			return res, err
		}
		if err := a.deliver(ctx, res); err != nil {
			return res, err
		}
	}
	if v.signed == nil {
		return res, verr // no checkpoint yet
	}
	if !haveHead || v.tree.N > held.Size {
		if err := a.st.adopt(ctx, v.tree.N, v.tree.Hash[:], v.signed); err != nil {
			return res, err
		}
	}
	if err := a.follow(ctx, v.tree, v.signed, held.Next, res); err != nil {
		return res, err
	}
	if err := a.recheck(ctx, v.signed, res); err != nil {
		return res, err
	}
	return res, verr
}

// record stores findings in one transaction; with Checkpoint set from
// signed when they name entries.
func (a *Auditor) record(ctx context.Context, found []keyed, signed []byte) error {
	tx, err := a.st.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, k := range found {
		if err := addFinding(ctx, tx, k.key, a.complete(k.f, signed)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// complete fills in what every finding carries.
func (a *Auditor) complete(f Finding, signed []byte) Finding {
	f.Log = a.origin
	f.Found = time.Now().UTC().Truncate(time.Second)
	if len(f.Entries) > 0 && signed != nil {
		f.Checkpoint = string(signed)
	}
	return f
}

// deliver hands the findings not delivered yet to cfg.Deliver, in order.
func (a *Auditor) deliver(ctx context.Context, res *Result) error {
	last, err := a.st.delivered(ctx)
	if err != nil {
		return err
	}
	fs, err := a.st.findings(ctx, last)
	if err != nil {
		return err
	}
	for _, f := range fs {
		// Stop between findings, never between delivering one and
		// recording it: a stopped audit delivers each finding once.
		if err := ctx.Err(); err != nil {
			return err
		}
		if a.cfg.Deliver != nil {
			if err := a.cfg.Deliver(f); err != nil {
				return fmt.Errorf("audit: delivering finding %d: %w", f.ID, err)
			}
		}
		if err := a.st.setDelivered(context.WithoutCancel(ctx), f.ID); err != nil {
			return err
		}
		a.notify()
		res.Findings[f.Kind]++
	}
	return nil
}

// errStalled is returned when the log serves no entry where its
// checkpoint says there is one.
var errStalled = errors.New("audit: the log serves no more entries")
