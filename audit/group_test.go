package audit_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"github.com/reprolog/reprolog/audit"
	"github.com/reprolog/reprolog/buildinfo"
	"github.com/reprolog/reprolog/pgp"
)

// courierFile is a real buildd binNMU (Binary-Only-Changes, version
// 1.0.16-3+b1) of 19 binary packages, signed by a key we do not have: its
// text is signed again by test builders.
const courierFile = "deb_rebuilderd-crawler_courier_1.0.16-3+b1_amd64.buildinfo.asc"

func courier(t *testing.T) []byte {
	t.Helper()
	s, err := pgp.ParseClearsigned(readTestdata(t, courierFile))
	if err != nil {
		t.Fatal(err)
	}
	return s.Text
}

// otherBinaries gives every binary package of a buildinfo another hash,
// as a rebuilder whose files all differ would report them.
func otherBinaries(t *testing.T, text []byte) ([]byte, int) {
	t.Helper()
	b, err := buildinfo.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range b.Files {
		if f.IsBinary() {
			sum := sha256.Sum256([]byte("other " + f.SHA256))
			text = replaceHash(t, text, f.Name, hex.EncodeToString(sum[:]))
			n++
		}
	}
	return text, n
}

// A record whose 19 binary packages all differ from another builder's is
// one finding listing the 19, not 19 findings.
func TestGroupedFinding(t *testing.T) {
	l := startSmall(t)
	text := courier(t)
	other, n := otherBinaries(t, text)
	if n != 19 {
		t.Fatalf("%d binary packages, want 19", n)
	}
	a := l.add(t, l.b["A"].ClearSign(t, text))
	d := l.add(t, l.b["D"].ClearSign(t, other))
	var c collector
	au := openAuditor(t, l.log.URL, l.log.VKey, t.TempDir(), &c)
	sync1(t, au)
	fs := c.all()
	if len(fs) != 1 || fs[0].Kind != audit.Disagreement {
		t.Fatalf("%d findings: %+v", len(fs), fs)
	}
	f := fs[0]
	if len(f.Binaries) != 19 || f.Package != "" || f.Source != "courier" || f.SourceVersion != "1.0.16-3" ||
		len(f.Entries) != 2 || f.Entries[0].Index != int64(d) || f.Entries[1].Index != int64(a) ||
		!strings.HasPrefix(f.Summary, "builders disagree on 19 binary packages of courier 1.0.16-3 built from the same inputs: "+l.b["D"].Fingerprint()) {
		t.Errorf("finding %+v", f)
	}
	for _, b := range f.Binaries {
		if len(b.Hashes) != 2 || b.Hashes[0].Index != int64(d) || b.Hashes[1].Index != int64(a) || b.Hashes[0].SHA256 == b.Hashes[1].SHA256 {
			t.Errorf("%s: hashes %+v", b.Package, b.Hashes)
		}
	}
	checkEvidence(t, l.log, f)
}

// A binNMU (Binary-Only-Changes, version 1.0.16-3+b1): the log's index
// names it by the source's version and by the binNMU version, and the
// auditor checks both lookups against what it saw.
func TestBinNMU(t *testing.T) {
	l := startSmall(t)
	text := courier(t)
	a := l.add(t, l.b["A"].ClearSign(t, text))
	b := l.add(t, l.b["B"].ClearSign(t, text))
	var c collector
	dir := t.TempDir()
	sync1(t, openAuditor(t, l.log.URL, l.log.VKey, dir, &c))
	if len(c.all()) != 0 {
		t.Fatalf("two agreeing builds of a binNMU: %+v", c.all())
	}
	r, err := audit.ReadReport(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(r.Packages, func(p audit.PackageStatus) bool { return p.Package == "courier-imap" })
	if i < 0 || r.Packages[i].Version != "5.0.13+1.0.16-3+b1" || r.Packages[i].Status != audit.StatusReproduced {
		t.Errorf("report: %+v", r.Packages)
	}

	// The log's index loses entry a under the binNMU version, and entry b
	// under the source's version.
	db := logDB(t, l.log)
	for _, drop := range []struct {
		version string
		idx     uint64
	}{{"1.0.16-3+b1", a}, {"1.0.16-3", b}} {
		if _, err := db.Exec(`DELETE FROM sources WHERE source = 'courier' AND version = ? AND idx = ?`, drop.version, drop.idx); err != nil {
			t.Fatal(err)
		}
	}
	c = collector{}
	sync1(t, openAuditor(t, l.log.URL, l.log.VKey, t.TempDir(), &c))
	got := map[string][]int64{}
	for _, f := range c.all() {
		if f.Problem != audit.ProblemLookupOmission || f.Source != "courier" {
			t.Errorf("finding %+v", f)
			continue
		}
		got[f.SourceVersion] = f.Lookup.Omitted
		checkEvidence(t, l.log, f)
	}
	if len(got) != 2 || !slices.Equal(got["1.0.16-3+b1"], []int64{int64(a)}) || !slices.Equal(got["1.0.16-3"], []int64{int64(b)}) {
		t.Errorf("omissions: %v", got)
	}
}
