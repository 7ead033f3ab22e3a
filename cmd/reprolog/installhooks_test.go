package main

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/reprolog/reprolog/internal/nettest"
	"github.com/reprolog/reprolog/internal/testbin"
	"github.com/reprolog/reprolog/pgp/pgptest"
)

// contrib/apt/80reprolog is what install-hooks writes for a system with
// the binary in /usr/bin and the policy in /etc/reprolog.
func TestContribAptMatchesInstallHooks(t *testing.T) {
	want, err := os.ReadFile("../../contrib/apt/80reprolog")
	if err != nil {
		t.Fatal(err)
	}
	if got := aptSnippet("/usr/bin/reprolog", "/etc/reprolog/policy", nil, nil); got != string(want) {
		t.Errorf("contrib/apt/80reprolog is stale; install-hooks writes:\n%s", got)
	}
}

func TestInstallHooks(t *testing.T) {
	bin := testbin.Build(t, "reprolog")
	root := t.TempDir()
	conf := filepath.Join(root, "etc/apt/apt.conf.d/80reprolog")
	stdout, stderr, code := testbin.Run(t, bin, "install-hooks", "--root", root, "--policy", "/srv/policy",
		"--status", "/srv/root/var/lib/dpkg/status", "--proofs", "/srv/proofs")
	if code != 0 || !strings.Contains(stdout, conf) {
		t.Fatalf("%d %s %s", code, stdout, stderr)
	}
	data, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	self, _ := filepath.EvalSymlinks(bin)
	for _, want := range []string{
		`DPkg::Pre-Install-Pkgs { "` + self + ` apt-hook --policy /srv/policy --proofs /srv/proofs"; };`,
		`DPkg::Tools::Options::` + self + `::Version "3";`,
		`DPkg::Post-Invoke { "` + self + ` check --hook --policy /srv/policy --status /srv/root/var/lib/dpkg/status"; };`,
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("missing %s in\n%s", want, data)
		}
	}
	for _, bad := range [][]string{{"--policy", "relative/policy"}, {"--bin", "/usr/bin/repro log"}, {"--policy", `/etc/"x";`}} {
		if _, _, code := testbin.Run(t, bin, append([]string{"install-hooks", "--root", t.TempDir()}, bad...)...); code != exitUsage {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, _, code := testbin.Run(t, bin, "install-hooks", "--root", root, "--remove"); code != 0 {
		t.Fatal("--remove failed")
	}
	if _, err := os.Stat(conf); !os.IsNotExist(err) {
		t.Errorf("still there after --remove: %v", err)
	}
}

func TestCheckHookNeverFailsApt(t *testing.T) {
	bin := testbin.Build(t, "reprolog")
	dir := t.TempDir()
	// A missing policy is an error for a user, a silent exit 0 for apt only
	// in hook mode, with the reason on stderr.
	_, stderr, code := testbin.Run(t, bin, "check", "--policy", filepath.Join(dir, "absent"))
	if code != exitUsage || !strings.Contains(stderr, "absent") {
		t.Errorf("check without a policy: %d %s", code, stderr)
	}
	_, stderr, code = testbin.Run(t, bin, "check", "--hook", "--policy", filepath.Join(dir, "absent"))
	if code != 0 || !strings.Contains(stderr, "absent") {
		t.Errorf("check --hook without a policy: %d %s", code, stderr)
	}

	// A log that cannot be reached: exit 3 for a user, silence for apt.
	_, vkey, err := note.GenerateKey(rand.Reader, "example.org/log")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "alice.asc"), pgptest.NewSigner(t, "alice").PublicArmored(), 0o644)
	policy := filepath.Join(dir, "policy")
	os.WriteFile(policy, []byte("Log-URL: "+nettest.RefusedURL(t)+"\nLog-Key: "+vkey+"\nState-Dir: state\nTimeout: 1s\n\n"+
		"Builder: alice\nKey-File: alice.asc\n"), 0o644)
	status := filepath.Join(dir, "status")
	os.WriteFile(status, []byte("Package: hello\nStatus: install ok installed\nVersion: 1.0\nArchitecture: all\n"), 0o644)
	args := []string{"check", "--policy", policy, "--status", status, "--lists", dir}
	if _, stderr, code := testbin.Run(t, bin, args...); code != exitLog || !strings.Contains(stderr, "connection refused") {
		t.Errorf("check with the log unreachable: %d %s", code, stderr)
	}
	if stdout, stderr, code := testbin.Run(t, bin, append(args, "--hook")...); code != 0 || stdout+stderr != "" {
		t.Errorf("check --hook with the log unreachable: %d %q %q", code, stdout, stderr)
	}
}
