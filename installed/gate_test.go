package installed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reprolog/reprolog/client"
	"github.com/reprolog/reprolog/internal/nettest"
	"github.com/reprolog/reprolog/proofs/prooftest"
)

func TestGateDecides(t *testing.T) {
	w := newWorld(t)
	hello := w.deb(t, "hello", "2.10-3", "hello")
	helloEvil := w.deb(t, "hello", "2.10-3", "evil")
	lone := w.deb(t, "lone", "1.0-1", "lone")
	split := w.deb(t, "split", "1:3.0-1", "split")
	splitOther := w.deb(t, "split", "1:3.0-1", "split-other")
	kernel := w.deb(t, "kernel", "6.1-1", "kernel")
	w.submit(t, "alice", build("hello", "2.10-3", "", hello))
	w.submit(t, "bob", build("hello", "2.10-3", "", hello))
	w.submit(t, "mallory", build("hello", "2.10-3", "", helloEvil))
	w.submit(t, "alice", build("lone", "1.0-1", "", lone))
	w.submit(t, "alice", build("split", "1:3.0-1", "", split))
	w.submit(t, "bob", build("split", "1:3.0-1", "", splitOther))
	w.submit(t, "carol", build("split", "1:3.0-1", "", splitOther))
	p := w.policy(t, w.log.URL, "Allow: kernel")

	g := &Gate{Policy: p}
	files := []string{hello.Path, helloEvil.Path, lone.Path, split.Path, kernel.Path}
	out, err := g.Decide(context.Background(), files)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Failures) != 0 || len(out.Decisions) != 5 || out.Pass() {
		t.Fatalf("failures %v, %d decisions, pass %v", out.Failures, len(out.Decisions), out.Pass())
	}
	want := []client.Verdict{client.Reproducible, client.Conflict, client.Insufficient, client.Conflict, client.Allowed}
	for i, d := range out.Decisions {
		if d.Verdict != want[i] || d.File != files[i] || out.Offline[i] {
			t.Errorf("%s: %s (file %s, offline %v), want %s", files[i], d.Verdict, d.File, out.Offline[i], want[i])
		}
	}
	why, todo := Refusal(out.Decisions[2], "/etc/reprolog/policy")
	if !strings.HasPrefix(why, "not enough rebuilders yet: only alice reproduced it so far (1 of the 2 needed)") ||
		!strings.Contains(todo, "add lone to Allow in /etc/reprolog/policy") {
		t.Errorf("insufficient: %q / %q", why, todo)
	}
	why, _ = Refusal(out.Decisions[3], "policy")
	if !strings.HasPrefix(why, "rebuilders disagree: bob, carol built a different binary") {
		t.Errorf("conflict: %q", why)
	}
	if r := Reason(out.Decisions[0]); r != "reproduced by alice, bob (2 of the 2 needed)" {
		t.Errorf("reproducible: %q", r)
	}
	if r := Reason(out.Decisions[4]); !strings.HasPrefix(r, "allowed by the policy; the log says insufficient") {
		t.Errorf("allowed: %q", r)
	}

	recs, next, bad, err := OpenJournal(p.StateDir).Read(0)
	if err != nil || bad != 0 || len(recs) != 5 || next == 0 {
		t.Fatalf("journal: %d records, %d bad, %v", len(recs), bad, err)
	}
	for i, r := range recs {
		d := out.Decisions[i]
		if r.Target != d.Target || r.Verdict != d.Verdict || r.Checkpoint.Size != 7 || r.Checkpoint.Hash != d.Checkpoint.Hash ||
			r.File != files[i] || r.Reason != Reason(d) {
			t.Errorf("journal record %d: %+v", i, r)
		}
	}
	if recs[4].Evaluated != client.Insufficient {
		t.Errorf("the allowed record does not say what the log said: %+v", recs[4])
	}
}

func TestGateSelfContradiction(t *testing.T) {
	w := newWorld(t)
	a := w.deb(t, "tool", "1.0", "a")
	b := w.deb(t, "tool", "1.0", "b")
	w.submit(t, "alice", build("tool", "1.0", "", a))
	w.submit(t, "carol", build("tool", "1.0", "", a))
	w.submit(t, "carol", build("tool", "1.0", "", b))
	out, err := (&Gate{Policy: w.policy(t, w.log.URL)}).Decide(context.Background(), []string{a.Path})
	if err != nil {
		t.Fatal(err)
	}
	d := out.Decisions[0]
	why, todo := Refusal(d, "policy")
	if d.Verdict != client.Conflict || !strings.HasPrefix(why, "a rebuilder contradicts itself: carol contradicted itself") ||
		!strings.Contains(todo, "operator of carol") {
		t.Errorf("%s: %q / %q", d.Verdict, why, todo)
	}
}

func TestGateUnreachable(t *testing.T) {
	w := newWorld(t)
	hello := w.deb(t, "hello", "2.10-3", "hello")
	w.submit(t, "alice", build("hello", "2.10-3", "", hello))
	w.submit(t, "bob", build("hello", "2.10-3", "", hello))
	online := w.policy(t, w.log.URL)
	bundle := fetchBundle(t, online, hello)

	for name, url := range map[string]string{"refused": nettest.RefusedURL(t), "silent": nettest.SilentURL(t)} {
		t.Run(name, func(t *testing.T) {
			os.Remove(hello.Path + BundleSuffix)
			p := w.policy(t, url)
			out, err := (&Gate{Policy: p}).Decide(context.Background(), []string{hello.Path})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Failures) != 1 || !Unreachable(out.Failures[0].Err) || !errors.Is(out.Failures[0].Err, client.ErrLog) ||
				out.Failures[0].Target.SHA256 != hello.SHA256 || len(out.Decisions) != 0 || out.Pass() {
				t.Fatalf("no bundle: %+v", out)
			}
			// The refusal is journaled, as undecided, with why.
			recs, _, bad, err := OpenJournal(p.StateDir).Read(0)
			if err != nil || bad != 0 || len(recs) == 0 {
				t.Fatalf("journal: %d records, %d bad, %v", len(recs), bad, err)
			}
			if r := recs[len(recs)-1]; r.Verdict != Undecided || r.Target != out.Failures[0].Target || r.File != hello.Path ||
				r.Reason != out.Failures[0].Err.Error() || r.Checkpoint != (CheckpointRef{}) || r.Health() != Unknown {
				t.Errorf("journal record: %+v", r)
			}

			// A fresh bundle next to the .deb decides offline.
			if err := os.WriteFile(hello.Path+BundleSuffix, bundle, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err = (&Gate{Policy: p}).Decide(context.Background(), []string{hello.Path})
			if err != nil || len(out.Failures) != 0 || len(out.Decisions) != 1 || !out.Offline[0] ||
				out.Decisions[0].Verdict != client.Reproducible {
				t.Fatalf("with a bundle: %+v %v", out, err)
			}
		})
	}

	// The bundle for another file does not decide this one; one older than
	// what the machine has seen is stale.
	other := w.deb(t, "hello", "2.10-3", "other")
	os.WriteFile(other.Path+BundleSuffix, bundle, 0o644)
	p := w.policy(t, nettest.RefusedURL(t))
	out, _ := (&Gate{Policy: p}).Decide(context.Background(), []string{other.Path})
	if len(out.Decisions) != 1 || out.Decisions[0].Verdict != client.Conflict {
		t.Errorf("a bundle decides about the file it is given, from its statements: %+v", out)
	}
	w.submit(t, "carol", build("hello", "2.10-3", "", hello))
	if _, err := (&Gate{Policy: online}).Decide(context.Background(), []string{hello.Path}); err != nil {
		t.Fatal(err)
	}
	out, _ = (&Gate{Policy: p}).Decide(context.Background(), []string{hello.Path})
	if len(out.Failures) != 1 || !strings.Contains(out.Failures[0].Err.Error(), "stale") {
		t.Errorf("stale bundle: %+v", out)
	}
}

// A log that answers, but wrongly, refuses every file, even one with a
// fresh offline proof at hand: the proof must not hide a misbehaving log.
func TestGateMisbehavingLog(t *testing.T) {
	w := newWorld(t)
	hello := w.deb(t, "hello", "2.10-3", "hello")
	w.submit(t, "alice", build("hello", "2.10-3", "", hello))
	w.submit(t, "bob", build("hello", "2.10-3", "", hello))
	if err := os.WriteFile(hello.Path+BundleSuffix, fetchBundle(t, w.policy(t, w.log.URL), hello), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(path string, body []byte) []byte{
		"malformed lookup": func(path string, body []byte) []byte {
			if path == "/lookup" {
				return []byte("{}")
			}
			return nil
		},
		"unsigned checkpoint": func(path string, body []byte) []byte {
			if path == "/checkpoint" {
				text, _, _ := strings.Cut(string(body), "\n\n")
				return []byte(text + "\n\n")
			}
			return nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			p := w.policy(t, tamper(t, w.log.URL, edit))
			out, err := (&Gate{Policy: p}).Decide(context.Background(), []string{hello.Path})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Decisions) != 0 || len(out.Failures) != 1 || out.Pass() {
				t.Fatalf("decided from the offline proof: %+v", out)
			}
			if f := out.Failures[0]; !errors.Is(f.Err, client.ErrLog) || Unreachable(f.Err) || f.Target.SHA256 != hello.SHA256 {
				t.Errorf("failure: %+v", f)
			}
		})
	}
}

// A log that answers every request within the Timeout, but too slowly
// for the whole decision to finish within its Limit, counts as one that
// could not be reached.
func TestGateSlowLog(t *testing.T) {
	w := newWorld(t)
	var files []string
	var records [][]byte
	for i := range 17 {
		d := w.deb(t, fmt.Sprintf("pkg%02d", i), "1.0-1", "slow")
		files = append(files, d.Path)
		for _, who := range []string{"alice", "bob"} {
			records = append(records, prooftest.Record(t, w.signers[who], build(d.Name, "1.0-1", "", d)))
		}
	}
	w.submitAll(t, records)
	// Half the Timeout per lookup and record; the decision needs at least
	// eight rounds of them one after the other: three rounds of 8 lookups,
	// then five rounds of 8 records.
	p := w.policy(t, delayed(t, w.log.URL, time.Second), "Timeout: 2s")
	out, err := (&Gate{Policy: p}).Decide(context.Background(), files)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Decisions) != 0 || len(out.Failures) != len(files) {
		t.Fatalf("%d decisions, %d failures", len(out.Decisions), len(out.Failures))
	}
	var se *SlowError
	if f := out.Failures[0]; !errors.As(f.Err, &se) || !Unreachable(f.Err) || se.Limit != 3*p.Timeout || se.Packages != 17 {
		t.Errorf("failure: %v", f.Err)
	}
}

func TestGateUnreadableFile(t *testing.T) {
	w := newWorld(t)
	p := w.policy(t, w.log.URL)
	notDeb := w.dir + "/bad.deb"
	os.WriteFile(notDeb, []byte("!<arch>\nnot a deb"), 0o644)
	out, err := (&Gate{Policy: p}).Decide(context.Background(), []string{notDeb, w.dir + "/absent.deb"})
	if err != nil || len(out.Failures) != 2 || out.Pass() {
		t.Fatalf("%+v %v", out, err)
	}
	// Each refusal is journaled, as undecided: the file, and why.
	recs, _, bad, err := OpenJournal(p.StateDir).Read(0)
	if err != nil || bad != 0 || len(recs) != 2 {
		t.Fatalf("journal: %+v, %d bad, %v", recs, bad, err)
	}
	for i, r := range recs {
		if r.Verdict != Undecided || r.Package != "" || r.File != out.Failures[i].File || r.Reason != out.Failures[i].Err.Error() {
			t.Errorf("journal record %d: %+v", i, r)
		}
	}
}

func TestJournalSurvivesTornLine(t *testing.T) {
	dir := t.TempDir()
	j := OpenJournal(dir)
	r := Record{Target: client.Target{Package: "hello", Version: "1", Arch: "all", SHA256: sumA}, Verdict: client.Reproducible}
	if err := j.Append(r); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(dir+"/"+journalName, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"time":"2026-01-01T00:00:00Z","package":"torn`)
	f.Close()
	recs, next, bad, err := j.Read(0)
	if err != nil || len(recs) != 1 || bad != 0 {
		t.Fatalf("before: %d records, %d bad, %v", len(recs), bad, err)
	}
	r.Package = "second"
	if err := j.Append(r); err != nil {
		t.Fatal(err)
	}
	more, _, bad, err := j.Read(next)
	if err != nil || bad != 1 || len(more) != 1 || more[0].Package != "second" {
		t.Fatalf("after: %+v, %d bad, %v", more, bad, err)
	}
	all, _, _, _ := j.Read(0)
	if !slices.EqualFunc(all, []Record{{Target: client.Target{Package: "hello"}}, {Target: client.Target{Package: "second"}}},
		func(a, b Record) bool { return a.Package == b.Package }) {
		t.Errorf("all: %+v", all)
	}
}

func TestReasonDissentNextToK(t *testing.T) {
	w := newWorld(t)
	a := w.deb(t, "tool", "1.0", "a")
	b := w.deb(t, "tool", "1.0", "b")
	w.submit(t, "alice", build("tool", "1.0", "", a))
	w.submit(t, "bob", build("tool", "1.0", "", a))
	w.submit(t, "carol", build("tool", "1.0", "", b))
	out, err := (&Gate{Policy: w.policy(t, w.log.URL)}).Decide(context.Background(), []string{a.Path})
	if err != nil {
		t.Fatal(err)
	}
	d := out.Decisions[0]
	want := "reproduced by alice, bob (2 of the 2 needed); but carol built a different binary from the same build inputs"
	if d.Verdict != client.Reproducible || Reason(d) != want || HealthOf(d) != Reproducible {
		t.Errorf("%s: %q", d.Verdict, Reason(d))
	}
}

func TestDegraded(t *testing.T) {
	for _, c := range []struct {
		from, to Health
		want     bool
	}{
		{Reproducible, Conflict, true}, {Reproducible, Insufficient, true}, {Drift, Conflict, true},
		{Insufficient, Conflict, true}, {Reproducible, Drift, false}, {Drift, Reproducible, false},
		{Insufficient, Reproducible, false}, {Conflict, Insufficient, false}, {Allowed, Conflict, false},
		{Reproducible, Allowed, false}, {Unknown, Conflict, false}, {Reproducible, Unknown, false},
	} {
		if got := Degraded(c.from, c.to); got != c.want {
			t.Errorf("Degraded(%s, %s) = %v", c.from, c.to, got)
		}
	}
}
