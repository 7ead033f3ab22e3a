package installed

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

const hookV3 = `VERSION 3
APT::Architecture=amd64
APT::Build-Essential::=build-essential
APT::Build-Essential::=other
Dir::State::status=/var/lib/dpkg/status
Weird%3dKey=a%25b%0Ac

hello - - none < 2.10-3 amd64 none /var/cache/apt/archives/hello_2.10-3_amd64.deb
libfoo1 1.0-1 amd64 same < 1:1.1-1 amd64 same /var/cache/apt/archives/libfoo1_1.1-1_amd64.deb
old 1.0 all foreign > - - none **REMOVE**
spaced - - none < 1.0 all none /tmp/my debs/spaced_1.0_all.deb
hello - - none < 2.10-3 amd64 none **CONFIGURE**
libfoo1 1.0-1 amd64 same < 1:1.1-1 amd64 same **CONFIGURE**
`

func TestParseHookInputV3(t *testing.T) {
	h, err := ParseHookInput(strings.NewReader(hookV3))
	if err != nil {
		t.Fatal(err)
	}
	if h.Version != 3 || len(h.Actions) != 6 {
		t.Fatalf("version %d, %d actions", h.Version, len(h.Actions))
	}
	if got := h.Config["APT::Build-Essential"]; !slices.Equal(got, []string{"build-essential", "other"}) {
		t.Errorf("list config: %q", got)
	}
	if got := h.Config["Weird=Key"]; !slices.Equal(got, []string{"a%b\nc"}) {
		t.Errorf("%%-decoding: %q", got)
	}
	want := []string{"/var/cache/apt/archives/hello_2.10-3_amd64.deb",
		"/var/cache/apt/archives/libfoo1_1.1-1_amd64.deb", "/tmp/my debs/spaced_1.0_all.deb"}
	if !slices.Equal(h.Debs(), want) {
		t.Errorf("debs %q", h.Debs())
	}
	a := h.Actions[1]
	if a.Package != "libfoo1" || a.OldVersion != "1.0-1" || a.OldMultiArch != "same" || a.Direction != "<" ||
		a.NewVersion != "1:1.1-1" || a.NewArch != "amd64" || !a.Unpacks() {
		t.Errorf("action %+v", a)
	}
	if h.Actions[2].Unpacks() || h.Actions[2].File != ActionRemove {
		t.Errorf("remove action %+v", h.Actions[2])
	}
}

func TestParseHookInputV1AndV2(t *testing.T) {
	h, err := ParseHookInput(strings.NewReader("/a/x_1_all.deb\n/b/y_2_all.deb\n"))
	if err != nil || h.Version != 1 || !slices.Equal(h.Debs(), []string{"/a/x_1_all.deb", "/b/y_2_all.deb"}) {
		t.Fatalf("v1: %+v %v", h, err)
	}
	h, err = ParseHookInput(strings.NewReader("VERSION 2\nA=b\n\nxy - < 1.0 /c/x_1.0_all.deb\nxy - < 1.0 **CONFIGURE**\n"))
	if err != nil || h.Version != 2 || !slices.Equal(h.Debs(), []string{"/c/x_1.0_all.deb"}) {
		t.Fatalf("v2: %+v %v", h, err)
	}
}

func TestParseHookInputRejects(t *testing.T) {
	for name, in := range map[string]string{
		"empty":              "",
		"version 4":          "VERSION 4\n\n",
		"no blank line":      "VERSION 3\nA=b\n",
		"config without =":   "VERSION 3\nAb\n\n",
		"bad %-encoding":     "VERSION 3\nA=%zz\n\n",
		"too few fields":     "VERSION 3\n\nhello - - none < 2.10-3 amd64 /x.deb\n",
		"v2 line in v3":      "VERSION 3\n\nx - < 1.0 /c/x_1.0_all.deb\n",
		"bad package":        "VERSION 3\n\nHello - - none < 2.10-3 amd64 none /x.deb\n",
		"bad version":        "VERSION 3\n\nhello - - none < 2.10=3 amd64 none /x.deb\n",
		"bad direction":      "VERSION 3\n\nhello - - none ? 2.10-3 amd64 none /x.deb\n",
		"bad multi-arch":     "VERSION 3\n\nhello - - none < 2.10-3 amd64 any /x.deb\n",
		"bad arch":           "VERSION 3\n\nhello - - none < 2.10-3 AMD64 none /x.deb\n",
		"unpack no version":  "VERSION 3\n\nhello 1.0 amd64 none > - - none /x.deb\n",
		"double space":       "VERSION 3\n\nhello  - - none < 2.10-3 amd64 none /x.deb\n",
		"NUL in file name":   "VERSION 3\n\nhello - - none < 2.10-3 amd64 none /x\x00.deb\n",
		"v1 empty line":      "/a.deb\n\n/b.deb\n",
		"line too long":      "VERSION 3\n" + strings.Repeat("a", maxHookLine+1) + "=b\n\n",
		"trailing empty act": "VERSION 3\n\nhello - - none < 2.10-3 amd64 none \n",
	} {
		if h, err := ParseHookInput(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted: %+v", name, h)
		}
	}
}

const status = `Package: hello
Status: install ok installed
Priority: optional
Architecture: amd64
Version: 2.10-3
Description: the hello program
 with a long description
 .
 and paragraphs

Package: gone
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0
Conffiles:
 /etc/gone.conf 0123456789abcdef0123456789abcdef

Package: libfoo1
status: hold ok half-configured
Architecture: i386
Multi-Arch: same
version: 1:1.1-1

Package: libfoo1
Status: install ok unpacked
Architecture: amd64
Version: 1:1.1-1

Package: never
Status: purge ok not-installed
`

func TestParseStatus(t *testing.T) {
	got, err := ParseStatus(strings.NewReader(status))
	if err != nil {
		t.Fatal(err)
	}
	want := []Installed{
		{Key{"hello", "2.10-3", "amd64"}, "installed"},
		{Key{"libfoo1", "1:1.1-1", "i386"}, "half-configured"},
		{Key{"libfoo1", "1:1.1-1", "amd64"}, "unpacked"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v", got)
	}
	if got, err := ParseStatus(strings.NewReader("")); err != nil || len(got) != 0 {
		t.Errorf("empty status: %v %v", got, err)
	}
}

func TestParseStatusRejects(t *testing.T) {
	ok := "Package: ab\nStatus: install ok installed\nVersion: 1.0\nArchitecture: all\n"
	for name, in := range map[string]string{
		"no package":            "Status: install ok installed\nVersion: 1.0\nArchitecture: all\n",
		"no status":             "Package: ab\nVersion: 1.0\nArchitecture: all\n",
		"bad status":            "Package: ab\nStatus: install ok happy\nVersion: 1.0\nArchitecture: all\n",
		"two-word status":       "Package: ab\nStatus: install installed\nVersion: 1.0\nArchitecture: all\n",
		"no version":            "Package: ab\nStatus: install ok installed\nArchitecture: all\n",
		"bad version":           "Package: ab\nStatus: install ok installed\nVersion: a b\nArchitecture: all\n",
		"no architecture":       "Package: ab\nStatus: install ok installed\nVersion: 1.0\n",
		"twice":                 ok + "\n" + ok,
		"duplicate field":       "Package: ab\nPackage: b\nStatus: install ok installed\nVersion: 1.0\nArchitecture: all\n",
		"multi-line version":    "Package: ab\nStatus: install ok installed\nVersion: 1.0\n 2.0\nArchitecture: all\n",
		"continuation first":    " x\n" + ok,
		"not a field":           "Package a\n" + ok,
		"comment":               "# comment\n" + ok,
		"wanted field too long": "Package: ab\nStatus: install ok installed\nVersion: " + strings.Repeat("1", maxLine) + "\nArchitecture: all\n",
	} {
		if got, err := ParseStatus(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted: %+v", name, got)
		}
	}
	// Long lines in fields nobody reads are fine.
	long := ok + "Description: x\n " + strings.Repeat("y", 3*maxLine) + "\n"
	if got, err := ParseStatus(strings.NewReader(long)); err != nil || len(got) != 1 {
		t.Errorf("long description: %v %v", got, err)
	}
}

const sumA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
const sumB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

func packagesList(entries ...string) string {
	var b strings.Builder
	for i := 0; i+3 < len(entries)+1; i += 4 {
		b.WriteString("Package: " + entries[i] + "\nVersion: " + entries[i+1] + "\nArchitecture: " + entries[i+2] +
			"\nMaintainer: M <m@example.org>\nFilename: pool/x.deb\nSize: 5\nSHA256: " + entries[i+3] +
			"\nDescription: d\n long\n\n")
	}
	return b.String()
}

func TestParsePackages(t *testing.T) {
	text := packagesList("hello", "2.10-3", "amd64", sumA, "libfoo1", "1:1.1-1", "amd64", sumB) +
		"Package: nohash\nVersion: 1\nArchitecture: all\nMD5sum: 0123\n"
	var got []string
	err := ParsePackages(strings.NewReader(text), func(k Key, sum string) { got = append(got, k.String()+" "+sum[:4]) })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"hello 2.10-3 (amd64) aaaa", "libfoo1 1:1.1-1 (amd64) bbbb"}) {
		t.Errorf("got %q", got)
	}
	for name, in := range map[string]string{
		"no version": "Package: ab\nArchitecture: all\nSHA256: " + sumA + "\n",
		"bad sha":    "Package: ab\nVersion: 1\nArchitecture: all\nSHA256: " + strings.ToUpper(sumA) + "\n",
		"short sha":  "Package: ab\nVersion: 1\nArchitecture: all\nSHA256: abc\n",
	} {
		if err := ParsePackages(strings.NewReader(in), func(Key, string) {}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestReadLists(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	plain := packagesList("hello", "2.10-3", "amd64", sumA, "other", "1", "all", sumA)
	write("a_Packages", []byte(plain))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(packagesList("gzipped", "1.0", "all", sumB)))
	zw.Close()
	write("b_Packages.gz", gz.Bytes())
	var l4 bytes.Buffer
	lw := lz4.NewWriter(&l4)
	lw.Write([]byte(packagesList("lz4ed", "1.0", "all", sumB, "twice", "1.0", "all", sumA)))
	lw.Close()
	write("c_Packages.lz4", l4.Bytes())
	zs, _ := zstd.NewWriter(nil)
	write("d_Packages.zst", zs.EncodeAll([]byte(packagesList("zstded", "1.0", "all", sumB, "twice", "1.0", "all", sumB)), nil))
	write("e_Packages", []byte("garbage\n"))
	write("f_Sources", []byte(plain))
	os.Mkdir(filepath.Join(dir, "partial"), 0o755)

	want := map[Key]bool{{"hello", "2.10-3", "amd64"}: true, {"gzipped", "1.0", "all"}: true,
		{"lz4ed", "1.0", "all"}: true, {"zstded", "1.0", "all"}: true, {"twice", "1.0", "all"}: true,
		{"absent", "1", "all"}: true}
	l, err := ReadLists(dir, want)
	if err != nil {
		t.Fatal(err)
	}
	for k, wantSum := range map[Key]string{{"hello", "2.10-3", "amd64"}: sumA, {"gzipped", "1.0", "all"}: sumB,
		{"lz4ed", "1.0", "all"}: sumB, {"zstded", "1.0", "all"}: sumB} {
		if got, ok := l.SHA256(k); !ok || got != wantSum {
			t.Errorf("%v: %q %v", k, got, ok)
		}
	}
	if _, ok := l.SHA256(Key{"twice", "1.0", "all"}); ok || !l.Ambiguous(Key{"twice", "1.0", "all"}) {
		t.Errorf("two hashes for one version must be ambiguous")
	}
	if _, ok := l.SHA256(Key{"other", "1", "all"}); ok {
		t.Errorf("kept a version nobody asked for")
	}
	if len(l.Files) != 4 || len(l.Warnings) != 1 || !strings.Contains(l.Warnings[0], "e_Packages") {
		t.Errorf("files %v, warnings %v", l.Files, l.Warnings)
	}
	before := ListsFingerprint(dir)
	write("a_Packages", []byte(plain+"\n"))
	if ListsFingerprint(dir) == before {
		t.Errorf("fingerprint did not change with a list")
	}
}

// TestThisMachine reads the real dpkg status and apt lists of the machine
// the tests run on, when it is a Debian system.
func TestThisMachine(t *testing.T) {
	inst, err := ReadStatus(DefaultStatus)
	if os.IsNotExist(err) {
		t.Skip("no dpkg status on this machine")
	}
	if err != nil || len(inst) == 0 {
		t.Fatalf("%d packages, %v", len(inst), err)
	}
	want := map[Key]bool{}
	for _, i := range inst {
		want[i.Key] = true
	}
	l, err := ReadLists(DefaultLists, want)
	if err != nil {
		t.Skip("no apt lists on this machine")
	}
	found := 0
	for k := range want {
		if _, ok := l.SHA256(k); ok {
			found++
		}
	}
	t.Logf("%d installed packages; apt's %d lists give the hash of %d (warnings: %v)", len(inst), len(l.Files), found, l.Warnings)
	if len(l.Files) > 0 && found == 0 {
		t.Errorf("apt's lists give no hash for any installed package")
	}
}
