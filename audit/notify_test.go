package audit_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprolog/reprolog/audit"
)

// hook is an alerting consumer that is down until it is brought up, then
// fails a few more times.
type hook struct {
	mu     sync.Mutex
	up     bool
	fails  int
	passed []int64
	stopAt int // cancel stop after this many findings
	stop   context.CancelFunc
}

func (h *hook) pass(ctx context.Context, f audit.Finding) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case !h.up:
		return errors.New("alerting is down")
	case h.fails > 0:
		h.fails--
		return errors.New("alerting failed")
	}
	h.passed = append(h.passed, f.ID)
	if len(h.passed) == h.stopAt {
		h.stop()
	}
	return nil
}

func (h *hook) ids() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.passed)
}

func runNotifier(t *testing.T, a *audit.Auditor, ctx context.Context, name string, fn func(context.Context, audit.Finding) error) (*audit.Notifier, chan error) {
	t.Helper()
	n, err := a.Notifier(context.Background(), name, fn)
	if err != nil {
		t.Fatal(err)
	}
	n.Backoff, n.MaxBackoff = time.Millisecond, 10*time.Millisecond
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	return n, done
}

// A failing notifier does not hold the audit up; it passes every finding
// on once it works, in order, each once, across a restart.
func TestNotifier(t *testing.T) {
	s := seed(t)
	var ref collector
	sync1(t, openAuditor(t, s.log.URL, s.log.VKey, t.TempDir(), &ref))
	var want []int64
	for i := range ref.all() {
		want = append(want, int64(i+1))
	}

	dir := t.TempDir()
	var c collector
	a := openAuditor(t, s.log.URL, s.log.VKey, dir, &c)
	ctx, stop := context.WithCancel(context.Background())
	h := &hook{fails: 3, stopAt: 3, stop: stop}
	_, done := runNotifier(t, a, ctx, "alerts", h.pass)
	if res := sync1(t, a); res.Position != 11 || len(c.all()) != len(want) {
		t.Fatalf("the audit waited for the notifier: %+v, %d findings", res, len(c.all()))
	}
	if len(h.ids()) != 0 {
		t.Fatal("passed on while down")
	}
	// Up, it fails 3 more times, then passes 3 findings on; the process
	// stops there.
	h.mu.Lock()
	h.up = true
	h.mu.Unlock()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	if got := h.ids(); !slices.Equal(got, want[:3]) {
		t.Fatalf("passed on %v before the stop", got)
	}
	a.Close()

	// Started again: the rest, and none again.
	a = openAuditor(t, s.log.URL, s.log.VKey, dir, &c)
	h.stopAt = -1
	n, done := runNotifier(t, a, context.Background(), "alerts", h.pass)
	sync1(t, a)
	n.Finish(3)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := h.ids(); !slices.Equal(got, want) {
		t.Errorf("passed on %v, want %v", got, want)
	}

	// A new notifier starts after what was delivered.
	n, done = runNotifier(t, a, context.Background(), "new", func(_ context.Context, f audit.Finding) error {
		t.Errorf("finding %d passed to a new notifier", f.ID)
		return nil
	})
	n.Finish(1)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// Finish gives up on a notifier that keeps failing, and says why.
	n, done = runNotifier(t, a, context.Background(), "down", func(context.Context, audit.Finding) error { return errors.New("down") })
	e := builders(t, s.log, "E")["E"]
	s.log.Submit(t, e.ClearSign(t, replaceHash(t, readTestdata(t, rbtest1), rbDeb, strings.Repeat("e0", 32))))
	sync1(t, a)
	n.Finish(2)
	if err := <-done; err == nil {
		t.Error("Run: no error from a notifier that keeps failing")
	}
}
