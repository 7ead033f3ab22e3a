package audit_test

import (
	"crypto/sha256"
	"encoding/hex"
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
