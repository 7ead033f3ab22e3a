package buildinfo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// signedBody returns the text between the armor headers and the signature of
// a clear-signed file, enough for these tests; the pgp package owns real
// clear-sign parsing.
func signedBody(t testing.TB, b []byte) []byte {
	s := string(b)
	if !strings.HasPrefix(s, "-----BEGIN PGP SIGNED MESSAGE-----") {
		return b
	}
	_, s, _ = strings.Cut(s, "\n\n")
	s, _, _ = strings.Cut(s, "-----BEGIN PGP SIGNATURE-----")
	return []byte(s)
}

func TestCorpus(t *testing.T) {
	want := map[string]error{ // nil: parses
		"arch_alpm_INVALID_v2-with-format1.BUILDINFO":                                   ErrUnsupported,
		"arch_alpm_snapshot_case_1_buildinfov1_all_fields_via_cli.BUILDINFO":            ErrUnsupported,
		"arch_alpm_snapshot_case_3_buildinfov2_all_fields_via_cli.BUILDINFO":            ErrUnsupported,
		"arch_alpm_snapshot_case_4_buildinfov2_optional_fields_via_cli.BUILDINFO":       ErrUnsupported,
		"arch_repro-threshold_filesystem-2025.10.12-1-any.BUILDINFO":                    ErrUnsupported,
		"deb_diffoscope_test1.buildinfo":                                                ErrUnsupported,
		"deb_diffoscope_test2.buildinfo":                                                ErrUnsupported,
		"deb_deb-rs_hello_2.10-3_amd64.buildinfo":                                       nil,
		"deb_devscripts_sphinx_1.7.2-1_amd64.buildinfo":                                 nil,
		"deb_python-debian_lxml_4.5.2-1+b1_amd64.buildinfo.asc":                         nil,
		"deb_rebuilderd-crawler_courier_1.0.16-3+b1_amd64.buildinfo.asc":                nil,
		"deb_rebuilderd-crawler_rust-sniffglue_0.14.0-2_amd64.buildinfo.asc":            nil,
		"deb_uli-heller_cowsql_1.15.4-1ubuntu3~uh~jammy1_amd64.build-A.buildinfo":       nil,
		"deb_uli-heller_cowsql_1.15.4-1ubuntu3~uh~jammy1_amd64.build-B.buildinfo":       nil,
		"deb_uli-heller_golang-defaults_1.22~2build1~uh~jammy1_amd64.build-A.buildinfo": nil,
		"deb_uli-heller_golang-defaults_1.22~2build1~uh~jammy1_amd64.build-B.buildinfo": nil,
		"deb_uli-heller_golang-golang-x-sys_0.17.0-1~uh~focal1_amd64.build-A.buildinfo": nil,
		"deb_uli-heller_golang-golang-x-sys_0.17.0-1~uh~focal1_amd64.build-B.buildinfo": nil,
		"deb_uli-heller_virtualbox_7.0.24-2ubuntu1.1~uh~jammy1_amd64.buildinfo":         nil,
		"gen_local_rbtest_0.1_amd64.build1.buildinfo":                                   nil,
		"gen_local_rbtest_0.1_amd64.build2.buildinfo":                                   nil,
		"gen_local_rbtest_0.1_amd64.build3-otherpath-tz-nocheck.buildinfo":              nil,
		"gen_local_rbtest_0.1_amd64.build4-with-path-kernel.buildinfo":                  nil,
		"gen_local_rbtest_0.1_amd64.build6-under-slash-build.buildinfo":                 nil,
		"gen_local_rbtest_0.1_source.buildinfo":                                         nil,
	}
	files, _ := filepath.Glob("testdata/*")
	if len(files) != len(want) {
		t.Errorf("testdata has %d files, the table %d", len(files), len(want))
	}
	for name, wantErr := range want {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			b, err := Parse(signedBody(t, raw))
			if !errors.Is(err, wantErr) || (wantErr == nil) != (err == nil) {
				t.Fatalf("Parse: %v, want %v", err, wantErr)
			}
			if err != nil {
				return
			}
			if len(b.Files) == 0 || len(b.InstalledBuildDepends) == 0 {
				t.Errorf("parsed %d files, %d installed build-depends", len(b.Files), len(b.InstalledBuildDepends))
			}
		})
	}
}

// addCorpus seeds a fuzz target with the text of every corpus file in
// testdata (the signed text of a clear-signed one).
func addCorpus(f *testing.F) {
	files, err := filepath.Glob("testdata/*")
	if err != nil || len(files) == 0 {
		f.Fatalf("no corpus in testdata: %v", err)
	}
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(signedBody(f, raw))
	}
}
