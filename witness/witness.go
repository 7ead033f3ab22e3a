package witness

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Config configures a Witness.
type Config struct {
	// Signer cosigns checkpoints (see GenerateKey and LoadKey).
	Signer *torchwood.CosignatureSigner
	// Logs are the logs to witness, usually Policy.Logs(). Several keys may
	// share one origin (a log rotating its key).
	Logs []LogEntry
	// DB is the path of the SQLite database holding the witness's state.
	// It is created if missing.
	DB string
	// Logger receives request and misbehaviour reports; nil discards them.
	// Forks are logged at ERROR, unproven inconsistencies at WARN.
	Logger *slog.Logger
}

// A Witness is a C2SP tlog-witness: it cosigns a log's checkpoint only if it
// is consistent with the latest one it cosigned for that log, which it keeps
// durably. Serve it over HTTP with ServeHTTP.
type Witness struct {
	signer *torchwood.CosignatureSigner
	logs   map[string]note.Verifiers // by origin
	hashes map[string]string         // origins by lowercase hex SHA-256
	store  *store
	log    *slog.Logger

	// stall, if set, runs after a request has been checked and cosigned
	// but before its state is committed: tests use it to race requests.
	stall func()
}

// New opens (or creates) the witness state in cfg.DB and registers the
// configured logs. A log seen for the first time starts at size 0.
func New(cfg Config) (*Witness, error) {
	if cfg.Signer == nil {
		return nil, errors.New("witness: no signer")
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	byOrigin := map[string][]note.Verifier{}
	seen := map[string]bool{}
	for _, l := range cfg.Logs {
		if l.Verifier == nil || l.Verifier.Name() != l.Origin {
			return nil, fmt.Errorf("witness: log %q: verifier missing or not named for its origin", l.Origin)
		}
		if id := fmt.Sprintf("%s+%08x+%s", l.Origin, l.Verifier.KeyHash(), l.VKey); !seen[id] {
			seen[id] = true
			byOrigin[l.Origin] = append(byOrigin[l.Origin], l.Verifier)
		}
	}
	st, err := openStore(cfg.DB)
	if err != nil {
		return nil, err
	}
	w := &Witness{signer: cfg.Signer, logs: map[string]note.Verifiers{}, hashes: map[string]string{}, store: st, log: lg}
	for origin, vs := range byOrigin {
		w.logs[origin] = note.VerifierList(vs...)
		w.hashes[fmt.Sprintf("%x", sha256.Sum256([]byte(origin)))] = origin
		if err := st.addLog(context.Background(), origin); err != nil {
			st.close()
			return nil, fmt.Errorf("witness: registering log %q: %w", origin, err)
		}
	}
	return w, nil
}

// Close closes the witness's database.
func (w *Witness) Close() error { return w.store.close() }

// VerifierKey returns the witness's cosignature/v1 verifier key (vkey), as
// logs and clients list it in their policies.
func (w *Witness) VerifierKey() string { return w.signer.Verifier().String() }

// State returns the latest checkpoint the witness cosigned for origin.
func (w *Witness) State(ctx context.Context, origin string) (LogState, error) {
	return w.store.get(ctx, origin)
}

// Evidence returns the recorded reports about the witnessed logs, oldest
// first. Only forks prove misbehaviour (see Evidence.Proves).
func (w *Witness) Evidence(ctx context.Context) ([]Evidence, error) {
	return w.store.evidence(ctx)
}

// ReadEvidence reads the evidence recorded in the witness database at path,
// which may be in use by a running witness.
func ReadEvidence(ctx context.Context, path string) ([]Evidence, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	st, err := openStore(path)
	if err != nil {
		return nil, err
	}
	defer st.close()
	return st.evidence(ctx)
}

// Errors of add; serveAdd maps each to its HTTP status.
var (
	errUnknownLog   = errors.New("unknown log")                                             // 404
	errBadSignature = errors.New("checkpoint is not signed by a known key of the log")      // 403
	errOldTooLarge  = errors.New("old size is larger than the checkpoint size")             // 400
	errBadProof     = errors.New("consistency proof does not verify")                       // 422
	errFork         = errors.New("checkpoint conflicts with the one held at the same size") // 422
	errEmptyTree    = errors.New("a checkpoint of size 0 must have the empty tree's hash")  // 422
)

// conflictError is a 409 with the size the witness holds.
type conflictError struct{ size int64 }

func (e *conflictError) Error() string {
	return fmt.Sprintf("old size does not match the witness's size %d", e.size)
}

// add processes an add-checkpoint request body and returns the cosignature
// lines. The order of checks is the one C2SP tlog-witness gives.
func (w *Witness) add(ctx context.Context, body []byte) ([]byte, error) {
	req, err := parseAddRequest(body)
	if err != nil {
		return nil, err
	}
	origin, _, ok := bytes.Cut(req.checkpoint, []byte("\n"))
	if !ok {
		return nil, errMalformed
	}
	verifiers, ok := w.logs[string(origin)]
	if !ok {
		return nil, errUnknownLog
	}
	n, err := openSigned(req.checkpoint, verifiers)
	if err != nil {
		return nil, err
	}
	c, err := torchwood.ParseCheckpoint(n.Text)
	if err != nil || c.Origin != string(origin) {
		return nil, errMalformed
	}
	if req.oldSize > c.N {
		return nil, errOldTooLarge
	}
	held, err := w.store.get(ctx, c.Origin)
	if err != nil {
		return nil, err
	}
	if req.oldSize != held.Size {
		return nil, &conflictError{held.Size}
	}
	switch {
	case c.N == 0 && c.Hash != emptyTreeHash:
		w.log.ErrorContext(ctx, "log misbehaviour: the log signed a checkpoint of size 0 that does not have the empty tree's hash",
			"origin", c.Origin, "received_checkpoint", string(req.checkpoint))
		return nil, errEmptyTree
	case req.oldSize == c.N:
		if c.Hash != held.Hash {
			w.report(ctx, EvidenceFork, c.Origin, held, n, body)
			return nil, errFork
		}
		if len(req.proof) != 0 {
			return nil, errBadProof
		}
	case req.oldSize == 0:
		if len(req.proof) != 0 {
			return nil, errBadProof
		}
	default:
		if err := tlog.CheckTree(req.proof, c.N, c.Hash, req.oldSize, held.Hash); err != nil {
			w.report(ctx, EvidenceInconsistent, c.Origin, held, n, body)
			return nil, errBadProof
		}
	}

	// Sign before committing: if the commit succeeds, no other state was
	// committed between the checks and the signature, so the timestamp is
	// one at which this was the largest checkpoint the witness had seen.
	cosig, err := w.cosign(n.Text)
	if err != nil {
		return nil, err
	}
	// Keep only the log's signatures that verified.
	signed, err := note.Sign(&note.Note{Text: n.Text, Sigs: n.Sigs})
	if err != nil {
		return nil, err
	}
	if w.stall != nil {
		w.stall()
	}
	cosigned := append(bytes.Clone(signed), cosig...)
	next := LogState{Size: c.N, Hash: c.Hash, Checkpoint: signed, Cosigned: cosigned}
	swapped, err := w.store.compareAndSwap(ctx, c.Origin, held, next)
	if err != nil {
		return nil, err
	}
	if !swapped {
		now, err := w.store.get(ctx, c.Origin)
		if err != nil {
			return nil, err
		}
		return nil, &conflictError{now.Size}
	}
	w.log.InfoContext(ctx, "cosigned checkpoint", "origin", c.Origin, "size", c.N, "old", req.oldSize)
	return cosig, nil
}

// openSigned opens the checkpoint note with the log's keys. One valid
// signature from a known key is enough, and signatures from unknown keys
// are ignored; but a signature from a known key that does not verify makes
// the note malformed (C2SP signed-note), and it is refused like an unsigned
// one (C2SP tlog-witness).
func openSigned(checkpoint []byte, verifiers note.Verifiers) (*note.Note, error) {
	n, err := note.Open(checkpoint, verifiers)
	var unverified *note.UnverifiedNoteError
	var invalid *note.InvalidSignatureError
	switch {
	case errors.As(err, &unverified), errors.As(err, &invalid):
		return nil, errBadSignature
	case err != nil:
		return nil, errMalformed
	}
	return n, nil
}

// cosign returns the witness's signature line over the checkpoint text.
func (w *Witness) cosign(text string) ([]byte, error) {
	signed, err := note.Sign(&note.Note{Text: text}, w.signer)
	if err != nil {
		return nil, fmt.Errorf("witness: cosigning: %w", err)
	}
	// note.Sign returns the text, a blank line, and the signature lines.
	return signed[len(text)+1:], nil
}
