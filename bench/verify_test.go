package bench

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/reprolog/reprolog/client"
	"github.com/reprolog/reprolog/internal/testbin"
)

// decisionLog is the setting of the decision rows, small: a
// reprolog-server process whose log holds builds by 16 rebuilders, the
// .deb of one of them built by dpkg-deb, and a policy trusting 5 of the
// rebuilders with K=3, as cmd/reprolog-bench sets it up.
type decisionLog struct {
	url, policy, deb string
}

func newDecisionLog(tb testing.TB, builds int) *decisionLog {
	tb.Helper()
	ctx := context.Background()
	var rebs []*Rebuilder
	for i := range 16 {
		r, err := NewRebuilder(fmt.Sprintf("rebuilder-%d", i), Ed25519)
		if err != nil {
			tb.Fatal(err)
		}
		rebs = append(rebs, r)
	}
	dir := tb.TempDir()
	w := &World{Sources: 1000, Rebuilders: len(rebs)}
	debs, err := Debs(filepath.Join(dir, "debs"), w, []int{builds / 2})
	if err != nil {
		tb.Fatal(err)
	}
	srv := testbin.StartServer(tb, filepath.Join(dir, "log"))
	if err := Register(ctx, srv.URL, rebs); err != nil {
		tb.Fatal(err)
	}
	if _, err := Fill(ctx, srv.URL, w, rebs, 0, builds*len(rebs), 64, nil); err != nil {
		tb.Fatal(err)
	}
	policy, err := Policy(dir, srv.URL, srv.VKey, rebs[:5], 3)
	if err != nil {
		tb.Fatal(err)
	}
	return &decisionLog{url: srv.URL, policy: policy, deb: debs[0]}
}

// verifyInProcess is what `reprolog verify --policy P X.deb` does, in this
// process: read the .deb while the policy loads, and decide while the
// policy's keys are checked.
func verifyInProcess(ctx context.Context, policy, deb string) (*client.Decision, error) {
	type read struct {
		d   client.Deb
		err error
	}
	got := make(chan read, 1)
	go func() {
		d, err := client.ReadDeb(deb)
		got <- read{d, err}
	}()
	p, err := client.OpenPolicy(policy)
	if err != nil {
		return nil, err
	}
	r := <-got
	if r.err != nil {
		return nil, r.err
	}
	ds, err := (&client.Verifier{Policy: p}).Verify(ctx, []client.Deb{r.d})
	if err != nil {
		return nil, err
	}
	return ds[0], nil
}

// BenchmarkVerify measures the decision about one .deb (16 statements in
// the log, 5 trusted builders, K=3): in this process, and as the reprolog
// binary, process start included.
func BenchmarkVerify(b *testing.B) {
	d := newDecisionLog(b, 40)
	ctx := context.Background()
	b.Run("in-process", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b, syscall.RUSAGE_SELF)()
		for b.Loop() {
			dec, err := verifyInProcess(ctx, d.policy, d.deb)
			if err != nil {
				b.Fatal(err)
			}
			if !dec.Verdict.Pass() || len(dec.Evidence) != 16 {
				b.Fatalf("%s with %d statements", dec.Verdict, len(dec.Evidence))
			}
		}
	})
	b.Run("binary", func(b *testing.B) {
		reprolog := testbin.Build(b, "reprolog")
		defer reportCPU(b, syscall.RUSAGE_CHILDREN)()
		for b.Loop() {
			if out, err := exec.Command(reprolog, "verify", "--policy", d.policy, d.deb).CombinedOutput(); err != nil {
				b.Fatalf("reprolog verify: %v: %s", err, out)
			}
		}
	})
}

// reportCPU reports the CPU time (user and system) per operation that who
// (this process, or its children that ended) used between the call and
// the call of the function it returns: unlike the time per operation, it
// barely depends on what else the machine runs.
func reportCPU(b *testing.B, who int) func() {
	used := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(who, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := used()
	return func() {
		b.ReportMetric(float64(used()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	}
}
