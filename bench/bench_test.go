package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprolog/reprolog/buildinfo"
	"github.com/reprolog/reprolog/internal/testbin"
	rlog "github.com/reprolog/reprolog/log"
	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/statement"
)

// TestWorld: every generated build is a valid buildinfo of its own
// source, version and files; short environments are real but smaller.
func TestWorld(t *testing.T) {
	w := &World{Sources: 3, Rebuilders: 2, ShortFrom: 4,
		Override: map[int][]File{1: {{Name: "bsrc1_1.0-1_amd64.deb", SHA256: strings.Repeat("ab", 32), Size: 42}}}}
	seen := map[string]bool{}
	for b := range 6 {
		build := w.Build(b)
		bi, err := buildinfo.Parse(build.Text())
		if err != nil {
			t.Fatalf("build %d: %v\n%s", b, err, build.Text())
		}
		if bi.Source != build.Source || bi.Version != build.Version || len(bi.Files) != len(build.Files) {
			t.Errorf("build %d parses as %s %s with %d files", b, bi.Source, bi.Version, len(bi.Files))
		}
		for i, f := range build.Files {
			if bi.Files[i].SHA256 != f.SHA256 || bi.Files[i].Size != f.Size || bi.Files[i].Name != f.Name {
				t.Errorf("build %d file %d: %+v, want %+v", b, i, bi.Files[i], f)
			}
		}
		key := build.Source + " " + build.Version
		if seen[key] {
			t.Errorf("build %d repeats %s", b, key)
		}
		seen[key] = true
		short := len(bi.InstalledBuildDepends) == shortDepends
		if short != (b >= 4) {
			t.Errorf("build %d has %d installed build dependencies", b, len(bi.InstalledBuildDepends))
		}
	}
	if b := w.Build(1); b.Files[0].Size != 42 {
		t.Errorf("the override is not used: %+v", b.Files)
	}
	if len(w.Build(5).Text()) >= len(w.Build(3).Text())-4000 {
		t.Errorf("a short build environment is not shorter")
	}
}

// TestMeasurements runs each measurement small against a real log: the
// figures count what was done, and what was submitted is in the log.
func TestMeasurements(t *testing.T) {
	ctx := context.Background()
	a, err := NewRebuilder("a", Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewRebuilder("c", Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	rebs := []*Rebuilder{a, c}
	w := &World{Sources: 50, Rebuilders: len(rebs)}
	dir := t.TempDir()
	debs, err := Debs(filepath.Join(dir, "debs"), w, []int{3, 4})
	if err != nil {
		t.Fatal(err)
	}
	records, err := Sign(w, rebs, 0, 40)
	if err != nil {
		t.Fatal(err)
	}
	by := SignedBy(rebs, 0, 40)
	if r, err := VerifyAlone(records, by); err != nil || r.N != 40 {
		t.Fatalf("verification alone: %+v %v", r, err)
	}
	if _, err := VerifyAlone(records, SignedBy([]*Rebuilder{c, a}, 0, 40)); err == nil {
		t.Fatal("records verified with the wrong keys")
	}
	statements, err := Statements(records, by)
	if err != nil {
		t.Fatal(err)
	}
	st, err := statement.Parse(statements[7])
	if err != nil || st.Builder != c.Fingerprint() || st.Source != w.Build(3).Source {
		t.Fatalf("statement 7: %+v %v", st, err)
	}

	cfg, err := rlog.SetupDir(ctx, filepath.Join(dir, "tessera"), "bench.test/log")
	if err != nil {
		t.Fatal(err)
	}
	r, err := TesseraAlone(ctx, cfg.Driver, cfg.Signer, 100*time.Millisecond, statements, 8)
	cfg.Store.Close()
	if err != nil || r.N != 40 || r.P50 <= 0 {
		t.Fatalf("Tessera alone: %+v %v", r, err)
	}

	l := logtest.Start(t)
	if err := Register(ctx, l.URL, rebs); err != nil {
		t.Fatal(err)
	}
	if r, err := Submit(ctx, l.URL, records, 8); err != nil || r.N != 40 {
		t.Fatalf("submit: %+v %v", r, err)
	}
	if r, err := Fill(ctx, l.URL, w, rebs, 40, 60, 4, nil); err != nil || r.N != 20 {
		t.Fatalf("fill: %+v %v", r, err)
	}
	if _, err := Lookups(l.URL, w, []int{0, 3, 29}); err != nil {
		t.Fatal(err)
	}
	if _, err := Lookups(l.URL, w, []int{30}); err == nil {
		t.Fatal("a lookup of a build not in the log succeeded")
	}
	if r, err := TilesRate(ctx, l.URL, l.VKey); err != nil || r.N != 60 {
		t.Fatalf("tiles: %+v %v", r, err)
	}
	if r, err := AuditRate(ctx, l.URL, l.VKey, filepath.Join(dir, "audit")); err != nil || r.N != 60 || r.StateBytes < 60*100 {
		t.Fatalf("audit: %+v %v", r, err)
	}
	if v, c, err := RecordBounds(w, rebs, 60, 20); err != nil || v.N != 20 || c.N != 20 {
		t.Fatalf("the log's records alone: %+v %+v %v", v, c, err)
	}
	if _, err := CheckAlone(records, SignedBy([]*Rebuilder{c, a}, 0, 40)); err == nil {
		t.Fatal("records checked with the wrong keys")
	}

	reprolog := testbin.Build(t, "reprolog")
	policy, err := Policy(dir, l.URL, l.VKey, rebs, 2)
	if err != nil {
		t.Fatal(err)
	}
	if lat, err := VerifyCommand(reprolog, policy, debs, 2); err != nil || lat.Runs != 2 || lat.P50 <= 0 {
		t.Fatalf("reprolog verify: %+v %v", lat, err)
	}
	if lat, err := VerifyCommands([]string{reprolog, reprolog}, policy, debs[:1], 1); err != nil || len(lat) != 2 || lat[1].Runs != 1 {
		t.Fatalf("reprolog verify, two binaries taking turns: %+v %v", lat, err)
	}
	status, lists, builds, err := System(filepath.Join(dir, "system"), w, 6)
	if err != nil || len(builds) != 6 || builds[5] != 2 {
		t.Fatalf("system: %v %v", builds, err)
	}
	_, res, err := CheckCommand(reprolog, policy, filepath.Join(dir, "state"), status, lists, true, 1)
	if err != nil || res.Total != 6 || res.Decided != 6 || res.Counts["reproducible"] != 6 {
		t.Fatalf("reprolog check, cold: %+v %v", res, err)
	}
	if _, res, err = CheckCommand(reprolog, policy, filepath.Join(dir, "state"), status, lists, false, 1); err != nil || res.Decided != 0 {
		t.Fatalf("reprolog check again: %+v %v", res, err)
	}
	// A .deb that no rebuilder built does not pass.
	other, err := Debs(filepath.Join(dir, "other"), &World{Sources: 50, Rebuilders: 2}, []int{45})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyCommand(reprolog, policy, other, 1); err == nil {
		t.Fatal("reprolog verify passed a .deb nobody rebuilt")
	}
}

// TestServerProcess runs the benchmark's server process: it serves a log,
// reports its memory, and stops on request.
func TestServerProcess(t *testing.T) {
	exe := testbin.Build(t, "reprolog-bench")
	dir := t.TempDir()
	p, err := Start(exe, ServeConfig{Dir: dir, CheckpointInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewRebuilder("a", Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	if err := Register(context.Background(), p.URL, []*Rebuilder{a}); err != nil {
		t.Fatal(err)
	}
	now, peak, err := p.RSS()
	if err != nil || now <= 1<<20 || peak < now {
		t.Errorf("RSS %d, peak %d: %v", now, peak, err)
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(filepath.Join(dir, rlog.VerifierKeyFile))
	if err != nil || !bytes.HasPrefix(pub, []byte("bench.reprolog/log+")) {
		t.Fatalf("log.pub: %q %v", pub, err)
	}
}
