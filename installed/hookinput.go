package installed

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/reprolog/reprolog/buildinfo"
)

// Limits on what ParseHookInput accepts.
const (
	maxHookInput   = 64 << 20
	maxHookLine    = 1 << 20
	maxHookActions = 1 << 20
)

// The action field of a package that is configured or removed rather than
// unpacked.
const (
	ActionConfigure = "**CONFIGURE**"
	ActionRemove    = "**REMOVE**"
)

// HookInput is what apt sends a DPkg::Pre-Install-Pkgs command (see
// apt.conf(5)): with protocol version 2 or 3, its configuration and one
// action per package; with version 1, only the .deb files.
type HookInput struct {
	Version int
	// Config holds the configuration lines, decoded; a list has one value
	// per element.
	Config  map[string][]string
	Actions []Action
}

// Action is one package action line. Architectures and MultiArch are
// empty with protocol version 2; a field apt writes as "-" (no version)
// is kept as "-".
type Action struct {
	Package      string
	OldVersion   string
	OldArch      string
	OldMultiArch string
	Direction    string // "<" upgrade, ">" downgrade, "=" no change
	NewVersion   string
	NewArch      string
	NewMultiArch string
	// File is the .deb to unpack, or ActionConfigure or ActionRemove.
	File string
}

// Unpacks reports whether the action unpacks a .deb file.
func (a Action) Unpacks() bool { return a.File != ActionConfigure && a.File != ActionRemove }

// Debs returns the .deb files the actions unpack, in order, each once.
func (h *HookInput) Debs() []string {
	var out []string
	for _, a := range h.Actions {
		if a.Unpacks() && !slices.Contains(out, a.File) {
			out = append(out, a.File)
		}
	}
	return out
}

// Value returns the last value the configuration gives key, which apt
// compares without regard to case.
func (h *HookInput) Value(key string) (string, bool) {
	var v []string
	ok := false
	for k, vs := range h.Config {
		if strings.EqualFold(k, key) {
			if ok {
				return "", false // two spellings: not from apt
			}
			v, ok = vs, true
		}
	}
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[len(v)-1], true
}

// Dir returns the directory or file the configuration names with key, as
// apt's FindFile and FindDir resolve it: a relative value is relative to
// its parent's (Dir::Cache::archives within Dir::Cache within Dir), and
// RootDir, when set, comes first. It returns "" unless that gives an
// absolute path.
func (h *HookInput) Dir(key string) string {
	val, _ := h.Value(key)
	if val == "" {
		return ""
	}
	for k := key; !filepath.IsAbs(val) && !startsRelative(val); {
		i := strings.LastIndex(k, "::")
		if i < 0 {
			break
		}
		k = k[:i]
		if parent, _ := h.Value(k); parent != "" {
			val = strings.TrimSuffix(parent, "/") + "/" + val
		}
	}
	if root, _ := h.Value("RootDir"); root != "" {
		val = root + "/" + val
	}
	if !filepath.IsAbs(val) {
		return ""
	}
	return filepath.Clean(val)
}

// startsRelative reports whether apt takes val relative to where it runs,
// not to its parent.
func startsRelative(val string) bool {
	return strings.HasPrefix(val, "./") || strings.HasPrefix(val, "../") || strings.HasPrefix(val, "~/")
}

var multiArch = []string{"same", "foreign", "allowed", "none", "no"}

// ParseHookInput reads apt's Pre-Install-Pkgs input strictly: "VERSION 2"
// or "VERSION 3", configuration lines "key=value" up to a blank line, then
// action lines of 5 (version 2) or 9 (version 3) fields; or, without a
// VERSION line, one .deb file per line (version 1).
func ParseHookInput(r io.Reader) (*HookInput, error) {
	h, err := parseHookInput(r)
	if err != nil {
		return nil, fmt.Errorf("apt hook input: %w", err)
	}
	return h, nil
}

func parseHookInput(r io.Reader) (*HookInput, error) {
	lr := &io.LimitedReader{R: r, N: maxHookInput + 1}
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 0, 64<<10), maxHookLine)
	h := &HookInput{Config: map[string][]string{}}
	n := 0
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		n++
		return sc.Text(), true
	}
	first, ok := next()
	if !ok {
		return nil, readErr(sc, lr, "empty")
	}
	v, versioned := strings.CutPrefix(first, "VERSION ")
	if !versioned {
		h.Version = 1
		for line, ok := first, true; ok; line, ok = next() {
			if line == "" || strings.ContainsRune(line, 0) {
				return nil, fmt.Errorf("line %d: not a .deb file name", n)
			}
			if len(h.Actions) == maxHookActions {
				return nil, fmt.Errorf("more than %d actions", maxHookActions)
			}
			h.Actions = append(h.Actions, Action{File: line})
		}
		return h, readErr(sc, lr, "")
	}
	switch v {
	case "2":
		h.Version = 2
	case "3":
		h.Version = 3
	default:
		return nil, fmt.Errorf("protocol version %q: want 3 (or 2)", v)
	}
	for {
		line, ok := next()
		if !ok {
			return nil, readErr(sc, lr, "the configuration does not end with a blank line")
		}
		if line == "" {
			break
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("line %d: a configuration line without \"key=value\"", n)
		}
		dk, err1 := url.PathUnescape(key)
		dv, err2 := url.PathUnescape(value)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("line %d: bad %%-encoding", n)
		}
		dk = strings.TrimSuffix(dk, "::")
		h.Config[dk] = append(h.Config[dk], dv)
	}
	fields := 5
	if h.Version == 3 {
		fields = 9
	}
	for line, ok := next(); ok; line, ok = next() {
		if len(h.Actions) == maxHookActions {
			return nil, fmt.Errorf("more than %d actions", maxHookActions)
		}
		a, err := parseAction(line, fields)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		h.Actions = append(h.Actions, a)
	}
	return h, readErr(sc, lr, "")
}

// parseAction reads "pkg old [arch ma] dir new [arch ma] action"; the
// action, a file name, may contain spaces.
func parseAction(line string, fields int) (Action, error) {
	f := strings.SplitN(line, " ", fields)
	if len(f) != fields || slices.Contains(f[:fields-1], "") || f[fields-1] == "" || strings.ContainsRune(line, 0) {
		return Action{}, fmt.Errorf("want %d fields in a package action", fields)
	}
	a := Action{Package: f[0], OldVersion: f[1], File: f[fields-1]}
	if fields == 9 {
		a.OldArch, a.OldMultiArch, a.Direction, a.NewVersion, a.NewArch, a.NewMultiArch = f[2], f[3], f[4], f[5], f[6], f[7]
	} else {
		a.Direction, a.NewVersion = f[2], f[3]
	}
	switch {
	case !buildinfo.ValidPackageName(a.Package):
		return Action{}, fmt.Errorf("bad package name")
	case !validOrNone(a.OldVersion, buildinfo.ValidVersion) || !validOrNone(a.NewVersion, buildinfo.ValidVersion):
		return Action{}, fmt.Errorf("bad version")
	case a.Direction != "<" && a.Direction != ">" && a.Direction != "=":
		return Action{}, fmt.Errorf("bad direction %q", a.Direction)
	}
	if fields == 9 {
		if !validOrNone(a.OldArch, buildinfo.ValidArch) || !validOrNone(a.NewArch, buildinfo.ValidArch) ||
			!slices.Contains(multiArch, a.OldMultiArch) || !slices.Contains(multiArch, a.NewMultiArch) {
			return Action{}, fmt.Errorf("bad architecture or multi-arch type")
		}
	}
	if a.Unpacks() && (a.NewVersion == "-" || a.NewArch == "-") {
		return Action{}, fmt.Errorf("unpacking a file without a version")
	}
	return a, nil
}

func validOrNone(s string, valid func(string) bool) bool { return s == "-" || valid(s) }

func readErr(sc *bufio.Scanner, lr *io.LimitedReader, what string) error {
	if lr.N <= 0 {
		return fmt.Errorf("larger than %d bytes", maxHookInput)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("a line longer than %d bytes", maxHookLine)
		}
		return err
	}
	if what != "" {
		return errors.New(what)
	}
	return nil
}
