package statement

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/reprolog/reprolog/buildinfo"
)

var update = flag.Bool("update", false, "rewrite the golden test vector")

const (
	vectorRecord  = "testdata/gen_devscriptskey_rbtest_0.1_amd64.build1.buildinfo.asc"
	vectorBuilder = "CF218F0E7EABF584B7E20402C77E2D6872543FAF" // key_devscripts_debsign_public_key.asc
	vectorGolden  = "testdata/rbtest_0.1_amd64.build1.statement"
)

// naiveBody cuts the signed text out of a clear-signed file; the vector's
// record is plain (no dash-escaped lines), which the test checks.
func naiveBody(t *testing.T, rec []byte) []byte {
	_, s, _ := strings.Cut(string(rec), "\n\n")
	s, _, _ = strings.Cut(s, "-----BEGIN PGP SIGNATURE-----")
	if strings.Contains(s, "\n- ") {
		t.Fatal("the vector record has dash-escaped lines")
	}
	return []byte(s)
}

func vector(t *testing.T) (*Statement, []byte) {
	rec, err := os.ReadFile(vectorRecord)
	if err != nil {
		t.Fatal(err)
	}
	b, err := buildinfo.Parse(naiveBody(t, rec))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Derive(b, vectorBuilder, rec)
	if err != nil {
		t.Fatal(err)
	}
	return s, rec
}

func TestVector(t *testing.T) {
	s, _ := vector(t)
	got := s.Marshal()
	if *update {
		if err := os.WriteFile(vectorGolden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(vectorGolden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("statement:\n%s\nwant:\n%s", got, want)
	}
	spec, err := os.ReadFile("SPEC.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(spec, indent(want)) {
		t.Errorf("SPEC.md does not show the test vector as derived:\n%s", indent(want))
	}
}

func indent(b []byte) []byte {
	var out bytes.Buffer
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if l != "" {
			out.WriteString("    " + l)
		}
	}
	return out.Bytes()
}
