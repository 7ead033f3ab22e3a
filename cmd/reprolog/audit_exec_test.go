package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/reprolog/reprolog/internal/testbin"
	"github.com/reprolog/reprolog/log/logtest"
)

// failingHook is an --exec command that fails its first n runs, then
// appends the finding to alerts; runs counts every run.
func failingHook(t *testing.T, n int) (cmd, alerts, runs string) {
	t.Helper()
	dir := t.TempDir()
	alerts, runs = filepath.Join(dir, "alerts"), filepath.Join(dir, "runs")
	cmd = "echo run >> " + runs + "; [ $(wc -l < " + runs + ") -gt " + strconv.Itoa(n) + " ] || exit 1; cat >> " + alerts
	return cmd, alerts, runs
}

func lines(t *testing.T, file string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// A failing --exec holds nothing up: the findings are on stdout first,
// and the command is run again, with backoff, until it takes each one,
// once.
func TestAuditExecFails(t *testing.T) {
	l := logtest.Start(t)
	auditSeed(t, l)
	bin := testbin.Build(t, "reprolog")
	args := func(state, cmd string) []string {
		return []string{"audit", "--log", l.URL, "--log-key", l.VKey, "--state", state, "--once", "--exec", cmd, "--exec-backoff", "10ms"}
	}

	// Fails 3 times, then works.
	cmd, alerts, runs := failingHook(t, 3)
	stdout, stderr, code := testbin.Run(t, bin, args(t.TempDir(), cmd)...)
	if code != 0 || len(parseFindings(t, stdout)) != 3 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if b, _ := os.ReadFile(alerts); string(b) != stdout {
		t.Errorf("--exec got\n%s\nstdout is\n%s", b, stdout)
	}
	if n := lines(t, runs); n != 6 {
		t.Errorf("--exec ran %d times, want 3 failures and 3 findings", n)
	}

	// Fails every time: the findings are printed, the run fails, and the
	// next run passes them on, once.
	state := t.TempDir()
	stdout, stderr, code = testbin.Run(t, bin, args(state, "exit 7")...)
	if code != 1 || len(parseFindings(t, stdout)) != 3 || !strings.Contains(stderr, "--exec: finding 1: exit status 7") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	printed := stdout
	cmd, alerts, _ = failingHook(t, 0)
	for range 2 {
		stdout, stderr, code = testbin.Run(t, bin, args(state, cmd)...)
		if code != 0 || stdout != "" {
			t.Fatalf("again: exit %d\n%s\n%s", code, stdout, stderr)
		}
		if b, _ := os.ReadFile(alerts); string(b) != printed {
			t.Errorf("--exec got\n%s\nthe first run printed\n%s", b, printed)
		}
	}
}
