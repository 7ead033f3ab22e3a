package audit_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/transparency-dev/tessera"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprolog/reprolog/audit"
	rlog "github.com/reprolog/reprolog/log"
	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/witness"
	"github.com/reprolog/reprolog/witness/witnesstest"
)

// witnessed is a log whose checkpoints a real witness cosigns, and the
// policy that requires its cosignature.
type witnessed struct {
	*small
	policy *witness.Policy
	v      note.Verifier
}

func startWitnessed(t *testing.T) *witnessed {
	t.Helper()
	dir := t.TempDir()
	_, vkey, err := rlog.LoadOrCreateKey(dir, "reprolog.test/log", "")
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	w1 := witnesstest.StartWitness(t, "w1.example", witness.LogEntry{Origin: v.Name(), VKey: vkey, Verifier: v})
	text := fmt.Sprintf("log %s\nwitness w1 %s %s\nquorum w1\n", vkey, w1.VKey, w1.URL)
	group, err := tessera.NewWitnessGroupFromPolicy([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	policy, err := witness.ParsePolicy([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	l := logtest.StartDir(t, dir, func(c *rlog.Config) { c.Witnesses = &group })
	s := &small{log: l, b: builders(t, l, "A", "B", "C", "D")}
	rb1, rb2 := readTestdata(t, rbtest1), readTestdata(t, rbtest2)
	s.add(t, s.b["A"].ClearSign(t, rb1))
	s.add(t, s.b["B"].ClearSign(t, rb2))
	s.add(t, s.b["C"].ClearSign(t, rb1))
	return &witnessed{small: s, policy: policy, v: v}
}

func (w *witnessed) quorum(signed []byte) error {
	_, err := w.policy.Verify(signed, w.v)
	return err
}

// A checkpoint the log signed is evidence on its own: a fork without the
// witnesses' cosignatures is found even though the quorum refuses it, and
// the audit does not move to it.
func TestForkWithoutQuorum(t *testing.T) {
	w := startWitnessed(t)
	p := newProxy(t, w.log.URL)
	var c collector
	a := openAuditor(t, p.URL, w.log.VKey, t.TempDir(), &c, func(cfg *audit.Config) { cfg.Quorum = w.quorum })
	if res := sync1(t, a); res.Position != 3 || res.Unused != nil || len(c.all()) != 0 {
		t.Fatalf("cosigned log: %+v, %+v", res, c.all())
	}
	held := string(get(t, w.log.URL+"/checkpoint"))
	signer := logSigner(t, w.log)

	fork := func(tree tlog.Tree, detail string) {
		t.Helper()
		signed := signTree(t, signer, tree)
		if w.quorum(signed) == nil {
			t.Fatal("the quorum accepts a checkpoint no witness cosigned")
		}
		p.answer("/checkpoint", signed)
		before := len(c.all())
		res := sync1(t, a)
		fs := c.all()[before:]
		if len(fs) != 1 || fs[0].Kind != audit.LogMisbehaviour || fs[0].Problem != audit.ProblemCheckpointInconsistent ||
			!strings.Contains(fs[0].Detail, detail) || len(fs[0].Checkpoints) != 2 || fs[0].Checkpoints[0] != held ||
			fs[0].Checkpoints[1] != string(signed) {
			t.Fatalf("fork %v: findings %+v", tree, fs)
		}
		if res.TreeSize != 3 || res.Processed != 0 {
			t.Errorf("fork %v: the audit moved to it: %+v", tree, res)
		}
	}
	// The same size, another hash.
	fork(tlog.Tree{N: 3, Hash: randomHash()}, "two trees of size 3")
	// A larger tree the log's tiles cannot prove.
	w.disagree(t)
	fork(tlog.Tree{N: 4, Hash: randomHash()}, "do not prove")

	// A consistent checkpoint without cosignatures is not a finding, and is
	// not used; once cosigned, it is.
	real := openTree(t, w.log.VKey, string(get(t, w.log.URL+"/checkpoint")))
	p.answer("/checkpoint", signTree(t, signer, real))
	res := sync1(t, a)
	if res.Unused == nil || res.TreeSize != 3 || len(c.all()) != 2 {
		t.Errorf("consistent, not cosigned: %+v, %+v", res, c.all())
	}
	p.forget("/checkpoint")
	res = sync1(t, a)
	if res.Unused != nil || res.Position != 4 || len(c.ofKind(audit.Disagreement)) != 1 || len(c.all()) != 3 {
		t.Errorf("cosigned: %+v, %+v", res, c.all())
	}
}
