package installed

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprolog/reprolog/client"
	"github.com/reprolog/reprolog/internal/debtest"
	"github.com/reprolog/reprolog/internal/nettest"
)

// statusOf writes a dpkg status file listing the packages as installed,
// plus one whose configuration files alone remain.
func statusOf(t testing.TB, path string, keys ...Key) {
	t.Helper()
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "Package: %s\nStatus: install ok installed\nPriority: optional\nSection: misc\n"+
			"Installed-Size: 10\nMaintainer: M <m@example.org>\nArchitecture: %s\nVersion: %s\n"+
			"Description: package %s\n a longer description\n .\n of two paragraphs\n\n", k.Package, k.Arch, k.Version, k.Package)
	}
	b.WriteString("Package: removed\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1.0\n" +
		"Conffiles:\n /etc/removed.conf 0123456789abcdef0123456789abcdef\n")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// listsOf writes an apt Packages list giving the debs' hashes.
func listsOf(t testing.TB, dir string, debs ...debtest.Deb) {
	t.Helper()
	var entries []string
	for _, d := range debs {
		entries = append(entries, d.Name, d.Version, d.Arch, d.SHA256)
	}
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "repo_._Packages"), []byte(packagesList(entries...)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func keyOf(d debtest.Deb) Key { return Key{Package: d.Name, Version: d.Version, Arch: d.Arch} }

func TestCheck(t *testing.T) {
	w := newWorld(t)
	hello := w.deb(t, "hello", "2.10-3", "hello")
	helloOther := w.deb(t, "hello", "2.10-3", "other")
	kernel := w.deb(t, "kernel", "6.1-1", "kernel")
	lone := w.deb(t, "lone", "1.0-1", "lone")
	libx := w.deb(t, "libx", "1:1.0-1", "libx")
	libxNew := w.deb(t, "libx", "1:1.0-1", "libx-new")
	w.submit(t, "alice", build("hello", "2.10-3", "", hello))
	w.submit(t, "bob", build("hello", "2.10-3", "", hello))
	w.submit(t, "alice", build("lone", "1.0-1", "", lone))
	w.submit(t, "alice", build("libx", "1:1.0-1", "", libx))
	w.submit(t, "bob", build("libx", "1:1.0-1", "", libx))
	px := newCounter(t, w.log.URL)
	p := w.policy(t, px.URL, "Allow: kernel")

	// hello and kernel go through the hook; lone and libx are known from
	// apt's lists; mystery from neither.
	out, err := (&Gate{Policy: p}).Decide(context.Background(), []string{hello.Path, kernel.Path})
	if err != nil || !out.Pass() {
		t.Fatalf("gate: %+v %v", out, err)
	}
	status := filepath.Join(w.dir, "status")
	lists := filepath.Join(w.dir, "lists")
	mystery := Key{"mystery", "1.0", "amd64"}
	statusOf(t, status, keyOf(hello), keyOf(kernel), keyOf(lone), keyOf(libx), mystery)
	listsOf(t, lists, lone, libx)
	c := &Checker{Policy: p, Status: status, Lists: lists}

	px.take()
	rep := mustCheck(t, c)
	want := map[Health]int{Reproducible: 2, Drift: 0, Insufficient: 1, Conflict: 0, Allowed: 1, Unknown: 1}
	if !maps.Equal(rep.Counts, want) || rep.Total != 5 || rep.Score != 40 || rep.Decided != 4 || len(rep.Degraded) != 0 {
		t.Fatalf("first check: counts %v, total %d, score %v, decided %d, degraded %v", rep.Counts, rep.Total, rep.Score, rep.Decided, rep.Degraded)
	}
	byName := results(rep)
	if r := byName["hello"]; r.Source != "hook" || r.SHA256 != hello.SHA256 || r.Checked != 5 || r.Baseline != Reproducible {
		t.Errorf("hello: %+v", r)
	}
	if r := byName["libx"]; r.Source != "lists" || r.SHA256 != libx.SHA256 || r.Health != Reproducible {
		t.Errorf("libx: %+v", r)
	}
	if r := byName["mystery"]; r.Source != "" || r.Health != Unknown || !strings.Contains(r.Reason, "apt's lists do not have") {
		t.Errorf("mystery: %+v", r)
	}
	if len(rep.Allowed) != 1 || rep.Allowed[0].Package != "kernel" || !strings.Contains(rep.Allowed[0].Reason, "the log says insufficient") {
		t.Errorf("allowed: %+v", rep.Allowed)
	}

	// Nothing changed: the state answers, with the checkpoint as the only
	// request.
	px.take()
	again := mustCheck(t, c)
	if hits := px.take(); len(hits) != 1 || hits["/checkpoint"] != 1 {
		t.Errorf("unchanged log: requests %v", hits)
	}
	if again.Decided != 0 || !maps.Equal(again.Counts, rep.Counts) || again.Checkpoint != rep.Checkpoint {
		t.Errorf("unchanged log: decided %d, counts %v", again.Decided, again.Counts)
	}

	// bob contradicts himself on hello; carol builds libx from newer
	// inputs; alice builds something not installed. Only hello and libx
	// are decided again.
	w.submit(t, "bob", build("hello", "2.10-3", "", helloOther))
	w.submit(t, "carol", build("libx", "1:1.0-1", "12.2.0-14+deb12u1", libxNew))
	w.submit(t, "alice", build("unrelated", "1.0", "", w.deb(t, "unrelated", "1.0", "u")))
	px.take()
	rep = mustCheck(t, c)
	hits := px.take()
	want = map[Health]int{Reproducible: 0, Drift: 1, Insufficient: 1, Conflict: 1, Allowed: 1, Unknown: 1}
	if rep.Decided != 2 || hits["/lookup"] != 2 || !maps.Equal(rep.Counts, want) || rep.Checkpoint.Size != 8 {
		t.Fatalf("after new entries: decided %d, lookups %d, counts %v, size %d", rep.Decided, hits["/lookup"], rep.Counts, rep.Checkpoint.Size)
	}
	if len(rep.Degraded) != 1 {
		t.Fatalf("degraded: %+v", rep.Degraded)
	}
	d := rep.Degraded[0]
	if d.Package != "hello" || d.Baseline != Reproducible || d.Health != Conflict || !strings.Contains(d.Reason, "bob contradicted itself") {
		t.Errorf("degraded: %+v", d)
	}
	if r := results(rep)["libx"]; r.Health != Drift || r.Degraded || !strings.Contains(r.Reason, "a rebuild is due") {
		t.Errorf("libx: %+v", r)
	}
	if len(rep.RebuildDue) != 1 || rep.RebuildDue[0].Package != "libx" || len(rep.RebuildDueNew) != 1 || rep.RebuildDueNew[0].Package != "libx" {
		t.Errorf("rebuild due: %+v, new: %+v", rep.RebuildDue, rep.RebuildDueNew)
	}

	// The degradation and the rebuild due stay reported on the next run,
	// from the state; the rebuild due is no longer new.
	if again := mustCheck(t, c); again.Decided != 0 || len(again.Degraded) != 1 || len(again.RebuildDue) != 1 || len(again.RebuildDueNew) != 0 {
		t.Errorf("next run: decided %d, degraded %v, rebuild due %v, new %v", again.Decided, again.Degraded, again.RebuildDue, again.RebuildDueNew)
	}

	// A new policy decides everything again, keeping what was installed.
	p2 := w.policy(t, px.URL, "Allow: kernel, hello")
	rep = mustCheck(t, &Checker{Policy: p2, Status: status, Lists: lists})
	if rep.Decided != 4 || rep.Counts[Allowed] != 2 || len(rep.Degraded) != 0 {
		t.Errorf("new policy: decided %d, counts %v, degraded %v", rep.Decided, rep.Counts, rep.Degraded)
	}
}

func TestCheckLogFailure(t *testing.T) {
	w := newWorld(t)
	status := filepath.Join(w.dir, "status")
	statusOf(t, status, Key{"mystery", "1.0", "amd64"})
	for name, url := range map[string]string{"refused": nettest.RefusedURL(t), "silent": nettest.SilentURL(t)} {
		c := &Checker{Policy: w.policy(t, url), Status: status, Lists: w.dir}
		_, err := c.Check(context.Background())
		if !Unreachable(err) || !errors.Is(err, client.ErrLog) {
			t.Errorf("%s: %v", name, err)
		}
	}
	c := &Checker{Policy: w.policy(t, w.log.URL), Status: filepath.Join(w.dir, "absent")}
	if _, err := c.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "dpkg status") {
		t.Errorf("missing status: %v", err)
	}
}

func mustCheck(t testing.TB, c *Checker) *Report {
	t.Helper()
	rep, err := c.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func results(rep *Report) map[string]Result {
	m := map[string]Result{}
	for _, r := range rep.Packages {
		m[r.Package] = r
	}
	return m
}

// When the log grew by a few entries, only the packages they name are
// decided again; when it grew by more tiles than there are installed
// packages, every package is looked up instead of reading the entries.
func TestCheckReadsEntriesOrLooksUp(t *testing.T) {
	w := newWorld(t)
	hello := w.deb(t, "hello", "2.10-3", "hello")
	w.submit(t, "alice", build("hello", "2.10-3", "", hello))
	px := newCounter(t, w.log.URL)
	p := w.policy(t, px.URL)
	status := filepath.Join(w.dir, "status")
	lists := filepath.Join(w.dir, "lists")
	statusOf(t, status, keyOf(hello))
	listsOf(t, lists, hello)
	c := &Checker{Policy: p, Status: status, Lists: lists}
	if rep := mustCheck(t, c); rep.Decided != 1 || rep.Counts[Insufficient] != 1 {
		t.Fatalf("first check: %+v", rep)
	}

	unrelated := func(prefix string, n int) [][]byte {
		var recs [][]byte
		for i := range n {
			name := fmt.Sprintf("%s%d", prefix, i)
			b := build(name, "1.0", "")
			b.Debs = append(b.Debs, prooftestDeb(name, fmt.Sprintf("%064x", i)))
			recs = append(recs, recordOf(t, w, b))
		}
		return recs
	}
	w.submitAll(t, unrelated("few", 3))
	px.take()
	if rep := mustCheck(t, c); rep.Decided != 0 {
		t.Errorf("three unrelated entries: decided %d", rep.Decided)
	}
	if hits := px.take(); hits["/lookup"] != 0 || hits["/tile/entries/000.p/4"] != 1 {
		t.Errorf("three unrelated entries: requests %v", hits)
	}

	w.submitAll(t, unrelated("many", 300))
	px.take()
	if rep := mustCheck(t, c); rep.Decided != 1 || rep.Checkpoint.Size != 304 {
		t.Errorf("300 unrelated entries: decided %d at size %d", rep.Decided, rep.Checkpoint.Size)
	}
	if hits := px.take(); hits["/lookup"] != 1 || len(hitsUnder(hits, "/tile/entries/001")) != 0 {
		t.Errorf("300 unrelated entries: requests %v", hits)
	}
}

func hitsUnder(hits map[string]int, prefix string) []string {
	var out []string
	for p := range hits {
		if strings.HasPrefix(p, prefix) {
			out = append(out, p)
		}
	}
	return out
}
