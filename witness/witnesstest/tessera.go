package witnesstest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
)

// A TesseraLog is a plain Tessera log with POSIX storage in a temporary
// directory, whose checkpoints are witnessed according to a C2SP
// tlog-policy through Tessera's own witness support.
type TesseraLog struct {
	Key      LogKey
	Dir      string
	appender *tessera.Appender
	awaiter  *tessera.PublicationAwaiter
	stop     func()
}

// StartTesseraLog starts a Tessera log signing with key and sending every
// new checkpoint to the witnesses of policy (parsed by Tessera's
// NewWitnessGroupFromPolicy), publishing it only once the policy's quorum
// has cosigned. The log shuts down when the test ends.
func StartTesseraLog(t testing.TB, key LogKey, policy []byte) *TesseraLog {
	t.Helper()
	l := &TesseraLog{Key: key, Dir: t.TempDir()}
	l.start(t, policy)
	t.Cleanup(func() { l.stop() })
	return l
}

// Restart shuts the log down and starts it again on the same storage with
// a new policy, as an operator adding or replacing witnesses would.
func (l *TesseraLog) Restart(t testing.TB, policy []byte) {
	t.Helper()
	l.stop()
	l.start(t, policy)
}

func (l *TesseraLog) start(t testing.TB, policy []byte) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	driver, err := posix.New(ctx, posix.Config{Path: l.Dir})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	group, err := tessera.NewWitnessGroupFromPolicy(policy)
	if err != nil {
		cancel()
		t.Fatalf("tessera rejects the policy: %v", err)
	}
	opts := tessera.NewAppendOptions().
		WithCheckpointSigner(l.Key.Signer).
		WithBatching(64, 20*time.Millisecond).
		WithCheckpointInterval(100*time.Millisecond).
		WithWitnesses(group, &tessera.WitnessOptions{Timeout: 10 * time.Second})
	appender, shutdown, reader, err := tessera.NewAppender(ctx, driver, opts)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	l.appender = appender
	l.awaiter = tessera.NewPublicationAwaiter(ctx, reader.ReadCheckpoint, 50*time.Millisecond)
	l.stop = func() {
		sctx, scancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer scancel()
		if err := shutdown(sctx); err != nil {
			t.Logf("tessera shutdown: %v", err)
		}
		cancel()
	}
}

// Add appends entries and returns the first published checkpoint that
// covers all of them: the log-signed checkpoint with the cosignatures the
// log collected. It fails the test if that takes longer than timeout.
func (l *TesseraLog) Add(t testing.TB, timeout time.Duration, entries ...[]byte) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cp, err := l.AddContext(ctx, entries...)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// AddContext is Add for goroutines other than the test's: it returns an
// error instead of failing the test. It must not run during Restart.
func (l *TesseraLog) AddContext(ctx context.Context, entries ...[]byte) ([]byte, error) {
	futures := make([]tessera.IndexFuture, len(entries))
	for i, e := range entries {
		futures[i] = l.appender.Add(ctx, tessera.NewEntry(e))
	}
	var cp []byte
	for _, f := range futures {
		_, c, err := l.awaiter.Await(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("tessera: entry not published: %w", err)
		}
		cp = c
	}
	return cp, nil
}
