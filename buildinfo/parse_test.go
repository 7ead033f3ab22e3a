package buildinfo

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func fixture(t testing.TB) string {
	raw, err := os.ReadFile("testdata/gen_local_rbtest_0.1_amd64.build1.buildinfo")
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func TestParseFields(t *testing.T) {
	b := parseFile(t, "deb_rebuilderd-crawler_courier_1.0.16-3+b1_amd64.buildinfo.asc")
	if b.Source != "courier" || b.SourceVersion != "1.0.16-3" || b.Version != "1.0.16-3+b1" {
		t.Errorf("source %q %q version %q", b.Source, b.SourceVersion, b.Version)
	}
	if len(b.Files) != 19 || len(b.Binaries) != 19 {
		t.Errorf("%d files, %d binaries, want 19", len(b.Files), len(b.Binaries))
	}
	var imap File
	for _, f := range b.Files {
		if f.Package == "courier-imap" {
			imap = f
		}
	}
	if imap.Version != "5.0.13+1.0.16-3+b1" || imap.Arch != "amd64" || imap.Size != 277952 ||
		imap.SHA256 != "67acfd8593f6c0a12a2681906e43dfe2872a694bd74e5438726646ec0e2af0a6" {
		t.Errorf("courier-imap: %+v", imap)
	}
	if len(b.BinaryOnlyChanges) != 6 || b.BinaryOnlyChanges[1] != "" {
		t.Errorf("Binary-Only-Changes: %q", b.BinaryOnlyChanges)
	}

	src := parseFile(t, "gen_local_rbtest_0.1_source.buildinfo")
	if dsc, ok := src.DSC(); !ok || dsc.Name != "rbtest_0.1.dsc" || dsc.IsBinary() || len(src.Binaries) != 0 {
		t.Errorf("source-only build: dsc %+v %v, binaries %q", dsc, ok, src.Binaries)
	}

	py := parseFile(t, "deb_python-debian_lxml_4.5.2-1+b1_amd64.buildinfo.asc")
	if len(py.InstalledBuildDepends) != 207 || len(py.Environment) != 3 {
		t.Errorf("lxml: %d installed build-depends, %d environment lines; python-debian's test expects 207 and 3",
			len(py.InstalledBuildDepends), len(py.Environment))
	}
}

func TestParseRejects(t *testing.T) {
	const sum = "748e3638f64df974a57e60577f1ad5de08be7a85dc7a8f8e201671261e3ba530"
	tests := []struct {
		name string
		edit func(string) string
		want error
		msg  string
	}{
		{"duplicate field", add("Version: 0.1\n"), ErrMalformed, "duplicate field Version"},
		{"duplicate field other case", add("version: 0.2\n"), ErrMalformed, "duplicate field version"},
		{"comment", add("# hello\n"), ErrMalformed, "comments"},
		{"second paragraph", func(s string) string { return s + "\nFormat: 1.0\n" }, ErrMalformed, "blank line"},
		{"leading blank line", func(s string) string { return "\n" + s }, ErrMalformed, "blank line"},
		{"whitespace-only line", add(" \n"), ErrMalformed, "blank line"},
		{"not UTF-8", add("X-Note: \xff\xfe\n"), ErrMalformed, "UTF-8"},
		{"carriage return", replace("Version: 0.1\n", "Version: 0.1\r\n"), ErrMalformed, "control character"},
		{"NUL", add("X-Note: a\x00b\n"), ErrMalformed, "control character"},
		{"not a field", add("Hello world\n"), ErrMalformed, "not a field"},
		{"continuation first", func(s string) string { return " x\n" + s }, ErrMalformed, "continuation"},
		{"field name with dash start", add("-X: y\n"), ErrMalformed, "not a field"},
		{"missing Format", replace("Format: 1.0\n", ""), ErrMalformed, "missing field Format"},
		{"Format 2.0", replace("Format: 1.0", "Format: 2.0"), ErrUnsupported, "Format"},
		{"Format 1.0 with junk", replace("Format: 1.0", "Format: 1.0a"), ErrUnsupported, "Format"},
		{"missing Source", replace("Source: rbtest\n", ""), ErrMalformed, "missing field Source"},
		{"missing Installed-Build-Depends", replace("Installed-Build-Depends:", "Build-Environment:"), ErrUnsupported, "draft"},
		{"missing Checksums-Sha256", replace("Checksums-Sha256:\n "+sum+" 840 rbtest_0.1_all.deb\n", ""), ErrMalformed, "Checksums-Sha256"},
		{"missing Binary", replace("Binary: rbtest\n", ""), ErrMalformed, "missing field Binary"},
		{"bad Source", replace("Source: rbtest", "Source: RB_test"), ErrMalformed, "Source"},
		{"bad source version", replace("Source: rbtest", "Source: rbtest 0.1"), ErrMalformed, "Source"},
		{"bad Version", replace("Version: 0.1", "Version: a.1"), ErrMalformed, "Version"},
		{"Version with space", replace("Version: 0.1", "Version: 0.1 0.2"), ErrMalformed, "Version"},
		{"bad Architecture", replace("Architecture: all", "Architecture: al/l"), ErrMalformed, "Architecture"},
		{"repeated Architecture", replace("Architecture: all", "Architecture: all all"), ErrMalformed, "Architecture"},
		{"path in file name", replace(" 840 rbtest_0.1_all.deb", " 840 ../rbtest_0.1_all.deb"), ErrMalformed, "unsafe file name"},
		{"slash in file name", replace(sum+" 840 rbtest_0.1_all.deb", sum+" 840 x/rbtest_0.1_all.deb"), ErrMalformed, "unsafe file name"},
		{"hidden file name", replace(sum+" 840 rbtest_0.1_all.deb", sum+" 840 .rbtest_0.1_all.deb"), ErrMalformed, "unsafe file name"},
		{"upper-case sha256", replace(sum, strings.ToUpper(sum)), ErrMalformed, "bad checksum"},
		{"short sha256", replace(sum, sum[:60]), ErrMalformed, "bad checksum"},
		{"size with leading zero", replace(sum+" 840", sum+" 0840"), ErrMalformed, "bad size"},
		{"negative size", replace(sum+" 840", sum+" -840"), ErrMalformed, "bad size"},
		{"extra token", replace(sum+" 840", sum+" 840 main"), ErrMalformed, "checksum size name"},
		{"file listed twice", replace(sum+" 840 rbtest_0.1_all.deb\n", sum+" 840 rbtest_0.1_all.deb\n "+sum+" 840 rbtest_0.1_all.deb\n"), ErrMalformed, "twice"},
		{"md5 lists another file", replace(" 840 rbtest_0.1_all.deb\nChecksums-Sha1", " 840 other_0.1_all.deb\nChecksums-Sha1"), ErrMalformed, "disagree"},
		{"sha1 size differs", replace("8a769755a99d4d745f44e6dcaf1b881f125ebbcd 840", "8a769755a99d4d745f44e6dcaf1b881f125ebbcd 841"), ErrMalformed, "disagree"},
		{"deb name not package_version_arch", func(s string) string { return strings.ReplaceAll(s, "rbtest_0.1_all.deb", "rbtest-0.1-all.deb") }, ErrMalformed, "package_version_arch"},
		{"deb name with epoch", func(s string) string { return strings.ReplaceAll(s, "rbtest_0.1_all.deb", "rbtest_1:0.1_all.deb") }, ErrMalformed, "unsafe file name"},
		{"checksums on the name line", replace("Checksums-Sha256:\n "+sum, "Checksums-Sha256: "+sum), ErrMalformed, "line after"},
		{"bad Installed-Build-Depends", replace("bash (= 5.2.15-2+b8)", "bash (>= 5.2.15-2+b8)"), ErrMalformed, "Installed-Build-Depends"},
		{"Installed-Build-Depends twice", replace("bash (= 5.2.15-2+b8)", "bash (= 5.2.15-2+b8),\n bash (= 5.2.15-2+b9)"), ErrMalformed, "twice"},
		{"bad Environment", replace(`LANG="C.UTF-8"`, `LANG=C.UTF-8`), ErrMalformed, "Environment"},
		{"Environment twice", replace(`LANG="C.UTF-8"`, `LANG="C.UTF-8"`+"\n "+`LANG="C"`), ErrMalformed, "twice"},
		{"relative Build-Path", add("Build-Path: build/x\n"), ErrMalformed, "Build-Path"},
		{"bad Build-Architecture", replace("Build-Architecture: amd64", "Build-Architecture: AMD64"), ErrMalformed, "Build-Architecture"},
		{"empty", func(string) string { return "" }, ErrMalformed, "empty"},
		{"too large", func(s string) string { return s + "X-Pad: " + strings.Repeat("a", MaxSize) + "\n" }, ErrMalformed, "larger"},
		{"Arch Linux", func(string) string { return "format = 2\npkgname = foo\n" }, ErrUnsupported, "Arch Linux"},
	}
	base := fixture(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := tt.edit(base)
			if text == base {
				t.Fatal("the edit did not change the fixture")
			}
			_, err := Parse([]byte(text))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse: %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
		})
	}
}

func add(line string) func(string) string {
	return func(s string) string { return strings.Replace(s, "Build-Origin:", line+"Build-Origin:", 1) }
}

func replace(old, new string) func(string) string {
	return func(s string) string { return strings.Replace(s, old, new, 1) }
}

func FuzzParse(f *testing.F) {
	addCorpus(f)
	f.Fuzz(func(t *testing.T, text []byte) {
		b, err := Parse(text)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error of no known kind: %v", err)
			}
			return
		}
		if len(b.Files) == 0 || b.Source == "" || len(b.InputsDigest()) != 64 {
			t.Fatalf("accepted an incomplete buildinfo: %+v", b)
		}
		for _, f := range b.Files {
			if strings.ContainsAny(f.Name, "/ \n") || strings.HasPrefix(f.Name, ".") {
				t.Fatalf("unsafe file name accepted: %q", f.Name)
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	text, err := os.ReadFile("testdata/deb_devscripts_sphinx_1.7.2-1_amd64.buildinfo")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := Parse(text); err != nil {
			b.Fatal(err)
		}
	}
}
