package audit_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"

	"github.com/reprolog/reprolog/audit"
	"github.com/reprolog/reprolog/buildinfo"
	"github.com/reprolog/reprolog/log/logtest"
)

// The real pairs of builds: the same source version rebuilt later from
// another .dsc, with other build dependencies.
var pairs = []struct{ source, a, b string }{
	{"golang-defaults", "deb_uli-heller_golang-defaults_1.22~2build1~uh~jammy1_amd64.build-A.buildinfo", "deb_uli-heller_golang-defaults_1.22~2build1~uh~jammy1_amd64.build-B.buildinfo"},
	{"golang-golang-x-sys", "deb_uli-heller_golang-golang-x-sys_0.17.0-1~uh~focal1_amd64.build-A.buildinfo", "deb_uli-heller_golang-golang-x-sys_0.17.0-1~uh~focal1_amd64.build-B.buildinfo"},
	{"cowsql", "deb_uli-heller_cowsql_1.15.4-1ubuntu3~uh~jammy1_amd64.build-A.buildinfo", "deb_uli-heller_cowsql_1.15.4-1ubuntu3~uh~jammy1_amd64.build-B.buildinfo"},
}

const (
	rbtest1 = "gen_local_rbtest_0.1_amd64.build1.buildinfo"
	rbtest2 = "gen_local_rbtest_0.1_amd64.build2.buildinfo"
	rbDeb   = "rbtest_0.1_all.deb"
)

func parseBuildinfo(t *testing.T, name string) *buildinfo.Buildinfo {
	t.Helper()
	b, err := buildinfo.Parse(readTestdata(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// seeded is a log seeded with every kind of conflict.
type seeded struct {
	log     *logtest.Log
	fpr     map[string]string // builder name -> fingerprint
	pairIdx map[string][2]uint64
	rb      map[string]uint64 // "A1", "B2", "C1": rbtest builds; "D1x", "A2x": with another hash
}

func seed(t *testing.T) *seeded {
	t.Helper()
	l := logtest.Start(t)
	b := builders(t, l, "A", "B", "C", "D")
	s := &seeded{log: l, fpr: map[string]string{}, pairIdx: map[string][2]uint64{}, rb: map[string]uint64{}}
	for n, k := range b {
		s.fpr[n] = k.Fingerprint()
	}
	for _, p := range pairs {
		ia := l.Submit(t, b["A"].ClearSign(t, readTestdata(t, p.a)))
		ib := l.Submit(t, b["B"].ClearSign(t, readTestdata(t, p.b)))
		s.pairIdx[p.source] = [2]uint64{ia, ib}
	}
	rb1, rb2 := readTestdata(t, rbtest1), readTestdata(t, rbtest2)
	s.rb["A1"] = l.Submit(t, b["A"].ClearSign(t, rb1))
	s.rb["B2"] = l.Submit(t, b["B"].ClearSign(t, rb2))
	s.rb["C1"] = l.Submit(t, b["C"].ClearSign(t, rb1))
	s.rb["D1x"] = l.Submit(t, b["D"].ClearSign(t, replaceHash(t, rb1, rbDeb, strings.Repeat("ab", 32))))
	s.rb["A2x"] = l.Submit(t, b["A"].ClearSign(t, replaceHash(t, rb2, rbDeb, strings.Repeat("cd", 32))))
	return s
}

func TestConflicts(t *testing.T) {
	s := seed(t)
	var c collector
	a := openAuditor(t, s.log.URL, s.log.VKey, t.TempDir(), &c)
	res := sync1(t, a)
	if res.Processed != 11 || res.Verified != 11 || res.Position != 11 {
		t.Fatalf("first sync: %+v", res)
	}

	// One source-changed finding per pair: each was rebuilt from another .dsc.
	var sources []string
	for _, f := range c.ofKind(audit.SourceChanged) {
		sources = append(sources, f.Source)
		idx := s.pairIdx[f.Source]
		if len(f.Entries) != 2 || f.Entries[0].Index != int64(idx[1]) || f.Entries[1].Index != int64(idx[0]) {
			t.Errorf("source-changed %s: entries %+v, want %v", f.Source, f.Entries, idx)
		}
	}
	slices.Sort(sources)
	if want := []string{"cowsql", "golang-defaults", "golang-golang-x-sys"}; !slices.Equal(sources, want) {
		t.Errorf("source-changed for %q, want %q", sources, want)
	}

	// Drift: one finding per pair that has any, listing every binary whose
	// hash differs between the two builds, and only those.
	wantDrift, gotDrift := map[string][]string{}, map[string][]string{}
	for _, p := range pairs {
		a, b := parseBuildinfo(t, p.a), parseBuildinfo(t, p.b)
		for _, fa := range a.Files {
			for _, fb := range b.Files {
				if fa.IsBinary() && fa.Name == fb.Name && fa.SHA256 != fb.SHA256 {
					wantDrift[p.source] = append(wantDrift[p.source], fa.Package+" "+fa.Arch)
				}
			}
		}
	}
	for _, f := range c.ofKind(audit.Drift) {
		idx := s.pairIdx[f.Source]
		if len(f.Entries) != 2 || f.Entries[0].Index != int64(idx[1]) || f.Entries[1].Index != int64(idx[0]) ||
			f.Entries[0].Inputs == f.Entries[1].Inputs || gotDrift[f.Source] != nil {
			t.Errorf("drift %s: evidence %+v", f.Source, f.Entries)
		}
		for _, b := range f.Binaries {
			gotDrift[f.Source] = append(gotDrift[f.Source], b.Package+" "+b.Arch)
			if len(b.Hashes) != 2 || b.Hashes[0].SHA256 == b.Hashes[1].SHA256 {
				t.Errorf("drift %s: hashes %+v", b.Package, b.Hashes)
			}
		}
		if (len(f.Binaries) == 1) != (f.Package != "") {
			t.Errorf("drift %s: package %q for %d binaries", f.Source, f.Package, len(f.Binaries))
		}
	}
	for _, d := range []map[string][]string{wantDrift, gotDrift} {
		for _, names := range d {
			slices.Sort(names)
		}
	}
	if len(wantDrift["cowsql"]) != 3 || fmt.Sprint(gotDrift) != fmt.Sprint(wantDrift) {
		t.Errorf("drift for %q, want %q", gotDrift, wantDrift)
	}

	// D disagrees with A, B and C; A's second report contradicts its
	// first and disagrees with B, C and D.
	dis := c.ofKind(audit.Disagreement)
	if len(dis) != 2 {
		t.Fatalf("%d disagreements, want 2: %+v", len(dis), dis)
	}
	for i, want := range []struct {
		idx    uint64
		others []string
	}{{s.rb["D1x"], []string{"A", "B", "C"}}, {s.rb["A2x"], []string{"B", "C", "D"}}} {
		f := dis[i]
		if f.Package != "rbtest" || f.Entries[0].Index != int64(want.idx) {
			t.Errorf("disagreement %d: %s, entry %d, want rbtest at %d", i, f.Package, f.Entries[0].Index, want.idx)
		}
		var others []string
		for _, e := range f.Entries[1:] {
			others = append(others, e.Builder)
		}
		var wantFprs []string
		for _, n := range want.others {
			wantFprs = append(wantFprs, s.fpr[n])
		}
		slices.Sort(others)
		slices.Sort(wantFprs)
		if !slices.Equal(others, wantFprs) {
			t.Errorf("disagreement %d names builders %q, want %q", i, others, wantFprs)
		}
	}
	self := c.ofKind(audit.SelfContradiction)
	if len(self) != 1 || self[0].Entries[0].Index != int64(s.rb["A2x"]) || self[0].Entries[1].Index != int64(s.rb["A1"]) ||
		self[0].Entries[0].Builder != s.fpr["A"] {
		t.Errorf("self-contradictions: %+v", self)
	}
	if m := c.ofKind(audit.LogMisbehaviour); len(m) != 0 {
		t.Errorf("an honest log misbehaves: %+v", m)
	}
	for _, f := range c.all() {
		checkEvidence(t, s.log, f)
	}

	// Nothing new: nothing found again.
	before := len(c.all())
	if res := sync1(t, a); res.Processed != 0 || len(c.all()) != before {
		t.Errorf("second sync: %+v, %d findings", res, len(c.all())-before)
	}
	ids := map[int64]bool{}
	for _, f := range c.all() {
		if ids[f.ID] {
			t.Errorf("finding %d delivered twice", f.ID)
		}
		ids[f.ID] = true
	}
}

// checkEvidence checks a finding as a third party would: its checkpoint is
// signed by the log and every entry it names is in the log at that index.
func checkEvidence(t *testing.T, l *logtest.Log, f audit.Finding) {
	t.Helper()
	if f.Log != l.Origin || f.Summary == "" || f.ID == 0 || f.Found.IsZero() {
		t.Errorf("finding %d: log %q, summary %q, found %v", f.ID, f.Log, f.Summary, f.Found)
	}
	if len(f.Entries) == 0 {
		return
	}
	v, err := note.NewVerifier(l.VKey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open([]byte(f.Checkpoint), note.VerifierList(v))
	if err != nil {
		t.Fatalf("finding %d: checkpoint: %v", f.ID, err)
	}
	cp, err := torchwood.ParseCheckpoint(n.Text)
	if err != nil {
		t.Fatal(err)
	}
	tf, err := torchwood.NewTileFetcher(l.URL)
	if err != nil {
		t.Fatal(err)
	}
	client, err := torchwood.NewClient(tf)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range f.Entries {
		entry, _, err := client.Entry(context.Background(), cp.Tree, e.Index)
		if err != nil {
			t.Fatalf("finding %d: entry %d: %v", f.ID, e.Index, err)
		}
		if string(entry) != e.Statement || !strings.Contains(e.Statement, "builder "+e.Builder+"\n") ||
			!strings.Contains(e.Statement, "record "+e.Record+" ") {
			t.Errorf("finding %d: entry %d is not the statement the finding quotes", f.ID, e.Index)
		}
		if e.SHA256 != "" && !strings.Contains(e.Statement, " "+e.SHA256+" ") {
			t.Errorf("finding %d: entry %d does not list %s", f.ID, e.Index, e.SHA256)
		}
	}
	for _, b := range f.Binaries {
		for _, h := range b.Hashes {
			i := slices.IndexFunc(f.Entries, func(e audit.Entry) bool { return e.Index == h.Index })
			line := fmt.Sprintf("\nbinary %s %s %s %s ", b.Package, b.Version, b.Arch, h.SHA256)
			if i < 0 || !strings.Contains(f.Entries[i].Statement, line) {
				t.Errorf("finding %d: entry %d does not list %s as %s", f.ID, h.Index, b.Package, h.SHA256)
			}
		}
	}
}

func TestReport(t *testing.T) {
	s := seed(t)
	dir := t.TempDir()
	var c collector
	a := openAuditor(t, s.log.URL, s.log.VKey, dir, &c)
	sync1(t, a)
	r, err := audit.ReadReport(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Log != s.log.Origin || r.TreeSize != 11 || r.Position != 11 || r.Entries["verified"] != 11 ||
		r.Findings[audit.SourceChanged] != 3 || r.Findings[audit.Disagreement] != 2 {
		t.Errorf("report: %+v", r)
	}
	status := map[string]audit.PackageStatus{}
	for _, p := range r.Packages {
		status[p.Package] = p
	}
	rb := status["rbtest"]
	if rb.Status != audit.StatusSelfContradiction || rb.Builders != 4 || rb.SHA256 != "748e3638f64df974a57e60577f1ad5de08be7a85dc7a8f8e201671261e3ba530" ||
		len(rb.Agree) != 3 || !slices.Equal(rb.SelfContradicting, []string{s.fpr["A"]}) || len(rb.Dissent) != 2 {
		t.Errorf("rbtest: %+v", rb)
	}
	if g := status["golang-go"]; g.Status != audit.StatusReproduced || len(g.Agree) != 2 || g.Inputs != 2 {
		t.Errorf("golang-go: %+v", g)
	}
	if x := status["golang-golang-x-sys-dev"]; x.Status != audit.StatusDrift || len(x.Drift) != 1 || len(x.Agree) != 1 {
		t.Errorf("golang-golang-x-sys-dev: %+v", x)
	}
	if len(r.Sources) != 3 || len(r.Sources[0].DSCs) != 2 {
		t.Errorf("sources changed: %+v", r.Sources)
	}
	var text strings.Builder
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "rbtest 0.1 all: self-contradiction, 3 of 4 builders agree on 748e3638f64d") {
		t.Errorf("text report:\n%s", text.String())
	}
}

// The diffoscope test files are a draft of the format: the log refuses
// them, so there is nothing to audit.
func TestDraftBuildinfoNotLogged(t *testing.T) {
	l := logtest.Start(t)
	b := builders(t, l, "A")
	for _, name := range []string{"deb_diffoscope_test1.buildinfo", "deb_diffoscope_test2.buildinfo"} {
		resp, err := http.Post(l.URL+"/add", "text/plain", strings.NewReader(string(b["A"].ClearSign(t, readTestdata(t, name)))))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %s, want 400", name, resp.Status)
		}
	}
	var c collector
	a := openAuditor(t, l.URL, l.VKey, t.TempDir(), &c)
	if res := sync1(t, a); res.TreeSize != 0 || len(c.all()) != 0 {
		t.Errorf("empty log: %+v, %+v", res, c.all())
	}
}

// A checkpoint the quorum check refuses is not used, and nothing is
// found: it is not the log's fault.
func TestQuorumRefused(t *testing.T) {
	s := startSmall(t)
	var c collector
	refuse := true
	a := openAuditor(t, s.log.URL, s.log.VKey, t.TempDir(), &c, func(cfg *audit.Config) {
		cfg.Quorum = func(signed []byte) error {
			openTree(t, s.log.VKey, string(signed))
			if refuse {
				return errors.New("no cosignature from w1")
			}
			return nil
		}
	})
	res := sync1(t, a)
	if res.Unused == nil || !strings.Contains(res.Unused.Error(), "w1") || res.Processed != 0 || len(c.all()) != 0 {
		t.Fatalf("%+v, %+v", res, c.all())
	}
	refuse = false
	if res := sync1(t, a); res.Unused != nil || res.Processed != 3 {
		t.Errorf("%+v", res)
	}
}
