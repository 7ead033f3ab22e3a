package debtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Root is a throwaway system for the real apt-get and dpkg: its own
// configuration, lists, cache and dpkg database under Dir, with dpkg
// installing into Dir (--root). Nothing outside Dir is touched.
type Root struct {
	Dir string
	// Config is the apt configuration file every run reads (APT_CONFIG).
	Config string
}

// NewRoot makes an empty root whose sources.list names the repositories.
func NewRoot(t testing.TB, repos ...*Repo) *Root {
	t.Helper()
	Need(t, "apt-get", "dpkg")
	r := &Root{Dir: t.TempDir()}
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/apt/lists/partial",
		"var/cache/apt/archives/partial", "var/log/apt", "etc/apt/apt.conf.d", "etc/apt/preferences.d",
		"etc/apt/sources.list.d", "etc/apt/trusted.gpg.d"} {
		if err := os.MkdirAll(filepath.Join(r.Dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"var/lib/dpkg/status", "var/lib/dpkg/available"} {
		if err := os.WriteFile(filepath.Join(r.Dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var sources strings.Builder
	for _, repo := range repos {
		fmt.Fprintf(&sources, "deb [trusted=yes] %s ./\n", repo.URL)
	}
	r.write(t, "etc/apt/sources.list", sources.String())
	r.Config = r.write(t, "etc/apt/root.conf", fmt.Sprintf(`Dir "%[1]s/";
Dir::State::status "%[1]s/var/lib/dpkg/status";
Dir::Log::Terminal "/dev/null";
DPkg::Options { "--root=%[1]s"; "--force-not-root"; "--force-bad-path"; "--log=/dev/null"; };
APT::Sandbox::User "root";
Acquire::Languages "none";
Debug::NoLocking "true";
`, r.Dir))
	return r
}

func (r *Root) write(t testing.TB, name, text string) string {
	t.Helper()
	path := filepath.Join(r.Dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Status is the root's dpkg status file.
func (r *Root) Status() string { return filepath.Join(r.Dir, "var/lib/dpkg/status") }

// Lists is the root's apt lists directory.
func (r *Root) Lists() string { return filepath.Join(r.Dir, "var/lib/apt/lists") }

// ConfDir is the root's apt.conf.d.
func (r *Root) ConfDir() string { return filepath.Join(r.Dir, "etc/apt/apt.conf.d") }

// AptGet runs apt-get in the root and returns its combined output and exit
// status.
func (r *Root) AptGet(t testing.TB, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("apt-get", append([]string{"-q", "-y"}, args...)...)
	cmd.Env = append(os.Environ(), "APT_CONFIG="+r.Config, "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("apt-get: %v", err)
	}
	return string(out), 0
}
