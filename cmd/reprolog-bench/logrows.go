package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/reprolog/reprolog/bench"
)

const (
	smallLog          = 10000 // entries of the log the decision, audit and memory rows use
	installedPackages = 3000  // packages of the system reprolog check checks
	probeEntries      = 2000  // submissions made to a log before its memory is read
	fillInterval      = 100 * time.Millisecond
)

// targetBuilds are the builds whose .deb files reprolog verify decides
// about: one, then a batch of 500.
var targetBuilds = func() []int {
	var b []int
	for i := 100; i <= 600; i++ {
		b = append(b, i)
	}
	return b
}()

// logRows fills a log of smallLog entries (and of --large entries) and
// measures decisions, the auditor and the server's memory on each.
func (b *bencher) logRows(ctx context.Context) ([]bench.Row, error) {
	w := &bench.World{Sources: 20000, Rebuilders: len(b.fillRebs), ShortFrom: (smallLog + probeEntries) / len(b.fillRebs)}
	b.progress("building %d .deb files with dpkg-deb", len(targetBuilds))
	debs, err := bench.Debs(filepath.Join(b.o.work, "debs"), w, targetBuilds)
	if err != nil {
		return nil, err
	}
	reprolog := b.o.reprolog
	if reprolog == "" {
		if reprolog, err = buildReprolog(b.o.work); err != nil {
			return nil, err
		}
	}
	dir := filepath.Join(b.o.work, "log")
	if err := b.fill(ctx, w, dir, 0, smallLog); err != nil {
		return nil, err
	}
	small, err := b.measure(ctx, w, dir, smallLog, reprolog, debs)
	rows := small.rows
	if err != nil || b.o.large <= smallLog {
		if b.o.large <= smallLog {
			rows = append(rows, bench.Row{Figure: "decisions, audit and memory at a large log", Measured: "not measured: run with --large 1000000"})
		}
		return rows, err
	}
	if err := b.fill(ctx, w, dir, smallLog+probeEntries, b.o.large); err != nil {
		return rows, err
	}
	large, err := b.measure(ctx, w, dir, b.o.large, reprolog, debs)
	rows = append(rows, large.rows...)
	if err == nil && !b.o.decisionsOnly {
		growth := float64(large.rss) / float64(small.rss)
		verdict := "flat: met"
		if growth > 1.5 {
			verdict = "flat: NOT met"
		}
		rows = append(rows, bench.Row{
			Figure:   fmt.Sprintf("server RSS, %d entries vs %d", b.o.large, smallLog),
			Measured: fmt.Sprintf("%s vs %s (x%.2f)", bench.MiB(large.rss), bench.MiB(small.rss), growth),
			Target:   verdict,
		})
	}
	return rows, err
}

// fill grows the log in dir to entries [from, to) of w through a server
// with a short checkpoint interval.
func (b *bencher) fill(ctx context.Context, w *bench.World, dir string, from, to int) error {
	b.progress("filling the log with entries %d to %d (%d submitters, checkpoint every %v)", from, to, b.o.fillWorkers, fillInterval)
	p, err := bench.Start(b.exe, bench.ServeConfig{Dir: dir, CheckpointInterval: fillInterval})
	if err != nil {
		return err
	}
	defer p.Stop()
	if err := bench.Register(ctx, p.URL, b.fillRebs); err != nil {
		return err
	}
	r, err := bench.Fill(ctx, p.URL, w, b.fillRebs, from, to, b.o.fillWorkers, func(done int) {
		b.progress("  %d of %d", from+done, to)
	})
	if err != nil {
		return err
	}
	b.notes = append(b.notes, fmt.Sprintf("Filling entries %d to %d: %s over HTTP with %d submitters and a %v checkpoint interval, signing on the same machine.",
		from, to, bench.PerSec(r), b.o.fillWorkers, fillInterval))
	return nil
}

type measured struct {
	rows []bench.Row
	rss  int64
}

// measure runs the server on the log in dir (size entries) as configured
// and measures decisions and the auditor, then the server's memory after
// probeEntries more submissions.
func (b *bencher) measure(ctx context.Context, w *bench.World, dir string, size int, reprolog string, debs []string) (measured, error) {
	var m measured
	p, err := bench.Start(b.exe, bench.ServeConfig{Dir: dir, CheckpointInterval: b.o.interval})
	if err != nil {
		return m, err
	}
	defer p.Stop()
	raw, err := os.ReadFile(filepath.Join(dir, "log.pub"))
	if err != nil {
		return m, err
	}
	vkey := strings.TrimSpace(string(raw))
	policyDir := filepath.Join(b.o.work, fmt.Sprintf("policy-%d", size))
	if err := os.MkdirAll(policyDir, 0o755); err != nil {
		return m, err
	}
	// Trust five of the rebuilders, three must agree.
	policy, err := bench.Policy(policyDir, p.URL, vkey, b.fillRebs[:5], 3)
	if err != nil {
		return m, err
	}
	rows, err := b.decisions(w, p.URL, size, policy, reprolog, debs)
	m.rows = append(m.rows, rows...)
	if err != nil || b.o.decisionsOnly {
		return m, err
	}
	start := bench.ProcessStart(reprolog, 20)
	b.progress("log of %d entries: reprolog check of %d installed packages", size, installedPackages)
	status, lists, builds, err := bench.System(policyDir, w, installedPackages)
	if err != nil {
		return m, err
	}
	logged := 0
	for _, bu := range builds {
		if (bu+1)*w.Rebuilders <= size {
			logged++
		}
	}
	stateDir := filepath.Join(policyDir, "state")
	cold, res, err := bench.CheckCommand(reprolog, policy, stateDir, status, lists, true, 2)
	if err != nil {
		return m, err
	}
	again, resAgain, err := bench.CheckCommand(reprolog, policy, stateDir, status, lists, false, 10)
	if err != nil {
		return m, err
	}
	if res.Total != installedPackages || resAgain.Decided != 0 {
		return m, fmt.Errorf("reprolog check: %d packages, %d decided again", res.Total, resAgain.Decided)
	}
	m.rows = append(m.rows, bench.Row{
		Figure: fmt.Sprintf("reprolog check, %d installed packages (%d in the log), log of %d entries: cold",
			res.Total, logged, size),
		Measured: fmt.Sprintf("p50 %v (%d runs, %d decided)", ms(cold.P50), cold.Runs, res.Decided),
		Bound:    fmt.Sprintf("starting reprolog alone: p50 %v", ms(start.P50)),
	}, bench.Row{
		Figure:   "reprolog check again, no new entries",
		Measured: fmt.Sprintf("p50 %v (%d runs)", ms(again.P50), again.Runs),
		Bound:    fmt.Sprintf("starting reprolog alone: p50 %v", ms(start.P50)),
		Target:   verdict("< 100 ms", again.P50 < 100*time.Millisecond),
	})
	b.progress("log of %d entries: audit", size)
	row, err := b.auditRow(ctx, w, p.URL, vkey, size)
	if err != nil {
		return m, err
	}
	m.rows = append(m.rows, row)
	b.progress("log of %d entries: %d more submissions, then the server's memory", size, probeEntries)
	if _, err := bench.Fill(ctx, p.URL, w, b.fillRebs, size, size+probeEntries, b.o.workers, nil); err != nil {
		return m, err
	}
	now, peak, err := p.RSS()
	if err != nil {
		return m, err
	}
	m.rss = now
	m.rows = append(m.rows, bench.Row{
		Figure:   fmt.Sprintf("server RSS, log of %d entries (after the rows above and %d more submissions)", size, probeEntries),
		Measured: fmt.Sprintf("%s (peak %s)", bench.MiB(now), bench.MiB(peak)),
		Target:   "flat",
	})
	return m, nil
}

// decisions times reprolog verify, and the --baseline binary taking turns
// with it, on one .deb and on a batch of 500.
func (b *bencher) decisions(w *bench.World, url string, size int, policy, reprolog string, debs []string) ([]bench.Row, error) {
	b.progress("log of %d entries: reprolog verify", size)
	programs := []string{reprolog}
	if b.o.baseline != "" {
		programs = append(programs, b.o.baseline)
	}
	start := bench.ProcessStart(reprolog, 20)
	floor := bench.ProcessStart("/bin/true", 20)
	one, err := bench.VerifyCommands(programs, policy, debs[:1], 30)
	if err != nil {
		return nil, err
	}
	batch, err := bench.VerifyCommands(programs, policy, debs[1:], 3)
	if err != nil {
		return nil, err
	}
	lookups, err := bench.Lookups(url, w, targetBuilds[1:])
	if err != nil {
		return nil, err
	}
	rows := []bench.Row{{
		Figure:   fmt.Sprintf("decision: reprolog verify, one .deb, log of %d entries (16 statements each, 5 trusted, K=3)", size),
		Measured: fmt.Sprintf("p50 %v (max %v, %d runs)", ms(one[0].P50), ms(one[0].Max), one[0].Runs),
		Bound:    fmt.Sprintf("starting reprolog alone: p50 %v (/bin/true: %v)", ms(start.P50), ms(floor.P50)),
		Target:   verdict("p50 < 20 ms", one[0].P50 < 20*time.Millisecond),
	}, {
		Figure:   fmt.Sprintf("decision: reprolog verify, 500 .debs at once, log of %d entries", size),
		Measured: fmt.Sprintf("p50 %v (%d runs)", ms(batch[0].P50), batch[0].Runs),
		Bound:    fmt.Sprintf("the 500 lookups alone, one after another: %v", ms(lookups)),
		Target:   verdict("< 2 s", batch[0].P50 < 2*time.Second),
	}}
	if len(programs) > 1 {
		rows = append(rows, bench.Row{
			Figure:   "the same decisions by the --baseline binary, taking turns run by run",
			Measured: fmt.Sprintf("one .deb: p50 %v (max %v); 500 .debs: p50 %v", ms(one[1].P50), ms(one[1].Max), ms(batch[1].P50)),
		})
	}
	return rows, nil
}

// verifySample is how many of the log's records are signed again to
// measure their checks alone beside the audit.
const verifySample = 8000

// auditRow follows the whole log with an auditor from a fresh state, beside
// its bounds measured just before: reading and hashing the same tiles
// alone, and, on all cores, verifying records like the log's alone and
// checking them alone as the auditor does (signature and derivation).
func (b *bencher) auditRow(ctx context.Context, w *bench.World, url, vkey string, size int) (bench.Row, error) {
	tiles, err := bench.TilesRate(ctx, url, vkey)
	if err != nil {
		return bench.Row{}, err
	}
	verify, check, err := bench.RecordBounds(w, b.fillRebs, size, verifySample)
	if err != nil {
		return bench.Row{}, err
	}
	aud, err := bench.AuditRate(ctx, url, vkey, filepath.Join(b.o.work, fmt.Sprintf("audit-%d", size)))
	if err != nil {
		return bench.Row{}, err
	}
	return bench.Row{
		Figure: fmt.Sprintf("audit: follow a log of %d entries from the start (package audit)", aud.N),
		Measured: fmt.Sprintf("%.0f entries/s (%v; state database %s, %.0f bytes an entry)", aud.PerSecond(),
			aud.Elapsed.Round(time.Second/10), bench.MiB(aud.StateBytes), float64(aud.StateBytes)/float64(aud.N)),
		Bound: fmt.Sprintf("tiles alone, read and hashed (torchwood): %.0f entries/s; on %d cores, %d records like the log's (%s): OpenPGP verification alone %.0f/s, with the buildinfo parsed and the statement derived %.0f/s",
			tiles.PerSecond(), b.cores(), verify.N, b.fillKeys(), verify.PerSecond(), check.PerSecond()),
		Target: fmt.Sprintf("%.0f%% of verification alone, %.0f%% of checks alone", 100*aud.PerSecond()/verify.PerSecond(), 100*aud.PerSecond()/check.PerSecond()),
	}, nil
}

func verdict(target string, met bool) string {
	if met {
		return target + ": met"
	}
	return target + ": NOT met"
}

// ms rounds d for the table, finely enough that a figure shown beside a
// target reads the same side of it as the figure measured.
func ms(d time.Duration) string {
	switch {
	case d < 10*time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	case d < 100*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}
