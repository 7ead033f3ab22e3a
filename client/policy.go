package client

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"pault.ag/go/debian/control"

	"github.com/reprolog/reprolog/buildinfo"
	"github.com/reprolog/reprolog/pgp"
	"github.com/reprolog/reprolog/witness"
)

// Defaults and limits of a policy.
const (
	DefaultStateDir = "/var/lib/reprolog"
	DefaultTimeout  = 10 * time.Second
	// DefaultMaxAge applies when the policy names witnesses.
	DefaultMaxAge = 7 * 24 * time.Hour

	maxPolicySize = 1 << 20
	maxFileSize   = 1 << 20
	maxBuilders   = 256
)

// ErrPolicy is wrapped by every error about a bad policy.
var ErrPolicy = errors.New("bad policy")

// Policy is what an installer trusts: one log, optionally a witness quorum,
// the builders whose statements count, and how many must agree.
type Policy struct {
	LogURL string
	Log    note.Verifier
	// Threshold is K: how many voters must agree for a file to pass.
	Threshold int
	// Witnesses is the tlog-policy quorum a checkpoint needs; nil when the
	// policy names none.
	Witnesses *witness.Policy
	// MaxAge bounds how old the quorum's oldest cosignature may be; zero
	// without witnesses.
	MaxAge   time.Duration
	StateDir string
	Allow    []string
	Timeout  time.Duration
	Builders []Builder
	// Warnings are problems that do not make the policy unusable.
	Warnings []string

	// loaded is closed once the builders are loaded, with loadErr set,
	// for a policy OpenPolicy returned; nil otherwise.
	loaded  chan struct{}
	loadErr error
}

// Builder is a rebuilder the policy trusts.
type Builder struct {
	Name        string
	Operator    string // empty when the builder votes alone
	Fingerprint string // the key's primary fingerprint, upper-case hex
	Key         *pgp.Key
}

// Voter returns the name under which b votes: its operator's, or its own.
func (b Builder) Voter() string {
	if b.Operator != "" {
		return b.Operator
	}
	return b.Name
}

// Builder returns the trusted builder with the given fingerprint.
func (p *Policy) Builder(fingerprint string) (Builder, bool) {
	i := slices.IndexFunc(p.Builders, func(b Builder) bool { return b.Fingerprint == fingerprint })
	if i < 0 {
		return Builder{}, false
	}
	return p.Builders[i], true
}

// Key returns the key of a trusted builder, or nil; it is a proofs.Keys.
func (p *Policy) Key(fingerprint string) *pgp.Key {
	b, _ := p.Builder(fingerprint)
	return b.Key
}

// Voters returns N, the number of distinct voters.
func (p *Policy) Voters() int {
	seen := map[string]bool{}
	for _, b := range p.Builders {
		seen[b.Voter()] = true
	}
	return len(seen)
}

// Allowed reports whether the policy lets pkg install without
// reproducibility.
func (p *Policy) Allowed(pkg string) bool { return slices.Contains(p.Allow, pkg) }

// LoadPolicy reads a policy file; Key-File and Witness-Policy paths are
// relative to its directory.
func LoadPolicy(path string) (*Policy, error) {
	p, err := OpenPolicy(path)
	if err != nil {
		return nil, err
	}
	if err := p.Wait(); err != nil {
		return nil, err
	}
	return p, nil
}

// ParsePolicy parses a policy: a deb822 file whose first paragraph
// describes the log and whose further paragraphs each name a builder.
// Relative paths are read from dir; keys are checked at now.
//
// The log paragraph has Log-URL and Log-Key (required), Threshold,
// Witness-Policy, Max-Age, State-Dir, Allow and Timeout. A builder
// paragraph has Builder and Key-File (required) and Operator. Field names
// compare case-insensitively; a repeated or unknown field is an error.
func ParsePolicy(text []byte, dir string, now time.Time) (*Policy, error) {
	p, err := parsePolicy(text, dir, now)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPolicy, err)
	}
	return p, nil
}

var (
	logFields     = []string{"Log-URL", "Log-Key", "Threshold", "Witness-Policy", "Max-Age", "State-Dir", "Allow", "Timeout"}
	builderFields = []string{"Builder", "Key-File", "Operator"}
)

func parsePolicy(text []byte, dir string, now time.Time) (*Policy, error) {
	p, builders, err := parseLogParagraph(text, dir)
	if err != nil {
		return nil, err
	}
	if err := p.addBuilders(builders, dir, now); err != nil {
		return nil, err
	}
	return p, nil
}

// parseLogParagraph reads a policy's paragraphs and its log paragraph; it
// returns the builder paragraphs.
func parseLogParagraph(text []byte, dir string) (*Policy, []paragraph, error) {
	paras, err := readParagraphs(text)
	if err != nil {
		return nil, nil, err
	}
	if len(paras) < 2 {
		return nil, nil, fmt.Errorf("want a log paragraph and at least one builder paragraph")
	}
	if len(paras) > maxBuilders+1 {
		return nil, nil, fmt.Errorf("more than %d builders", maxBuilders)
	}
	p := &Policy{StateDir: DefaultStateDir, Timeout: DefaultTimeout}
	if err := p.parseLog(paras[0], dir); err != nil {
		return nil, nil, err
	}
	return p, paras[1:], nil
}

// paragraph is one deb822 paragraph with canonical field names.
type paragraph map[string]string

// readParagraphs parses deb822 with pault.ag/go/debian/control and checks
// what it lets through: duplicates, unknown case variants, empty names.
func readParagraphs(text []byte) ([]paragraph, error) {
	if len(text) > maxPolicySize {
		return nil, fmt.Errorf("larger than %d bytes", maxPolicySize)
	}
	if !utf8.Valid(text) {
		return nil, fmt.Errorf("not UTF-8")
	}
	if bytes.HasPrefix(bytes.TrimLeft(text, " \t\r\n"), []byte("-----BEGIN")) {
		return nil, fmt.Errorf("an OpenPGP message, not a deb822 policy")
	}
	r, err := control.NewParagraphReader(bufio.NewReader(bytes.NewReader(text)), nil)
	if err != nil {
		return nil, err
	}
	var out []paragraph
	for {
		raw, err := r.Next()
		if err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("paragraph %d: a line that is not \"Field: value\"", len(out)+1)
		}
		if _, ok := raw.Values[""]; ok {
			return nil, fmt.Errorf("paragraph %d: a continuation line before any field, or a field without a name", len(out)+1)
		}
		para := paragraph{}
		for _, k := range raw.Order {
			canon := strings.ToLower(k)
			if _, dup := para[canon]; dup {
				return nil, fmt.Errorf("paragraph %d: field %s given twice", len(out)+1, k)
			}
			para[canon] = raw.Values[k]
		}
		out = append(out, para)
	}
}

// take returns a one-line field's value and removes it.
func (para paragraph) take(name string) (string, bool, error) {
	v, ok := para[strings.ToLower(name)]
	delete(para, strings.ToLower(name))
	if ok && strings.ContainsAny(v, "\n\r") {
		return "", false, fmt.Errorf("%s: must be one line", name)
	}
	if ok && v == "" {
		return "", false, fmt.Errorf("%s: empty", name)
	}
	return v, ok, nil
}

// rest reports the first field left after every known one was taken.
func (para paragraph) rest(kind string, known []string) error {
	var names []string
	for k := range para {
		names = append(names, k)
	}
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	return fmt.Errorf("unknown field %q in the %s paragraph (known: %s)", names[0], kind, strings.Join(known, ", "))
}

func (p *Policy) parseLog(para paragraph, dir string) error {
	allow := para["allow"] // the only field that may span lines
	delete(para, "allow")
	get := map[string]string{}
	for _, f := range logFields {
		v, ok, err := para.take(f)
		if err != nil {
			return err
		}
		if ok {
			get[f] = v
		}
	}
	if err := para.rest("log", logFields); err != nil {
		return err
	}
	if get["Log-URL"] == "" {
		return fmt.Errorf("missing field Log-URL")
	}
	u, err := url.Parse(get["Log-URL"])
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("Log-URL: want an http or https URL without query or credentials")
	}
	p.LogURL = strings.TrimSuffix(u.String(), "/")
	if get["Log-Key"] == "" {
		return fmt.Errorf("missing field Log-Key")
	}
	if p.Log, err = note.NewVerifier(get["Log-Key"]); err != nil {
		return fmt.Errorf("Log-Key: not a note verifier key (name+hash+key): %v", err)
	}
	if v, ok := get["Threshold"]; ok {
		k, err := strconv.Atoi(v)
		if err != nil || k < 1 || strconv.Itoa(k) != v {
			return fmt.Errorf("Threshold: want a positive decimal number")
		}
		p.Threshold = k
	}
	if v, ok := get["Witness-Policy"]; ok {
		if p.Witnesses, err = loadWitnessPolicy(v, resolve(dir, v)); err != nil {
			return err
		}
		p.MaxAge = DefaultMaxAge
	}
	if v, ok := get["Max-Age"]; ok {
		if p.Witnesses == nil {
			return fmt.Errorf("Max-Age: needs a Witness-Policy (only witness cosignatures carry a time)")
		}
		if p.MaxAge, err = parseDuration(v); err != nil {
			return fmt.Errorf("Max-Age: %v", err)
		}
	}
	if v, ok := get["State-Dir"]; ok {
		p.StateDir = resolve(dir, v)
	}
	if v, ok := get["Timeout"]; ok {
		if p.Timeout, err = parseDuration(v); err != nil {
			return fmt.Errorf("Timeout: %v", err)
		}
	}
	return p.parseAllow(allow)
}

func (p *Policy) parseAllow(v string) error {
	for _, name := range strings.Split(v, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !buildinfo.ValidPackageName(name) {
			return fmt.Errorf("Allow: %q is not a package name", name)
		}
		if slices.Contains(p.Allow, name) {
			return fmt.Errorf("Allow: %s listed twice", name)
		}
		p.Allow = append(p.Allow, name)
	}
	return nil
}

// parseDuration reads a positive whole number followed by one unit: ms, s,
// m, h or d (e.g. "7d", "36h", "10s").
func parseDuration(v string) (time.Duration, error) {
	units := []struct {
		suffix string
		d      time.Duration
	}{{"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}}
	for _, u := range units {
		num, ok := strings.CutSuffix(v, u.suffix)
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n < 1 || strconv.FormatInt(n, 10) != num || n > int64(3650*24*time.Hour/u.d) {
			break
		}
		return time.Duration(n) * u.d, nil
	}
	return 0, fmt.Errorf("want a whole number and a unit (ms, s, m, h, d), e.g. 7d or 36h; got %q", v)
}

func resolve(dir, path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

// readFile reads a small regular file.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxFileSize)
	}
	return data, nil
}
