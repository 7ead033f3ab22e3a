package audit_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprolog/reprolog/audit"
	rlog "github.com/reprolog/reprolog/log"
	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/pgp/pgptest"
)

// small is a log with three agreeing builds of rbtest and builder keys
// to add more.
type small struct {
	log  *logtest.Log
	b    map[string]*pgptest.Signer
	recs [][]byte
}

func startSmall(t *testing.T) *small {
	t.Helper()
	l := logtest.Start(t)
	s := &small{log: l, b: builders(t, l, "A", "B", "C", "D")}
	rb1, rb2 := readTestdata(t, rbtest1), readTestdata(t, rbtest2)
	s.add(t, s.b["A"].ClearSign(t, rb1))
	s.add(t, s.b["B"].ClearSign(t, rb2))
	s.add(t, s.b["C"].ClearSign(t, rb1))
	return s
}

func (s *small) add(t *testing.T, record []byte) uint64 {
	t.Helper()
	s.recs = append(s.recs, record)
	return s.log.Submit(t, record)
}

// disagree adds a build of rbtest by D with another hash.
func (s *small) disagree(t *testing.T) (uint64, []byte) {
	t.Helper()
	rec := s.b["D"].ClearSign(t, replaceHash(t, readTestdata(t, rbtest1), rbDeb, strings.Repeat("ef", 32)))
	return s.add(t, rec), rec
}

func get(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %v %s", url, err, resp.Status)
	}
	return b
}

// openTree checks a signed checkpoint with the log's key.
func openTree(t *testing.T, vkey string, signed string) tlog.Tree {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open([]byte(signed), note.VerifierList(v))
	if err != nil {
		t.Fatalf("checkpoint does not verify: %v", err)
	}
	c, err := torchwood.ParseCheckpoint(n.Text)
	if err != nil {
		t.Fatal(err)
	}
	return c.Tree
}

func signTree(t *testing.T, s note.Signer, tree tlog.Tree) []byte {
	t.Helper()
	b, err := note.Sign(&note.Note{Text: torchwood.Checkpoint{Origin: s.Name(), Tree: tree}.String()}, s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func randomHash() tlog.Hash {
	var h tlog.Hash
	rand.Read(h[:])
	return h
}

// onlyMisbehaviour checks that c holds exactly one finding, about the log,
// with that problem, and returns it.
func onlyMisbehaviour(t *testing.T, c *collector, problem string) audit.Finding {
	t.Helper()
	fs := c.all()
	if len(fs) != 1 || fs[0].Kind != audit.LogMisbehaviour || fs[0].Problem != problem {
		t.Fatalf("findings %+v, want one %s", fs, problem)
	}
	return fs[0]
}

func TestForkedCheckpoint(t *testing.T) {
	s := startSmall(t)
	p := newProxy(t, s.log.URL)
	var c collector
	a := openAuditor(t, p.URL, s.log.VKey, t.TempDir(), &c)
	sync1(t, a)
	held := string(get(t, s.log.URL+"/checkpoint"))

	// The same size, another tree, signed by the log's own key.
	fork := signTree(t, logSigner(t, s.log), tlog.Tree{N: 3, Hash: randomHash()})
	p.answer("/checkpoint", fork)
	res := sync1(t, a)
	f := onlyMisbehaviour(t, &c, audit.ProblemCheckpointInconsistent)
	if len(f.Checkpoints) != 2 || f.Checkpoints[0] != held || f.Checkpoints[1] != string(fork) {
		t.Fatalf("evidence: %q", f.Checkpoints)
	}
	t1, t2 := openTree(t, s.log.VKey, f.Checkpoints[0]), openTree(t, s.log.VKey, f.Checkpoints[1])
	if t1.N != t2.N || t1.Hash == t2.Hash {
		t.Errorf("the evidence does not show a fork: %v %v", t1, t2)
	}
	if res.TreeSize != 3 || res.Findings[audit.LogMisbehaviour] != 1 {
		t.Errorf("sync: %+v", res)
	}
	// Seen again: not found again. The audit stays on what it verified.
	sync1(t, a)
	p.forget("/checkpoint")
	s.disagree(t)
	res = sync1(t, a)
	if len(c.ofKind(audit.LogMisbehaviour)) != 1 || len(c.ofKind(audit.Disagreement)) != 1 || res.TreeSize != 4 {
		t.Errorf("after the fork went away: %+v, %+v", res, c.all())
	}
}

// A larger tree the log's tiles cannot prove.
func TestUnprovableCheckpoint(t *testing.T) {
	s := startSmall(t)
	p := newProxy(t, s.log.URL)
	var c collector
	a := openAuditor(t, p.URL, s.log.VKey, t.TempDir(), &c)
	sync1(t, a)
	s.disagree(t)
	p.answer("/checkpoint", signTree(t, logSigner(t, s.log), tlog.Tree{N: 4, Hash: randomHash()}))
	res := sync1(t, a)
	f := onlyMisbehaviour(t, &c, audit.ProblemCheckpointInconsistent)
	if !strings.Contains(f.Detail, "do not prove") || res.TreeSize != 3 || res.Processed != 0 {
		t.Errorf("finding %+v after %+v", f, res)
	}
}

// Two logs with one key and different entries: a split view. The
// consistency proof the second serves fails against the first's tree.
func TestSplitView(t *testing.T) {
	s := startSmall(t)
	dir := t.TempDir()
	for _, name := range []string{rlog.SignerKeyFile, rlog.VerifierKeyFile} {
		b, err := os.ReadFile(filepath.Join(s.log.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	other := logtest.StartDir(t, dir)
	for _, n := range []string{"A", "B", "D"} {
		other.Register(t, s.b[n].PublicArmored())
	}
	other.Submit(t, s.recs[0])
	other.Submit(t, s.recs[1])
	other.Submit(t, s.b["D"].ClearSign(t, readTestdata(t, rbtest1)))
	other.Submit(t, s.b["D"].ClearSign(t, readTestdata(t, rbtest2)))

	p := newProxy(t, s.log.URL)
	var c collector
	a := openAuditor(t, p.URL, s.log.VKey, t.TempDir(), &c)
	sync1(t, a)
	p.retarget(t, other.URL)
	res := sync1(t, a)
	f := onlyMisbehaviour(t, &c, audit.ProblemCheckpointInconsistent)
	old, next := openTree(t, s.log.VKey, f.Checkpoints[0]), openTree(t, s.log.VKey, f.Checkpoints[1])
	var proof tlog.TreeProof
	for _, h := range f.Proof {
		x, err := tlog.ParseHash(h)
		if err != nil {
			t.Fatal(err)
		}
		proof = append(proof, x)
	}
	if old.N != 3 || next.N != 4 || len(proof) == 0 || tlog.CheckTree(proof, next.N, next.Hash, old.N, old.Hash) == nil {
		t.Errorf("evidence of the split view does not hold: %v %v %v", old, next, proof)
	}
	if res.TreeSize != 3 || res.Processed != 0 {
		t.Errorf("the audit moved to the other view: %+v", res)
	}
}

func TestCheckpointBackwards(t *testing.T) {
	s := startSmall(t)
	earlier := get(t, s.log.URL+"/checkpoint")
	s.disagree(t)
	p := newProxy(t, s.log.URL)
	var c collector
	a := openAuditor(t, p.URL, s.log.VKey, t.TempDir(), &c)
	sync1(t, a)
	c = collector{}
	p.answer("/checkpoint", earlier)
	sync1(t, a)
	f := onlyMisbehaviour(t, &c, audit.ProblemCheckpointBackwards)
	if openTree(t, s.log.VKey, f.Checkpoints[0]).N != 4 || f.Checkpoints[1] != string(earlier) {
		t.Errorf("evidence: %q", f.Checkpoints)
	}
}

func TestCheckpointBadSignature(t *testing.T) {
	s := startSmall(t)
	p := newProxy(t, s.log.URL)
	skey, _, err := note.GenerateKey(rand.Reader, s.log.Origin)
	if err != nil {
		t.Fatal(err)
	}
	impostor, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	p.answer("/checkpoint", signTree(t, impostor, tlog.Tree{N: 3, Hash: randomHash()}))
	var c collector
	a := openAuditor(t, p.URL, s.log.VKey, t.TempDir(), &c)
	res := sync1(t, a)
	onlyMisbehaviour(t, &c, audit.ProblemCheckpointSignature)
	if res.Processed != 0 {
		t.Errorf("entries read against a checkpoint the log did not sign: %+v", res)
	}
	p.forget("/checkpoint")
	if res := sync1(t, a); res.Processed != 3 || len(c.all()) != 1 {
		t.Errorf("after the bad checkpoint: %+v, %+v", res, c.all())
	}
}

// A record the log lost, and one it serves changed: both are found, and
// neither counts against its builder.
func TestRecordMissingOrChanged(t *testing.T) {
	s := startSmall(t)
	idx, rec := s.disagree(t)
	changed := s.add(t, s.b["B"].ClearSign(t, replaceHash(t, readTestdata(t, rbtest1), rbDeb, strings.Repeat("01", 32))))
	p := newProxy(t, s.log.URL)
	p.answer("/record/"+sha(rec), nil)
	p.answer("/record/"+sha(s.recs[changed]), bytes.Replace(s.recs[changed], []byte("Build-Date"), []byte("Build-Dates"), 1))

	var c collector
	a := openAuditor(t, p.URL, s.log.VKey, t.TempDir(), &c)
	res := sync1(t, a)
	fs := c.all()
	if len(fs) != 2 || res.Verified != 3 {
		t.Fatalf("findings %+v after %+v", fs, res)
	}
	for i, want := range []struct {
		problem string
		idx     uint64
	}{{audit.ProblemRecordMissing, idx}, {audit.ProblemRecordMismatch, changed}} {
		f := fs[i]
		if f.Kind != audit.LogMisbehaviour || f.Problem != want.problem || len(f.Entries) != 1 || f.Entries[0].Index != int64(want.idx) {
			t.Errorf("finding %d: %+v, want %s at %d", i, f, want.problem, want.idx)
		}
		checkEvidence(t, s.log, f)
	}
}

func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestKeyMissing(t *testing.T) {
	s := startSmall(t)
	p := newProxy(t, s.log.URL)
	p.answer("/keys/"+s.b["B"].Fingerprint(), nil)
	var c collector
	a := openAuditor(t, p.URL, s.log.VKey, t.TempDir(), &c)
	res := sync1(t, a)
	f := onlyMisbehaviour(t, &c, audit.ProblemKeyMissing)
	if f.Entries[0].Builder != s.b["B"].Fingerprint() || res.Verified != 2 {
		t.Errorf("finding %+v after %+v", f, res)
	}

	// Another builder's key in its place.
	p.answer("/keys/"+s.b["B"].Fingerprint(), s.b["C"].PublicArmored())
	c = collector{}
	a = openAuditor(t, p.URL, s.log.VKey, t.TempDir(), &c)
	res = sync1(t, a)
	f = onlyMisbehaviour(t, &c, audit.ProblemKeyInvalid)
	if f.Entries[0].Builder != s.b["B"].Fingerprint() || res.Verified != 2 || !strings.Contains(f.Detail, s.b["C"].Fingerprint()) {
		t.Errorf("finding %+v after %+v", f, res)
	}
}

func TestLookupOmission(t *testing.T) {
	s := startSmall(t)
	p := newProxy(t, s.log.URL)
	p.drop(1)
	var c collector
	a := openAuditor(t, p.URL, s.log.VKey, t.TempDir(), &c)
	sync1(t, a)
	fs := c.all()
	// Both lookups that should name entry 1 leave it out: the binary
	// package's and the source's.
	if len(fs) != 2 {
		t.Fatalf("findings: %+v", fs)
	}
	var asked []string
	for _, f := range fs {
		if f.Problem != audit.ProblemLookupOmission || f.Lookup == nil || len(f.Lookup.Omitted) != 1 || f.Lookup.Omitted[0] != 1 ||
			len(f.Entries) != 1 || f.Entries[0].Index != 1 {
			t.Errorf("finding: %+v", f)
			continue
		}
		var ans struct{ Indices []int64 }
		if err := json.Unmarshal([]byte(f.Lookup.Answer), &ans); err != nil || slices.Contains(ans.Indices, 1) || len(ans.Indices) != 2 {
			t.Errorf("the answer quoted is not the one that omits entry 1: %s", f.Lookup.Answer)
		}
		checkEvidence(t, s.log, f)
		asked = append(asked, f.Package+f.Source)
	}
	slices.Sort(asked)
	if !slices.Equal(asked, []string{"rbtest", "rbtest"}) || fs[0].Package+fs[1].Package != "rbtest" {
		t.Errorf("lookups: %+v", fs)
	}
}

// An entry bundle that does not hash to the checkpoint stops the audit
// before it.
func TestTilesMismatch(t *testing.T) {
	s := startSmall(t)
	p := newProxy(t, s.log.URL)
	p.change("/tile/entries/000.p/3", func(b []byte) []byte {
		return bytes.Replace(b, []byte("source rbtest"), []byte("source rbtesu"), 1)
	})
	var c collector
	a := openAuditor(t, p.URL, s.log.VKey, t.TempDir(), &c)
	res := sync1(t, a)
	onlyMisbehaviour(t, &c, audit.ProblemTilesMismatch)
	if res.Position != 0 || res.Processed != 0 {
		t.Errorf("the audit used entries the checkpoint does not cover: %+v", res)
	}
	sync1(t, a)
	if len(c.all()) != 1 {
		t.Errorf("found twice: %+v", c.all())
	}
}

// A key revoked after it signed is not the log's fault: the entry is not
// counted, and nothing is found.
func TestRevokedKey(t *testing.T) {
	s := startSmall(t)
	s.b["B"].Revoke(t)
	resp, err := http.Post(s.log.URL+"/keys", "text/plain", bytes.NewReader(s.b["B"].PublicArmored()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("registering the revocation: %s", resp.Status)
	}
	dir := t.TempDir()
	var c collector
	a := openAuditor(t, s.log.URL, s.log.VKey, dir, &c)
	res := sync1(t, a)
	if res.Verified != 2 || len(c.all()) != 0 {
		t.Fatalf("%+v, %+v", res, c.all())
	}
	r, err := audit.ReadReport(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Entries["key-revoked"] != 1 || r.Entries["verified"] != 2 {
		t.Errorf("entries: %v", r.Entries)
	}
}
