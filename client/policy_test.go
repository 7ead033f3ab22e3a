package client

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/reprolog/reprolog/pgp/pgptest"
	"github.com/reprolog/reprolog/proofs/prooftest"
)

// policyDir writes key files a.asc, b.asc, c.asc and a witness policy
// witnesses.txt into a temporary directory and returns it with the log's
// verifier key.
func policyDir(t testing.TB) (dir, vkey string) {
	t.Helper()
	dir = t.TempDir()
	for _, name := range []string{"a", "b", "c"} {
		s := pgptest.NewSigner(t, name)
		if err := os.WriteFile(filepath.Join(dir, name+".asc"), s.PublicArmored(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, vkey, err := note.GenerateKey(rand.Reader, "example.org/log")
	if err != nil {
		t.Fatal(err)
	}
	_, wkey := prooftest.NewWitness(t, "example.org/witness")
	if err := os.WriteFile(filepath.Join(dir, "witnesses.txt"),
		[]byte("log "+vkey+"\nwitness w1 "+wkey+"\nquorum w1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, vkey
}

const builders = `
Builder: alice
Key-File: a.asc

Builder: bob
Key-File: b.asc
Operator: acme

builder: carol
key-file: c.asc
operator: acme
`

func TestParsePolicy(t *testing.T) {
	dir, vkey := policyDir(t)
	text := "# the policy\nLog-URL: https://log.example.org/\nLog-Key: " + vkey + `
Witness-Policy: witnesses.txt
Max-Age: 36h
State-Dir: state
Allow: linux-image-amd64,
 firmware-misc-nonfree
Timeout: 3s
` + builders
	p, err := ParsePolicy([]byte(text), dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if p.LogURL != "https://log.example.org" || p.Log.Name() != "example.org/log" {
		t.Errorf("log %s %s", p.LogURL, p.Log.Name())
	}
	if p.Witnesses == nil || p.MaxAge != 36*time.Hour || p.Timeout != 3*time.Second ||
		p.StateDir != filepath.Join(dir, "state") {
		t.Errorf("witnesses %v, Max-Age %v, Timeout %v, State-Dir %s", p.Witnesses != nil, p.MaxAge, p.Timeout, p.StateDir)
	}
	if strings.Join(p.Allow, " ") != "linux-image-amd64 firmware-misc-nonfree" {
		t.Errorf("Allow %q", p.Allow)
	}
	if len(p.Builders) != 3 || p.Voters() != 2 || p.Threshold != 2 {
		t.Errorf("%d builders, %d voters, K=%d; want 3, 2 (acme votes once), 2", len(p.Builders), p.Voters(), p.Threshold)
	}
	if b, ok := p.Builder(p.Builders[2].Fingerprint); !ok || b.Name != "carol" || b.Voter() != "acme" || p.Key(b.Fingerprint) == nil {
		t.Errorf("Builder(carol's key) = %+v, %v", b, ok)
	}
	if p.Key(strings.Repeat("A", 40)) != nil {
		t.Error("an unknown fingerprint has a key")
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "one lost rebuilder") {
		t.Errorf("warnings %q; want the K == N one", p.Warnings)
	}
}

func TestParsePolicyDefaults(t *testing.T) {
	dir, vkey := policyDir(t)
	p, err := ParsePolicy([]byte("Log-URL: http://127.0.0.1:8080\nLog-Key: "+vkey+"\n\nBuilder: a\nKey-File: "+
		filepath.Join(dir, "a.asc")+"\n\nBuilder: b\nKey-File: b.asc\n\nBuilder: c\nKey-File: c.asc\n"), dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if p.Threshold != 2 || p.Voters() != 3 || p.StateDir != DefaultStateDir || p.Timeout != DefaultTimeout ||
		p.MaxAge != 0 || p.Witnesses != nil || len(p.Warnings) != 0 {
		t.Errorf("K=%d N=%d State-Dir %s Timeout %v Max-Age %v warnings %q", p.Threshold, p.Voters(), p.StateDir,
			p.Timeout, p.MaxAge, p.Warnings)
	}
	p, err = ParsePolicy([]byte("Log-URL: http://x\nLog-Key: "+vkey+"\nWitness-Policy: witnesses.txt\n"+builders), dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if p.MaxAge != DefaultMaxAge {
		t.Errorf("Max-Age with witnesses defaults to %v", p.MaxAge)
	}
}

func TestParsePolicyWarnings(t *testing.T) {
	dir, vkey := policyDir(t)
	three := "\nBuilder: a\nKey-File: a.asc\n\nBuilder: b\nKey-File: b.asc\n\nBuilder: c\nKey-File: c.asc\n"
	for k, want := range map[string]string{"1": "not a majority", "2": "", "3": "one lost rebuilder"} {
		p, err := ParsePolicy([]byte("Log-URL: http://x\nLog-Key: "+vkey+"\nThreshold: "+k+"\n"+three), dir, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(p.Warnings, "; ")
		if want == "" && got != "" || !strings.Contains(got, want) {
			t.Errorf("Threshold %s: warnings %q, want %q", k, got, want)
		}
	}
}

func TestParsePolicyRejects(t *testing.T) {
	dir, vkey := policyDir(t)
	good := "Log-URL: https://log.example.org\nLog-Key: " + vkey + "\n" + builders
	tests := []struct{ name, text, want string }{
		{"no builders", "Log-URL: https://x\nLog-Key: " + vkey + "\n", "builder paragraph"},
		{"missing Log-URL", strings.Replace(good, "Log-URL: https://log.example.org\n", "", 1), "Log-URL"},
		{"missing Log-Key", strings.Replace(good, "Log-Key: "+vkey+"\n", "", 1), "Log-Key"},
		{"bad Log-Key", strings.Replace(good, vkey, "example.org/log+1234+AAAA", 1), "Log-Key"},
		{"ftp Log-URL", strings.Replace(good, "https://log", "ftp://log", 1), "Log-URL"},
		{"Log-URL with query", strings.Replace(good, "example.org\n", "example.org/?x=1\n", 1), "Log-URL"},
		{"Log-URL with user", strings.Replace(good, "https://log", "https://u:p@log", 1), "Log-URL"},
		{"duplicate field", strings.Replace(good, "Log-URL", "Log-URL: https://y\nLog-URL", 1), "Log-URL given twice"},
		{"duplicate field other case", strings.Replace(good, "Log-URL", "log-url: https://y\nLog-URL", 1), "given twice"},
		{"duplicate builder field", strings.Replace(good, "Key-File: a.asc", "Key-File: a.asc\nKey-File: b.asc", 1), "Key-File given twice"},
		{"unknown log field", strings.Replace(good, "Log-URL", "Log-Timeout: 3s\nLog-URL", 1), `"log-timeout"`},
		{"unknown builder field", strings.Replace(good, "Key-File: a.asc", "Key-File: a.asc\nFingerprint: AB", 1), `"fingerprint"`},
		{"Threshold zero", strings.Replace(good, "Log-URL", "Threshold: 0\nLog-URL", 1), "Threshold"},
		{"Threshold word", strings.Replace(good, "Log-URL", "Threshold: two\nLog-URL", 1), "Threshold"},
		{"Threshold leading zero", strings.Replace(good, "Log-URL", "Threshold: 02\nLog-URL", 1), "Threshold"},
		{"Threshold above N", strings.Replace(good, "Log-URL", "Threshold: 3\nLog-URL", 1), "Threshold 3 is more than the 2 voters"},
		{"Max-Age without witnesses", strings.Replace(good, "Log-URL", "Max-Age: 7d\nLog-URL", 1), "Max-Age"},
		{"bad Max-Age", strings.Replace(good, "Log-URL", "Witness-Policy: witnesses.txt\nMax-Age: 7 days\nLog-URL", 1), "Max-Age"},
		{"bad Timeout", strings.Replace(good, "Log-URL", "Timeout: -1s\nLog-URL", 1), "Timeout"},
		{"fractional Timeout", strings.Replace(good, "Log-URL", "Timeout: 1.5s\nLog-URL", 1), "Timeout"},
		{"missing Witness-Policy file", strings.Replace(good, "Log-URL", "Witness-Policy: nope.txt\nLog-URL", 1), "Witness-Policy"},
		{"bad Witness-Policy file", strings.Replace(good, "Log-URL", "Witness-Policy: a.asc\nLog-URL", 1), "Witness-Policy"},
		{"bad Allow", strings.Replace(good, "Log-URL", "Allow: Linux\nLog-URL", 1), "Allow"},
		{"Allow twice", strings.Replace(good, "Log-URL", "Allow: a0, a0\nLog-URL", 1), "Allow"},
		{"empty value", strings.Replace(good, "Log-URL", "State-Dir:\nLog-URL", 1), "State-Dir: empty"},
		{"multi-line value", strings.Replace(good, "Log-URL: https://log.example.org", "Log-URL: https://log.example.org\n more", 1), "Log-URL: must be one line"},
		{"missing Builder", strings.Replace(good, "Builder: alice\n", "", 1), "missing field Builder"},
		{"missing Key-File", strings.Replace(good, "Key-File: a.asc\n", "", 1), "Key-File"},
		{"missing key file", strings.Replace(good, "a.asc", "z.asc", 1), "Key-File"},
		{"not a key", strings.Replace(good, "a.asc", "witnesses.txt", 1), "Key-File"},
		{"builder twice", strings.Replace(good, "Builder: bob", "Builder: alice", 1), "named twice"},
		{"same key twice", strings.Replace(good, "b.asc", "a.asc", 1), "same key"},
		{"builder named as an operator", strings.Replace(good, "Builder: alice", "Builder: acme", 1), "share the name"},
		{"no field separator", strings.Replace(good, "Builder: alice", "Builder alice", 1), "not \"Field: value\""},
		{"continuation first", " indented\n" + good, "continuation"},
		{"clear-signed", "-----BEGIN PGP SIGNED MESSAGE-----\n" + good, "OpenPGP"},
		{"not UTF-8", strings.Replace(good, "alice", "al\xffce", 1), "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.text == good {
				t.Fatal("the edit changed nothing")
			}
			_, err := ParsePolicy([]byte(tt.text), dir, time.Now())
			if !errors.Is(err, ErrPolicy) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParsePolicy = %v, want ErrPolicy mentioning %q", err, tt.want)
			}
		})
	}
}

// TestLoadPolicyQuorumNone loads policies whose Witness-Policy requires
// no cosignature: Max-Age could never be checked and every verification
// would fail, so each is refused at once, naming the policy file, the
// field and the witness policy file.
func TestLoadPolicyQuorumNone(t *testing.T) {
	dir, vkey := policyDir(t)
	_, wkey := prooftest.NewWitness(t, "example.org/witness")
	load := func(witnesses string) (string, *Policy, error) {
		path := filepath.Join(dir, "policy")
		text := "Log-URL: https://log.example.org\nLog-Key: " + vkey + "\nWitness-Policy: " + witnesses + "\n" + builders
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := LoadPolicy(path)
		return path, p, err
	}
	if _, p, err := load("witnesses.txt"); err != nil || p.Witnesses == nil {
		t.Fatalf("a policy with a quorum of one witness: %v", err)
	}
	for name, text := range map[string]string{
		"none.txt":         "quorum none\n",
		"witness-none.txt": "log " + vkey + "\nwitness w1 " + wkey + "\nquorum none\n",
		"spaced-none.txt":  "# no witness needed\nwitness w1 " + wkey + "\n\tquorum \t none",
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			path, p, err := load(name)
			if p != nil || !errors.Is(err, ErrPolicy) || !strings.HasPrefix(err.Error(), path+": ") ||
				!strings.Contains(err.Error(), "Witness-Policy "+name+": ") || !strings.Contains(err.Error(), `"quorum none"`) {
				t.Errorf("LoadPolicy = %v, %v; want ErrPolicy naming %s, Witness-Policy %s and its quorum", p, err, path, name)
			}
		})
	}
}

func TestParsePolicyExpiredOrRevokedKey(t *testing.T) {
	dir, vkey := policyDir(t)
	old := pgptest.NewSigner(t, "old", pgptest.CreatedAt(time.Now().Add(-48*time.Hour)), pgptest.Lifetime(time.Hour))
	gone := pgptest.NewSigner(t, "gone")
	gone.Revoke(t)
	for name, s := range map[string]*pgptest.Signer{"old.asc": old, "gone.asc": gone} {
		if err := os.WriteFile(filepath.Join(dir, name), s.PublicArmored(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := ParsePolicy([]byte("Log-URL: http://x\nLog-Key: "+vkey+"\n\nBuilder: old\nKey-File: old.asc\n\nBuilder: gone\nKey-File: gone.asc\n"), dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Builders) != 1 || p.Builders[0].Name != "old" || p.Builders[0].Key == nil {
		t.Fatalf("builders %+v: want only old, with its key", p.Builders)
	}
	warned := strings.Join(p.Warnings, "\n")
	if !strings.Contains(warned, "builder old: its key expired") || !strings.Contains(warned, "builder gone: its key is revoked") {
		t.Errorf("warnings: %s", warned)
	}
}

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{"7d": 7 * 24 * time.Hour, "36h": 36 * time.Hour, "90m": 90 * time.Minute,
		"10s": 10 * time.Second, "500ms": 500 * time.Millisecond}
	for s, want := range good {
		if got, err := parseDuration(s); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "7", "d", "0d", "-1d", "+1d", "07d", "1.5h", "1h30m", "7D", "1w", " 7d", "99999999999999d"} {
		if _, err := parseDuration(s); err == nil {
			t.Errorf("parseDuration(%q) succeeded", s)
		}
	}
}

func FuzzParsePolicy(f *testing.F) {
	dir, vkey := policyDir(f)
	f.Add([]byte("Log-URL: https://log.example.org\nLog-Key: " + vkey + "\nWitness-Policy: witnesses.txt\nAllow: a0\n" + builders))
	f.Add([]byte("Log-URL: http://x\nLog-Key: " + vkey + "\nThreshold: 1\n\nBuilder: a\nKey-File: a.asc\n"))
	f.Add([]byte("#\n\n\nA: b\n c\n .\n"))
	now := time.Now()
	f.Fuzz(func(t *testing.T, text []byte) {
		p, err := ParsePolicy(text, dir, now)
		if err != nil {
			if !errors.Is(err, ErrPolicy) {
				t.Fatalf("error %v does not wrap ErrPolicy", err)
			}
			return
		}
		if p.Threshold < 1 || p.Threshold > p.Voters() || len(p.Builders) == 0 || p.Log == nil || p.Timeout <= 0 {
			t.Fatalf("accepted an unusable policy: K=%d N=%d", p.Threshold, p.Voters())
		}
		for _, b := range p.Builders {
			if b.Key == nil || b.Key.Fingerprint() != b.Fingerprint {
				t.Fatalf("builder %s without its key", b.Name)
			}
		}
	})
}
