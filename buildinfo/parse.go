package buildinfo

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"pault.ag/go/debian/version"
)

var (
	fileRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+~_-]*$`)
	sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)
	envRE    = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)="(.*)"$`)
	taintRE  = regexp.MustCompile(`^[A-Za-z0-9-]+$`)
	// archLinuxRE matches the first line of an Arch Linux BUILDINFO.
	archLinuxRE = regexp.MustCompile(`^(format|pkgname|pkgbase|builddate) = `)
)

// Parse reads the text of a .buildinfo file.
func Parse(text []byte) (*Buildinfo, error) {
	if archLinuxRE.Match(text) {
		return nil, unsupported("an Arch Linux BUILDINFO, not a Debian buildinfo")
	}
	p, err := readParagraph(text)
	if err != nil {
		return nil, err
	}
	if err := checkFormat(p); err != nil {
		return nil, err
	}
	b := &Buildinfo{Format: p.get("format")}
	for _, step := range []func(paragraph, *Buildinfo) error{
		parseIdentity, parseFiles, parseBuildFields, parseDepends, parseEnvironment,
	} {
		if err := step(p, b); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// checkFormat tells unsupported kinds of file apart from broken ones.
func checkFormat(p paragraph) error {
	if !p.has("format") {
		return malformed("missing field Format")
	}
	major, minor, ok := strings.Cut(p.get("format"), ".")
	if !ok || major != "1" || !isDecimal(minor) {
		return unsupported("Format %s (this reads Format 1.x)", quote(p.get("format")))
	}
	if !p.has("installed-build-depends") {
		if p.has("build-environment") {
			return unsupported("pre-release draft format (Build-Environment instead of Installed-Build-Depends)")
		}
		return malformed("missing field Installed-Build-Depends")
	}
	for _, name := range []string{"source", "architecture", "version", "checksums-sha256", "build-architecture"} {
		if !p.has(name) {
			return malformed("missing field %s", fieldTitle(name))
		}
	}
	return nil
}

func parseIdentity(p paragraph, b *Buildinfo) error {
	src, srcVersion, hasVersion := strings.Cut(p.get("source"), " ")
	if !ValidPackageName(src) {
		return malformed("Source: bad package name %s", quote(src))
	}
	b.Source = src
	if err := checkVersion(p.get("version")); err != nil {
		return malformed("Version: %v", err)
	}
	b.Version = p.get("version")
	b.SourceVersion = b.Version
	if hasVersion {
		v, ok := strings.CutPrefix(srcVersion, "(")
		v, ok2 := strings.CutSuffix(v, ")")
		if !ok || !ok2 || checkVersion(v) != nil {
			return malformed("Source: bad version %s", quote(srcVersion))
		}
		b.SourceVersion = v
	}
	archs := strings.Fields(p.get("architecture"))
	if len(archs) == 0 {
		return malformed("Architecture is empty")
	}
	for _, a := range archs {
		if !ValidArch(a) || slices.Contains(b.Architectures, a) {
			return malformed("Architecture: bad or repeated value %s", quote(a))
		}
		b.Architectures = append(b.Architectures, a)
	}
	for _, bin := range strings.Fields(p.get("binary")) {
		if !ValidPackageName(bin) || slices.Contains(b.Binaries, bin) {
			return malformed("Binary: bad or repeated package name %s", quote(bin))
		}
		b.Binaries = append(b.Binaries, bin)
	}
	if len(b.Binaries) == 0 && (len(archs) != 1 || archs[0] != "source") {
		return malformed("missing field Binary")
	}
	if p.has("binary-only-changes") {
		lines, err := p.lines("binary-only-changes")
		if err != nil {
			return err
		}
		b.BinaryOnlyChanges = lines
	}
	return nil
}

// MaxNameLength bounds package, source and architecture names and
// versions: Debian's are far shorter, and the log's index keys them.
const MaxNameLength = 255

// versionChars reports whether v is made of the characters a Debian
// version may hold.
func versionChars(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".+~:-", c) >= 0) {
			return false
		}
	}
	return true
}

func checkVersion(v string) error {
	if len(v) > MaxNameLength {
		return errf("version longer than %d bytes", MaxNameLength)
	}
	if !versionChars(v) {
		return errf("bad version %s", quote(v))
	}
	if _, err := version.Parse(v); err != nil {
		return errf("bad version %s: %v", quote(v), err)
	}
	return nil
}

func parseBuildFields(p paragraph, b *Buildinfo) error {
	b.BuildArchitecture = p.get("build-architecture")
	if !ValidArch(b.BuildArchitecture) {
		return malformed("Build-Architecture: bad architecture %s", quote(b.BuildArchitecture))
	}
	b.BuildOrigin = p.get("build-origin")
	b.BuildDate = p.get("build-date")
	b.BuildKernelVersion = p.get("build-kernel-version")
	b.BuildPath = p.get("build-path")
	if b.BuildPath != "" && !strings.HasPrefix(b.BuildPath, "/") {
		return malformed("Build-Path is not absolute")
	}
	for _, t := range strings.Fields(p.get("build-tainted-by")) {
		if !taintRE.MatchString(t) {
			return malformed("Build-Tainted-By: bad reason tag %s", quote(t))
		}
		b.BuildTaintedBy = append(b.BuildTaintedBy, t)
	}
	return nil
}

func parseDepends(p paragraph, b *Buildinfo) error {
	// Entries are separated by commas, and whitespace runs (line breaks
	// included) count as one space: "a (= 1),\n b (= 2)".
	v := strings.TrimSuffix(strings.TrimSpace(p.get("installed-build-depends")), ",")
	if v == "" {
		return malformed("Installed-Build-Depends is empty")
	}
	n := strings.Count(v, ",") + 1
	seen := make(map[string]struct{}, n)
	b.InstalledBuildDepends = make([]string, 0, n)
	for part := range strings.SplitSeq(v, ",") {
		dep := strings.TrimSpace(part)
		if !singleSpaced(dep) {
			dep = strings.Join(strings.Fields(dep), " ")
		}
		name, ok := parseDepend(dep)
		if !ok {
			return malformed("Installed-Build-Depends: bad entry %s", quote(dep))
		}
		if _, dup := seen[name]; dup {
			return malformed("Installed-Build-Depends: %s listed twice", name)
		}
		seen[name] = struct{}{}
		b.InstalledBuildDepends = append(b.InstalledBuildDepends, dep)
	}
	return nil
}

// singleSpaced reports whether s is printable ASCII whose words are
// separated by single spaces: what strings.Fields and a join leave as
// they are.
func singleSpaced(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c > '~' || c < ' ' || c == ' ' && (i == 0 || s[i-1] == ' ' || i == len(s)-1) {
			return false
		}
	}
	return true
}

// parseDepend reads an Installed-Build-Depends entry, "name (= version)"
// or "name:arch (= version)", and returns the name with its arch.
func parseDepend(dep string) (string, bool) {
	name, rest, ok := strings.Cut(dep, " (= ")
	if !ok {
		return "", false
	}
	v, ok := strings.CutSuffix(rest, ")")
	if !ok || checkVersion(v) != nil {
		return "", false
	}
	pkg, arch, qualified := strings.Cut(name, ":")
	if !ValidPackageName(pkg) || qualified && !ValidArch(arch) {
		return "", false
	}
	return name, true
}

func parseEnvironment(p paragraph, b *Buildinfo) error {
	lines, err := p.lines("environment")
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, line := range lines {
		m := envRE.FindStringSubmatch(line)
		if m == nil {
			return malformed("Environment: bad line %s", quote(line))
		}
		if seen[m[1]] {
			return malformed("Environment: %s set twice", m[1])
		}
		seen[m[1]] = true
		b.Environment = append(b.Environment, line)
	}
	return nil
}

func isDecimal(s string) bool {
	if s == "" || len(s) > 18 || (len(s) > 1 && s[0] == '0') {
		return false
	}
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

func fieldTitle(lower string) string {
	parts := strings.Split(lower, "-")
	for i, s := range parts {
		parts[i] = strings.ToUpper(s[:1]) + s[1:]
	}
	return strings.Join(parts, "-")
}
