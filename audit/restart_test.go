package audit_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reprolog/reprolog/audit"
)

// what identifies a finding across runs: everything but its ID and time.
func what(f audit.Finding) string {
	var idx []int64
	for _, e := range f.Entries {
		idx = append(idx, e.Index)
	}
	return fmt.Sprint(f.Kind, f.Problem, f.Package, f.Version, f.Arch, f.Source, f.SourceVersion, idx)
}

func whats(fs []audit.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, what(f))
	}
	return out
}

// checkOnce checks that fs are the reference findings, each delivered
// once, numbered 1, 2, ... in order.
func checkOnce(t *testing.T, fs, ref []audit.Finding) {
	t.Helper()
	for i, f := range fs {
		if f.ID != int64(i+1) {
			t.Errorf("finding %d has ID %d", i+1, f.ID)
		}
	}
	if got, want := whats(fs), whats(ref); !slices.Equal(got, want) {
		t.Errorf("findings across restarts:\n%q\nwant\n%q", got, want)
	}
}

// The audit is stopped at many points (a cancelled context, the auditor
// closed and opened again); in the end it has delivered every finding of
// an audit that ran in one go, each once.
func TestRestartAnywhere(t *testing.T) {
	s := seed(t)
	var ref collector
	sync1(t, openAuditor(t, s.log.URL, s.log.VKey, t.TempDir(), &ref))
	if len(ref.all()) < 8 {
		t.Fatalf("reference audit: %d findings", len(ref.all()))
	}

	dir := t.TempDir()
	var c collector
	stops := 0
	for i := 0; ; i++ {
		if i > 200 {
			t.Fatal("the audit does not finish")
		}
		a, err := audit.Open(context.Background(), audit.Config{Log: s.log.URL, LogKey: s.log.VKey, StateDir: dir,
			Deliver: c.deliver, LookupSample: 1000, BatchSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(2+i*3)*time.Millisecond)
		res, err := a.Sync(ctx)
		stopped := ctx.Err() != nil
		cancel()
		a.Close()
		if err == nil && res.Position == 11 {
			break
		}
		if err != nil && !stopped {
			t.Fatalf("run %d: %v", i, err)
		}
		stops++
	}
	t.Logf("stopped %d times", stops)
	if stops < 3 {
		t.Errorf("the audit was stopped only %d times", stops)
	}
	checkOnce(t, c.all(), ref.all())
}

// A finding that could not be delivered is delivered again, then the
// audit goes on; nothing is delivered twice.
func TestRedeliver(t *testing.T) {
	s := seed(t)
	var ref collector
	sync1(t, openAuditor(t, s.log.URL, s.log.VKey, t.TempDir(), &ref))

	dir := t.TempDir()
	var c collector
	fail := true
	deliver := func(f audit.Finding) error {
		if f.ID == 3 && fail {
			fail = false
			return errors.New("alert command failed")
		}
		return c.deliver(f)
	}
	a := openAuditor(t, s.log.URL, s.log.VKey, dir, &c, func(cfg *audit.Config) { cfg.Deliver = deliver })
	if _, err := a.Sync(context.Background()); err == nil {
		t.Fatal("a failed delivery is not an error")
	}
	if n := len(c.all()); n != 2 {
		t.Fatalf("%d findings delivered before the failure", n)
	}
	a.Close()
	a = openAuditor(t, s.log.URL, s.log.VKey, dir, &c, func(cfg *audit.Config) { cfg.Deliver = deliver })
	if res := sync1(t, a); res.Position != 11 {
		t.Fatalf("after the failure: %+v", res)
	}
	checkOnce(t, c.all(), ref.all())
}

// A state directory belongs to one log, and to one auditor at a time.
func TestStateBound(t *testing.T) {
	s := startSmall(t)
	dir := t.TempDir()
	var c collector
	a := openAuditor(t, s.log.URL, s.log.VKey, dir, &c)
	sync1(t, a)
	if _, err := audit.Open(context.Background(), audit.Config{Log: s.log.URL, LogKey: s.log.VKey, StateDir: dir}); err == nil {
		t.Error("two auditors on one state")
	}
	a.Close()
	other := startSmall(t)
	if _, err := audit.Open(context.Background(), audit.Config{Log: other.log.URL, LogKey: other.log.VKey, StateDir: dir}); err == nil {
		t.Error("a state of one log used for another")
	}
	for _, cfg := range []audit.Config{
		{Log: s.log.URL, LogKey: "not a key", StateDir: t.TempDir()},
		{Log: "ftp://example.org", LogKey: s.log.VKey, StateDir: t.TempDir()},
	} {
		if _, err := audit.Open(context.Background(), cfg); err == nil {
			t.Errorf("Open(%+v) works", cfg)
		}
	}
}

// When the log's checkpoint cannot be fetched, the entries of the one the
// auditor holds are still audited.
func TestCheckpointUnavailable(t *testing.T) {
	s := startSmall(t)
	s.disagree(t)
	p := newProxy(t, s.log.URL)
	var c collector
	ctx, cancel := context.WithCancel(context.Background())
	a := openAuditor(t, p.URL, s.log.VKey, t.TempDir(), &c, func(cfg *audit.Config) {
		cfg.BatchSize = 1
		cfg.Progress = func(audit.Progress) { cancel() }
	})
	if res, err := a.Sync(ctx); err == nil || res.Position != 1 || res.TreeSize != 4 {
		t.Fatalf("stopped after one batch: %+v, %v", res, err)
	}
	p.answer("/checkpoint", nil)
	res, err := a.Sync(context.Background())
	if err == nil || !strings.Contains(err.Error(), "checkpoint") || res.Position != 4 || len(c.ofKind(audit.Disagreement)) != 1 {
		t.Errorf("%+v, %v, %+v", res, err, c.all())
	}
}

// However many records are checked at once and however the entries are
// batched, the findings come in the same order.
func TestFindingsOrder(t *testing.T) {
	s := seed(t)
	one := func(workers, batch int) []audit.Finding {
		var c collector
		sync1(t, openAuditor(t, s.log.URL, s.log.VKey, t.TempDir(), &c, func(cfg *audit.Config) { cfg.Workers, cfg.BatchSize = workers, batch }))
		return c.all()
	}
	ref := one(1, 1)
	if len(ref) < 8 {
		t.Fatalf("reference audit: %d findings", len(ref))
	}
	for _, c := range []struct{ workers, batch int }{{16, 1}, {16, 3}, {3, 1000}} {
		t.Run(fmt.Sprintf("workers=%d,batch=%d", c.workers, c.batch), func(t *testing.T) { checkOnce(t, one(c.workers, c.batch), ref) })
	}
}
