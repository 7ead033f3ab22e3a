package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reprolog/reprolog/audit"
	"github.com/reprolog/reprolog/internal/testbin"
	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/pgp/pgptest"
)

// Without --once the audit keeps following the log: entries added later
// give findings on stdout as they come, while --exec fails for a while,
// and SIGTERM stops it cleanly. Progress is on stderr while it catches up.
func TestAuditFollows(t *testing.T) {
	l := logtest.Start(t)
	auditSeed(t, l)
	bin := testbin.Build(t, "reprolog")
	state := t.TempDir()
	hook, alerts, _ := failingHook(t, 2)
	errFile, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer errFile.Close()
	cmd := exec.Command(bin, "audit", "--log", l.URL, "--log-key", l.VKey, "--state", state, "--interval", "50ms",
		"--batch", "1", "--progress-every", "1ns", "--exec", hook, "--exec-backoff", "10ms")
	cmd.Stderr = errFile
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() }) // when the test fails before the stop
	findings := make(chan audit.Finding)
	go func() {
		defer close(findings)
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var f audit.Finding
			if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
				t.Errorf("stdout line %q: %v", sc.Text(), err)
			}
			findings <- f
		}
	}()
	next := func() audit.Finding {
		t.Helper()
		select {
		case f, ok := <-findings:
			if !ok {
				t.Fatal("stdout closed: the audit stopped following")
			}
			return f
		case <-time.After(2 * time.Minute): // a guard against a hang, not a measure
			t.Fatal("no finding")
		}
		return audit.Finding{}
	}
	var got []audit.Finding
	for range 3 {
		got = append(got, next())
	}

	// Entries added while it follows.
	d := pgptest.NewSigner(t, "D")
	l.Register(t, d.PublicArmored())
	rb := auditTestdata(t, "gen_local_rbtest_0.1_amd64.build1.buildinfo")
	idx := l.Submit(t, d.ClearSign(t, []byte(strings.Replace(string(rb),
		"748e3638f64df974a57e60577f1ad5de08be7a85dc7a8f8e201671261e3ba530", strings.Repeat("d0", 32), 1))))
	f := next()
	got = append(got, f)
	if f.Kind != audit.Disagreement || f.ID != 4 || f.Entries[0].Index != int64(idx) {
		t.Errorf("the later entry's finding: %+v", f)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err != nil {
		t.Errorf("after SIGTERM: %v", err)
	}
	if _, ok := <-findings; ok {
		t.Error("more findings than expected")
	}
	stderr, err := os.ReadFile(errFile.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^audit: [1-4] of 5 entries \(\d+\.\d%\), \d+ entries/s, about \S+ left$`).Match(stderr) {
		t.Errorf("no progress while catching up:\n%s", stderr)
	}
	if !strings.Contains(string(stderr), "audit: 6 of 6 entries audited; this run: 1 entries (1 verified)") {
		t.Errorf("no summary of the later entry:\n%s", stderr)
	}

	// --exec took what it took before the stop; a run with --once passes
	// on the rest: each finding once, in order.
	if _, stderr, code := testbin.Run(t, bin, "audit", "--log", l.URL, "--log-key", l.VKey, "--state", state, "--once",
		"--exec", hook); code != 0 {
		t.Fatalf("--once after the stop: %d\n%s", code, stderr)
	}
	b, err := os.ReadFile(alerts)
	if err != nil {
		t.Fatal(err)
	}
	var passed []audit.Finding
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var f audit.Finding
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			t.Fatalf("--exec got %q: %v", line, err)
		}
		passed = append(passed, f)
	}
	if len(passed) != len(got) {
		t.Fatalf("--exec got %d findings, stdout had %d", len(passed), len(got))
	}
	for i := range got {
		if passed[i].ID != got[i].ID || passed[i].Summary != got[i].Summary {
			t.Errorf("--exec got finding %d %q, stdout had %d %q", passed[i].ID, passed[i].Summary, got[i].ID, got[i].Summary)
		}
	}
}
