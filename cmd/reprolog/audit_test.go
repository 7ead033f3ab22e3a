package main

import (
	"bufio"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/transparency-dev/tessera"
	"golang.org/x/mod/sumdb/note"
	_ "modernc.org/sqlite" // to change the log's embedded database

	"github.com/reprolog/reprolog/audit"
	"github.com/reprolog/reprolog/internal/testbin"
	rlog "github.com/reprolog/reprolog/log"
	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/pgp/pgptest"
	"github.com/reprolog/reprolog/witness"
	"github.com/reprolog/reprolog/witness/witnesstest"
)

func auditTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "audit", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// auditSeed fills l with a real pair of builds of one source version from
// two .dsc files, three agreeing builds of rbtest and one disagreeing.
func auditSeed(t *testing.T, l *logtest.Log) {
	t.Helper()
	signers := map[string]*pgptest.Signer{}
	for _, n := range []string{"A", "B", "C"} {
		signers[n] = pgptest.NewSigner(t, n)
		l.Register(t, signers[n].PublicArmored())
	}
	l.Submit(t, signers["A"].ClearSign(t, auditTestdata(t, "deb_uli-heller_golang-golang-x-sys_0.17.0-1~uh~focal1_amd64.build-A.buildinfo")))
	l.Submit(t, signers["B"].ClearSign(t, auditTestdata(t, "deb_uli-heller_golang-golang-x-sys_0.17.0-1~uh~focal1_amd64.build-B.buildinfo")))
	rb := auditTestdata(t, "gen_local_rbtest_0.1_amd64.build1.buildinfo")
	l.Submit(t, signers["A"].ClearSign(t, rb))
	l.Submit(t, signers["B"].ClearSign(t, rb))
	other := strings.Replace(string(rb), "748e3638f64df974a57e60577f1ad5de08be7a85dc7a8f8e201671261e3ba530",
		strings.Repeat("0f", 32), 1)
	l.Submit(t, signers["C"].ClearSign(t, []byte(other)))
}

func parseFindings(t *testing.T, out string) []audit.Finding {
	t.Helper()
	var fs []audit.Finding
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var f audit.Finding
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			t.Fatalf("stdout line %q: %v", sc.Text(), err)
		}
		fs = append(fs, f)
	}
	return fs
}

func kinds(fs []audit.Finding) []string {
	var k []string
	for _, f := range fs {
		k = append(k, string(f.Kind))
	}
	slices.Sort(k)
	return k
}

func TestAuditCommand(t *testing.T) {
	l := logtest.Start(t)
	auditSeed(t, l)
	bin := testbin.Build(t, "reprolog")
	state := t.TempDir()
	alerts := filepath.Join(t.TempDir(), "alerts")
	keyFile := filepath.Join(t.TempDir(), "log.pub")
	if err := os.WriteFile(keyFile, []byte(l.VKey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	stdout, stderr, code := testbin.Run(t, bin, "audit", "--log", l.URL, "--log-key", keyFile, "--state", state, "--once",
		"--exec", "cat >> "+alerts+"; echo $REPROLOG_FINDING_ID $REPROLOG_FINDING_KIND >> "+alerts+".env")
	if code != 0 {
		t.Fatalf("reprolog audit: %d\n%s", code, stderr)
	}
	fs := parseFindings(t, stdout)
	if want := []string{"disagreement", "drift", "source-changed"}; !slices.Equal(kinds(fs), want) {
		t.Errorf("findings %q, want %q\n%s", kinds(fs), want, stdout)
	}
	if b, _ := os.ReadFile(alerts); string(b) != stdout {
		t.Errorf("--exec got\n%s\nstdout is\n%s", b, stdout)
	}
	if b, _ := os.ReadFile(alerts + ".env"); !strings.Contains(string(b), "1 "+string(fs[0].Kind)+"\n") {
		t.Errorf("--exec environment: %s", b)
	}
	if !strings.Contains(stderr, "audit: 5 of 5 entries audited; this run: 5 entries (5 verified)") ||
		!strings.Contains(stderr, "finding 3: disagreement: builders disagree on rbtest 0.1 all") {
		t.Errorf("stderr:\n%s", stderr)
	}

	// Again: nothing new.
	stdout, stderr, code = testbin.Run(t, bin, "audit", "--log", l.URL, "--log-key", l.VKey, "--state", state, "--once")
	if code != 0 || stdout != "" || !strings.Contains(stderr, "this run: 0 entries") {
		t.Errorf("second run: %d %q\n%s", code, stdout, stderr)
	}

	stdout, stderr, code = testbin.Run(t, bin, "audit", "report", "--state", state)
	if code != 0 || !strings.Contains(stdout, "rbtest 0.1 all: disagreement, 2 of 3 builders agree on 748e3638f64d; dissent: ") ||
		!strings.Contains(stdout, "golang-golang-x-sys-dev 0.17.0-1~uh~focal1 all: drift, 1 of 2 builders agree") ||
		!strings.Contains(stdout, "source golang-golang-x-sys 0.17.0-1~uh~focal1: built from 2 different .dsc files") {
		t.Errorf("report: %d\n%s%s", code, stdout, stderr)
	}
	stdout, _, code = testbin.Run(t, bin, "audit", "report", "--state", state, "--json")
	var r audit.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil || code != 0 || r.Position != 5 || len(r.Packages) != 2 {
		t.Errorf("report --json: %d %v %+v", code, err, r)
	}

	for _, args := range [][]string{
		{"audit"},
		{"audit", "--log", l.URL, "--state", state},
		{"audit", "--log", l.URL, "--log-key", l.VKey, "--state", state, "extra"},
		{"audit", "report"},
	} {
		if _, _, code := testbin.Run(t, bin, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	if _, stderr, code := testbin.Run(t, bin, "audit", "--log", l.URL, "--log-key", "nonsense", "--state", t.TempDir(), "--once"); code != 1 || !strings.Contains(stderr, "--log-key") {
		t.Errorf("bad key: %d %s", code, stderr)
	}
	if _, stderr, code := testbin.Run(t, bin, "audit", "report", "--state", t.TempDir()); code != 1 || !strings.Contains(stderr, "no audit state") {
		t.Errorf("report of nothing: %d %s", code, stderr)
	}
}

// Killed at random moments and started again, the audit prints every
// finding of an uninterrupted audit. Only a finding being printed when the
// process died may be printed again, with the same ID.
func TestAuditKilled(t *testing.T) {
	l := logtest.Start(t)
	auditSeed(t, l)
	bin := testbin.Build(t, "reprolog")
	args := func(state string) []string {
		return []string{"audit", "--log", l.URL, "--log-key", l.VKey, "--state", state, "--once", "--batch", "1", "--lookup-sample", "100"}
	}
	start := time.Now()
	ref, _, code := testbin.Run(t, bin, args(t.TempDir())...)
	took := time.Since(start)
	if code != 0 {
		t.Fatal("reference audit failed")
	}
	want := parseFindings(t, ref)

	state := t.TempDir()
	out := filepath.Join(t.TempDir(), "out")
	kills := 0
	for run := 0; ; run++ {
		if run > 100 {
			t.Fatal("the audit does not finish")
		}
		f, err := os.OpenFile(out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, args(state)...)
		cmd.Stdout = f
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Later and later, from a tenth of an uninterrupted run on.
		delay := took*time.Duration(run+1)/10 + time.Duration(rand.IntN(10))*time.Millisecond
		timer := time.AfterFunc(delay, func() { cmd.Process.Signal(syscall.SIGKILL) })
		err = cmd.Wait()
		timer.Stop()
		f.Close()
		if err == nil {
			break
		}
		kills++
	}
	t.Logf("killed %d times (an audit takes %v)", kills, took)
	if kills == 0 {
		t.Error("never killed")
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := parseFindings(t, string(b))
	byID := map[int64]audit.Finding{}
	repeats := 0
	for _, f := range got {
		if prev, ok := byID[f.ID]; ok {
			repeats++
			if fmt.Sprint(prev) != fmt.Sprint(f) {
				t.Errorf("finding %d printed twice, differently", f.ID)
			}
		}
		byID[f.ID] = f
	}
	if repeats > kills {
		t.Errorf("%d findings printed again after %d kills", repeats, kills)
	}
	if len(byID) != len(want) {
		t.Fatalf("%d findings, want %d", len(byID), len(want))
	}
	for _, w := range want {
		f := byID[w.ID]
		if f.Kind != w.Kind || f.Summary != w.Summary {
			t.Errorf("finding %d: %s %q, want %s %q", w.ID, f.Kind, f.Summary, w.Kind, w.Summary)
		}
	}
}

// A log that lost a record (its row deleted from the log's store): the
// audit says so and exits 3.
func TestAuditMisbehaviourStatus(t *testing.T) {
	if logtest.Current() != logtest.Embedded {
		t.Skip("changes the log's embedded database")
	}
	l := logtest.Start(t)
	auditSeed(t, l)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(l.Dir, rlog.DatabaseFile)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var lost string
	if err := db.QueryRow(`DELETE FROM records WHERE idx = 2 RETURNING sha256`).Scan(&lost); err != nil {
		t.Fatal(err)
	}
	bin := testbin.Build(t, "reprolog")
	stdout, stderr, code := testbin.Run(t, bin, "audit", "--log", l.URL, "--log-key", l.VKey, "--state", t.TempDir(), "--once", "--batch", "1")
	var missing []audit.Finding
	for _, f := range parseFindings(t, stdout) {
		if f.Problem == audit.ProblemRecordMissing {
			missing = append(missing, f)
		}
	}
	if code != exitMisbehaviour || len(missing) != 1 || missing[0].Entries[0].Index != 2 || missing[0].Entries[0].Record != lost {
		t.Errorf("exit %d, findings %+v\n%s", code, missing, stderr)
	}
}

// --witness-policy: checkpoints are used only with the policy's quorum of
// cosignatures from real witnesses.
func TestAuditWitnessPolicy(t *testing.T) {
	dir := t.TempDir()
	_, vkey, err := rlog.LoadOrCreateKey(dir, "reprolog.test/log", "")
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	entry := witness.LogEntry{Origin: v.Name(), VKey: vkey, Verifier: v}
	w1 := witnesstest.StartWitness(t, "w1.example", entry)
	w2 := witnesstest.StartWitness(t, "w2.example", entry)
	logPolicy := fmt.Sprintf("log %s\nwitness w1 %s %s\nquorum w1\n", vkey, w1.VKey, w1.URL)
	group, err := tessera.NewWitnessGroupFromPolicy([]byte(logPolicy))
	if err != nil {
		t.Fatal(err)
	}
	l := logtest.StartDir(t, dir, func(c *rlog.Config) { c.Witnesses = &group })
	auditSeed(t, l)
	bin := testbin.Build(t, "reprolog")

	policies := t.TempDir()
	one := filepath.Join(policies, "one")
	both := filepath.Join(policies, "both")
	os.WriteFile(one, []byte(logPolicy), 0o644)
	os.WriteFile(both, []byte(fmt.Sprintf("log %s\nwitness w1 %s\nwitness w2 %s\ngroup both all w1 w2\nquorum both\n", vkey, w1.VKey, w2.VKey)), 0o644)

	stdout, stderr, code := testbin.Run(t, bin, "audit", "--log", l.URL, "--log-key", vkey, "--state", t.TempDir(), "--once", "--witness-policy", one)
	if code != 0 || len(parseFindings(t, stdout)) != 3 {
		t.Errorf("with w1's cosignature: %d\n%s\n%s", code, stdout, stderr)
	}
	stdout, stderr, code = testbin.Run(t, bin, "audit", "--log", l.URL, "--log-key", vkey, "--state", t.TempDir(), "--once", "--witness-policy", both)
	if code != 1 || stdout != "" || !strings.Contains(stderr, "quorum") {
		t.Errorf("without w2's cosignature: %d\n%s\n%s", code, stdout, stderr)
	}
	bad := filepath.Join(policies, "bad")
	os.WriteFile(bad, []byte("quorum w9\n"), 0o644)
	if _, stderr, code := testbin.Run(t, bin, "audit", "--log", l.URL, "--log-key", vkey, "--state", t.TempDir(), "--once", "--witness-policy", bad); code != 1 || !strings.Contains(stderr, bad) {
		t.Errorf("bad policy: %d %s", code, stderr)
	}
}

func TestAuditProgress(t *testing.T) {
	var b strings.Builder
	p := newProgress(&b)
	p.update(audit.Progress{Position: 10, TreeSize: 1000, Processed: 10, Elapsed: time.Second})
	if b.Len() != 0 {
		t.Errorf("progress printed at once: %q", b.String())
	}
	p.last = time.Now().Add(-time.Minute)
	p.update(audit.Progress{Position: 250, TreeSize: 1000, Processed: 200, Elapsed: 2 * time.Second})
	if want := "audit: 250 of 1000 entries (25.0%), 100 entries/s, about 8s left\n"; b.String() != want {
		t.Errorf("progress line %q, want %q", b.String(), want)
	}
}
