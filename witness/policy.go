package witness

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// Limits on a policy file. C2SP tlog-policy recommends supporting at least
// 32 logs, 32 witnesses and 32 groups; these caps are well above that.
const (
	maxPolicySize  = 256 << 10
	maxPolicyItems = 1024
)

// A Policy is a parsed C2SP tlog-policy file (https://c2sp.org/tlog-policy):
// the logs it accepts, the witnesses it knows, and the quorum of witness
// cosignatures a checkpoint needs.
type Policy struct {
	logs      []LogEntry
	witnesses []WitnessEntry
	quorum    *node // nil for "quorum none"
}

// A LogEntry is one `log <vkey> [<url>]` line of a policy.
type LogEntry struct {
	Origin   string        // the key name, which is the log's checkpoint origin
	VKey     string        // the verifier key as written in the policy
	Verifier note.Verifier // Ed25519 checkpoint signature verifier
	URL      string        // optional
	Line     int           // line number in the policy file
}

// A WitnessEntry is one `witness <name> <vkey> [<url>]` line of a policy.
type WitnessEntry struct {
	Name     string        // the name used in the policy, not the key name
	VKey     string        // the verifier key as written in the policy
	Verifier note.Verifier // tlog-cosignature/v1 (Ed25519) verifier
	URL      string        // optional submission prefix
	Line     int
}

// node is a witness (witness >= 0) or a group (children, threshold k).
type node struct {
	name     string
	witness  int
	k        int
	children []*node
}

// Keywords that cannot be used as witness or group names. Tessera's policy
// reader rejects the same set.
var keywords = map[string]bool{
	"log": true, "witness": true, "group": true, "quorum": true,
	"any": true, "all": true, "none": true,
}

// ParsePolicy parses a C2SP tlog-policy file.
//
// It follows the specification strictly, so that any file it accepts is read
// the same way by Tessera's NewWitnessGroupFromPolicy (given witness URLs, which
// Tessera needs to submit checkpoints): fields are separated by spaces and
// tabs, comments are whole lines starting with "#", names and groups must be
// defined before use, a name is a group member at most once, thresholds are
// 1 <= k <= n, keys are unique, and exactly one quorum line is required.
// Errors name the offending line.
func ParsePolicy(text []byte) (*Policy, error) {
	if len(text) > maxPolicySize {
		return nil, fmt.Errorf("policy: larger than %d bytes", maxPolicySize)
	}
	p := &Policy{}
	names := map[string]*node{}
	used := map[string]int{} // member name -> line of the group that uses it
	logKeys := map[string]int{}
	witnessKeys := map[string]int{}
	quorumLine := 0

	lines := bytes.Split(text, []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	for i, raw := range lines {
		n := i + 1
		if err := checkPolicyChars(raw); err != nil {
			return nil, fmt.Errorf("policy line %d: %w", n, err)
		}
		fields := strings.FieldsFunc(string(raw), func(r rune) bool { return r == ' ' || r == '\t' })
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if strings.Contains(string(raw), "#") {
			return nil, fmt.Errorf("policy line %d: %q is only allowed at the start of a comment line", n, "#")
		}
		if len(p.logs)+len(p.witnesses)+len(names) >= maxPolicyItems {
			return nil, fmt.Errorf("policy line %d: more than %d logs, witnesses and groups", n, maxPolicyItems)
		}
		var err error
		switch fields[0] {
		case "log":
			err = p.parseLog(n, fields, logKeys)
		case "witness":
			err = p.parseWitness(n, fields, names, witnessKeys)
		case "group":
			err = parseGroup(fields, names, used, n)
		case "quorum":
			if quorumLine != 0 {
				err = fmt.Errorf("second quorum line (the first is line %d)", quorumLine)
				break
			}
			quorumLine = n
			err = p.parseQuorum(fields, names)
		default:
			err = fmt.Errorf("unknown keyword %q (want log, witness, group or quorum)", fields[0])
		}
		if err != nil {
			return nil, fmt.Errorf("policy line %d: %w", n, err)
		}
	}
	if quorumLine == 0 {
		return nil, errors.New("policy: no quorum line (use \"quorum none\" to require no cosignatures)")
	}
	return p, nil
}

func checkPolicyChars(line []byte) error {
	for _, c := range line {
		if c == '\t' || c >= 0x20 && c != 0x7f {
			continue
		}
		if c == '\r' {
			return errors.New("carriage return (the file must use LF line endings)")
		}
		return fmt.Errorf("control character 0x%02x", c)
	}
	return nil
}

func (p *Policy) parseLog(n int, f []string, keys map[string]int) error {
	if len(f) != 2 && len(f) != 3 {
		return errors.New("want \"log <vkey> [<url>]\"")
	}
	alg, err := vkeyAlg(f[1])
	if err != nil {
		return err
	}
	if alg != 0x01 {
		return fmt.Errorf("log key has signature type 0x%02x, want 0x01 (Ed25519)", alg)
	}
	v, err := note.NewVerifier(f[1])
	if err != nil {
		return fmt.Errorf("log key %q: %w", f[1], err)
	}
	key, err := vkeyPublicKey(f[1])
	if err != nil {
		return err
	}
	if prev, ok := keys[key]; ok {
		return fmt.Errorf("log key duplicates the one on line %d", prev)
	}
	keys[key] = n
	e := LogEntry{Origin: v.Name(), VKey: f[1], Verifier: v, Line: n}
	if len(f) == 3 {
		if e.URL, err = checkURL(f[2]); err != nil {
			return err
		}
	}
	p.logs = append(p.logs, e)
	return nil
}

func (p *Policy) parseWitness(n int, f []string, names map[string]*node, keys map[string]int) error {
	if len(f) != 3 && len(f) != 4 {
		return errors.New("want \"witness <name> <vkey> [<url>]\"")
	}
	name := f[1]
	if err := checkNewName(name, names); err != nil {
		return err
	}
	v, err := cosignatureVerifier(f[2])
	if err != nil {
		return fmt.Errorf("witness %q key: %w", name, err)
	}
	key, err := vkeyPublicKey(f[2])
	if err != nil {
		return err
	}
	if prev, ok := keys[key]; ok {
		return fmt.Errorf("witness %q key duplicates the one on line %d", name, prev)
	}
	keys[key] = n
	e := WitnessEntry{Name: name, VKey: f[2], Verifier: v, Line: n}
	if len(f) == 4 {
		if e.URL, err = checkURL(f[3]); err != nil {
			return err
		}
	}
	names[name] = &node{name: name, witness: len(p.witnesses)}
	p.witnesses = append(p.witnesses, e)
	return nil
}

func parseGroup(f []string, names map[string]*node, used map[string]int, n int) error {
	if len(f) < 4 {
		return errors.New("want \"group <name> all|any|<k> <member>...\" with at least one member")
	}
	name, threshold, members := f[1], f[2], f[3:]
	if err := checkNewName(name, names); err != nil {
		return err
	}
	g := &node{name: name, witness: -1}
	switch threshold {
	case "all":
		g.k = len(members)
	case "any":
		g.k = 1
	default:
		k, err := strconv.Atoi(threshold)
		if err != nil || strconv.Itoa(k) != threshold {
			return fmt.Errorf("group %q: threshold %q is not all, any or a decimal number", name, threshold)
		}
		if k < 1 || k > len(members) {
			return fmt.Errorf("group %q: threshold %d is outside 1..%d (its number of members)", name, k, len(members))
		}
		g.k = k
	}
	for _, m := range members {
		c, ok := names[m]
		if !ok {
			return fmt.Errorf("group %q: member %q is not a witness or group defined on an earlier line", name, m)
		}
		if prev, ok := used[m]; ok {
			return fmt.Errorf("group %q: %q is already a group member on line %d", name, m, prev)
		}
		used[m] = n
		g.children = append(g.children, c)
	}
	names[name] = g
	return nil
}

func (p *Policy) parseQuorum(f []string, names map[string]*node) error {
	if len(f) != 2 {
		return errors.New("want \"quorum <name>\" or \"quorum none\"")
	}
	if f[1] == "none" {
		return nil
	}
	q, ok := names[f[1]]
	if !ok {
		return fmt.Errorf("quorum %q is not a witness or group defined on an earlier line", f[1])
	}
	p.quorum = q
	return nil
}

func checkNewName(name string, names map[string]*node) error {
	if keywords[name] {
		return fmt.Errorf("%q is a keyword and cannot be a name", name)
	}
	if _, ok := names[name]; ok {
		return fmt.Errorf("name %q is already defined", name)
	}
	return nil
}

func checkURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("URL %q is not an absolute http or https URL", s)
	}
	return s, nil
}

// cosignatureVerifier returns a tlog-cosignature/v1 verifier for a vkey of
// signature type 0x04, checking that the key hash in the vkey is the one
// the key and name give.
func cosignatureVerifier(vkey string) (note.Verifier, error) {
	alg, err := vkeyAlg(vkey)
	if err != nil {
		return nil, err
	}
	if alg != 0x04 {
		return nil, fmt.Errorf("signature type 0x%02x, want 0x04 (cosignature/v1)", alg)
	}
	v, err := fnote.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		return nil, err
	}
	parts := strings.SplitN(vkey, "+", 3)
	if fmt.Sprintf("%08x", v.KeyHash()) != parts[1] {
		return nil, errors.New("key hash does not match the name and key")
	}
	return v, nil
}

// vkeyAlg returns the signature type byte of a vkey (name+hash+base64).
func vkeyAlg(vkey string) (byte, error) {
	b, err := vkeyBytes(vkey)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

// vkeyPublicKey returns the key material of a vkey without its type byte, for
// detecting duplicate keys under different names.
func vkeyPublicKey(vkey string) (string, error) {
	b, err := vkeyBytes(vkey)
	if err != nil {
		return "", err
	}
	return string(b[1:]), nil
}

func vkeyBytes(vkey string) ([]byte, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return nil, fmt.Errorf("malformed vkey %q", vkey)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(parts[2])
	if err != nil || len(b) < 2 {
		return nil, fmt.Errorf("malformed vkey %q", vkey)
	}
	return b, nil
}

// Logs returns the policy's log lines, in file order.
func (p *Policy) Logs() []LogEntry {
	return append([]LogEntry(nil), p.logs...)
}

// Witnesses returns the policy's witness lines, in file order.
func (p *Policy) Witnesses() []WitnessEntry {
	return append([]WitnessEntry(nil), p.witnesses...)
}
