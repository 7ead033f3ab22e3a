package client

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/reprolog/reprolog/buildinfo"
	"github.com/reprolog/reprolog/proofs"
	"github.com/reprolog/reprolog/statement"
)

const (
	hashH = "1111111111111111111111111111111111111111111111111111111111111111"
	hashX = "2222222222222222222222222222222222222222222222222222222222222222"
	hashY = "3333333333333333333333333333333333333333333333333333333333333333"
	in1   = "aaaa000000000000000000000000000000000000000000000000000000000000"
	in2   = "bbbb000000000000000000000000000000000000000000000000000000000000"
)

// fpr makes a fingerprint for a builder name.
func fpr(name string) string {
	return strings.ToUpper(fmt.Sprintf("%040x", []byte(name)))[:40]
}

// policyOf makes a policy of builders "name" or "name@operator".
func policyOf(k int, builders ...string) *Policy {
	p := &Policy{Threshold: k}
	for _, b := range builders {
		name, op, _ := strings.Cut(b, "@")
		p.Builders = append(p.Builders, Builder{Name: name, Operator: op, Fingerprint: fpr(name)})
	}
	return p
}

// stmt is a statement by builder listing hash for hello 2.10-3 amd64
// (or pkg/version when given) built from inputs.
type stmt struct {
	builder, hash, inputs string
	pkg, version          string
}

func (s stmt) verified(i int) proofs.Verified {
	pkg, version := cmpOr(s.pkg, "hello"), cmpOr(s.version, "2.10-3")
	f, err := buildinfo.FileFromName(fmt.Sprintf("%s_%s_amd64.deb", pkg, buildinfo.StripEpoch(version)))
	if err != nil {
		panic(err)
	}
	f.SHA256, f.Size = s.hash, 5
	return proofs.Verified{Index: int64(i), Statement: &statement.Statement{
		Source: pkg, SourceVersion: version, Version: version, Architectures: []string{"amd64"},
		BuildArchitecture: "amd64", Inputs: s.inputs, Builder: fpr(s.builder),
		Record: fmt.Sprintf("%064x", i), RecordSize: 1, Files: []statement.File{f}}}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestDecide(t *testing.T) {
	abc := []string{"alice", "bob", "carol"}
	tests := []struct {
		name     string
		policy   *Policy
		version  string // the target's; 2.10-3 when empty
		stmts    []stmt
		verdict  Verdict
		agree    []string
		dissent  []string
		contra   []string
		drift    []string
		warnings int
	}{
		{name: "no statements", policy: policyOf(2, abc...), verdict: Insufficient},
		{name: "no statements, K of 0 in a hand-made policy", policy: policyOf(0, abc...), verdict: Insufficient},
		{name: "K reached exactly", policy: policyOf(2, abc...),
			stmts:   []stmt{{builder: "alice", hash: hashH, inputs: in1}, {builder: "bob", hash: hashH, inputs: in1}},
			verdict: Reproducible, agree: []string{"alice", "bob"}},
		{name: "K-1", policy: policyOf(2, abc...),
			stmts:   []stmt{{builder: "alice", hash: hashH, inputs: in1}},
			verdict: Insufficient, agree: []string{"alice"}},
		{name: "all agree", policy: policyOf(3, abc...),
			stmts: []stmt{{builder: "carol", hash: hashH, inputs: in2}, {builder: "alice", hash: hashH, inputs: in1},
				{builder: "bob", hash: hashH, inputs: in1}},
			verdict: Reproducible, agree: []string{"alice", "bob", "carol"}},
		{name: "unknown builders ignored", policy: policyOf(2, abc...),
			stmts: []stmt{{builder: "alice", hash: hashH, inputs: in1}, {builder: "mallory", hash: hashX, inputs: in1},
				{builder: "mallet", hash: hashX, inputs: in1}, {builder: "eve", hash: hashH, inputs: in1}},
			verdict: Insufficient, agree: []string{"alice"}},
		{name: "unknown builders cannot make dissent", policy: policyOf(2, abc...),
			stmts: []stmt{{builder: "alice", hash: hashH, inputs: in1}, {builder: "bob", hash: hashH, inputs: in1},
				{builder: "mallory", hash: hashX, inputs: in1}},
			verdict: Reproducible, agree: []string{"alice", "bob"}},
		{name: "duplicates from one builder counted once", policy: policyOf(2, abc...),
			stmts: []stmt{{builder: "alice", hash: hashH, inputs: in1}, {builder: "alice", hash: hashH, inputs: in1},
				{builder: "alice", hash: hashH, inputs: in2}},
			verdict: Insufficient, agree: []string{"alice"}},
		{name: "one operator one vote", policy: policyOf(2, "alice@acme", "bob@acme", "carol"),
			stmts:   []stmt{{builder: "alice", hash: hashH, inputs: in1}, {builder: "bob", hash: hashH, inputs: in1}},
			verdict: Insufficient, agree: []string{"acme"}},
		{name: "operator and another voter reach K", policy: policyOf(2, "alice@acme", "bob@acme", "carol"),
			stmts: []stmt{{builder: "alice", hash: hashH, inputs: in1}, {builder: "bob", hash: hashH, inputs: in1},
				{builder: "carol", hash: hashH, inputs: in1}},
			verdict: Reproducible, agree: []string{"acme", "carol"}},
		{name: "self-contradiction revokes", policy: policyOf(2, abc...),
			stmts: []stmt{{builder: "alice", hash: hashH, inputs: in1}, {builder: "alice", hash: hashX, inputs: in1},
				{builder: "bob", hash: hashH, inputs: in1}},
			verdict: Conflict, agree: []string{"bob"}, contra: []string{"alice"}},
		{name: "self-contradiction beside K agreements", policy: policyOf(2, abc...),
			stmts: []stmt{{builder: "alice", hash: hashH, inputs: in1}, {builder: "alice", hash: hashX, inputs: in1},
				{builder: "bob", hash: hashH, inputs: in1}, {builder: "carol", hash: hashH, inputs: in1}},
			verdict: Reproducible, agree: []string{"bob", "carol"}, contra: []string{"alice"}, warnings: 1},
		{name: "self-contradiction without the target's hash", policy: policyOf(1, abc...),
			stmts:   []stmt{{builder: "alice", hash: hashX, inputs: in1}, {builder: "alice", hash: hashY, inputs: in1}},
			verdict: Conflict, contra: []string{"alice"}},
		{name: "an operator's builders contradict each other", policy: policyOf(1, "alice@acme", "bob@acme"),
			stmts:   []stmt{{builder: "alice", hash: hashH, inputs: in1}, {builder: "bob", hash: hashX, inputs: in1}},
			verdict: Conflict, contra: []string{"acme"}},
		{name: "drift passes with a warning", policy: policyOf(2, abc...),
			stmts: []stmt{{builder: "alice", hash: hashH, inputs: in1}, {builder: "bob", hash: hashH, inputs: in1},
				{builder: "carol", hash: hashX, inputs: in2}},
			verdict: Reproducible, agree: []string{"alice", "bob"}, drift: []string{"carol"}, warnings: 1},
		{name: "drift below K is not a conflict", policy: policyOf(2, abc...),
			stmts:   []stmt{{builder: "alice", hash: hashH, inputs: in1}, {builder: "carol", hash: hashX, inputs: in2}},
			verdict: Insufficient, agree: []string{"alice"}, drift: []string{"carol"}, warnings: 1},
		{name: "a builder that agrees and drifts", policy: policyOf(1, abc...),
			stmts:   []stmt{{builder: "alice", hash: hashH, inputs: in1}, {builder: "alice", hash: hashX, inputs: in2}},
			verdict: Reproducible, agree: []string{"alice"}, drift: []string{"alice"}, warnings: 1},
		{name: "dissent beside K agreements", policy: policyOf(2, abc...),
			stmts: []stmt{{builder: "alice", hash: hashH, inputs: in1}, {builder: "bob", hash: hashH, inputs: in1},
				{builder: "carol", hash: hashX, inputs: in1}},
			verdict: Reproducible, agree: []string{"alice", "bob"}, dissent: []string{"carol"}, warnings: 1},
		{name: "dissent below K", policy: policyOf(2, abc...),
			stmts:   []stmt{{builder: "alice", hash: hashH, inputs: in1}, {builder: "carol", hash: hashX, inputs: in1}},
			verdict: Conflict, agree: []string{"alice"}, dissent: []string{"carol"}},
		{name: "another hash and no agreeing build", policy: policyOf(2, abc...),
			stmts:   []stmt{{builder: "carol", hash: hashX, inputs: in2}},
			verdict: Conflict, dissent: []string{"carol"}},
		{name: "dissent outweighs the voter's own agreement", policy: policyOf(1, abc...),
			stmts: []stmt{{builder: "alice", hash: hashH, inputs: in1}, {builder: "alice", hash: hashX, inputs: in2},
				{builder: "bob", hash: hashH, inputs: in2}},
			verdict: Reproducible, agree: []string{"bob"}, dissent: []string{"alice"}, warnings: 1},
		{name: "statements about other packages are unrelated", policy: policyOf(1, abc...),
			stmts: []stmt{{builder: "alice", hash: hashX, inputs: in1, pkg: "other"},
				{builder: "bob", hash: hashX, inputs: in1, version: "2.10-4"}},
			verdict: Insufficient},
		{name: "a statement of the same version without the epoch is unrelated", policy: policyOf(1, abc...),
			version: "1:2.10-3",
			stmts: []stmt{{builder: "alice", hash: hashX, inputs: in1},
				{builder: "bob", hash: hashH, inputs: in2, version: "1:2.10-3"}},
			verdict: Reproducible, agree: []string{"bob"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var verified []proofs.Verified
			for i, s := range tt.stmts {
				verified = append(verified, s.verified(i))
			}
			target := Target{Package: "hello", Version: cmpOr(tt.version, "2.10-3"), Arch: "amd64", SHA256: hashH}
			cp := Checkpoint{Origin: "example.org/log", Size: 42}
			d := Decide(tt.policy, target, cp, verified)
			if d.Verdict != tt.verdict {
				t.Errorf("verdict %s, want %s", d.Verdict, tt.verdict)
			}
			for _, l := range []struct {
				what      string
				got, want []string
			}{{"agreeing", d.Agreeing, tt.agree}, {"dissenting", d.Dissenting, tt.dissent},
				{"self-contradicting", d.SelfContradicting, tt.contra}, {"drifting", d.Drifting, tt.drift}} {
				if !slices.Equal(l.got, l.want) && len(l.got)+len(l.want) > 0 {
					t.Errorf("%s %v, want %v", l.what, l.got, l.want)
				}
			}
			if len(d.Warnings) != tt.warnings {
				t.Errorf("warnings %q, want %d", d.Warnings, tt.warnings)
			}
			if d.RebuildDue != (len(tt.drift) > 0) {
				t.Errorf("RebuildDue = %v", d.RebuildDue)
			}
			if d.Checkpoint != cp || d.Threshold != max(tt.policy.Threshold, 1) || d.Voters != tt.policy.Voters() {
				t.Errorf("decision records checkpoint %+v, K=%d, N=%d", d.Checkpoint, d.Threshold, d.Voters)
			}
			if len(d.Evidence) != len(tt.stmts) {
				t.Errorf("%d evidence items for %d statements", len(d.Evidence), len(tt.stmts))
			}
		})
	}
}

func TestDecideAllowed(t *testing.T) {
	p := policyOf(2, "alice", "bob", "carol")
	p.Allow = []string{"linux-image-amd64", "hello"}
	target := Target{Package: "hello", Version: "2.10-3", Arch: "amd64", SHA256: hashH}
	d := Decide(p, target, Checkpoint{}, []proofs.Verified{
		stmt{builder: "alice", hash: hashH, inputs: in1}.verified(0),
		stmt{builder: "bob", hash: hashX, inputs: in1}.verified(1)})
	if d.Verdict != Allowed || d.Evaluated != Conflict || !d.Verdict.Pass() {
		t.Errorf("verdict %s (evaluated %s), want allowed (conflict)", d.Verdict, d.Evaluated)
	}
	p.Allow = []string{"hello-doc"}
	if d := Decide(p, target, Checkpoint{}, nil); d.Verdict != Insufficient || d.Evaluated != "" {
		t.Errorf("a package not in Allow was %s (%s)", d.Verdict, d.Evaluated)
	}
}

func TestDecideRoles(t *testing.T) {
	p := policyOf(2, "alice", "bob", "carol")
	target := Target{Package: "hello", Version: "2.10-3", Arch: "amd64", SHA256: hashH}
	d := Decide(p, target, Checkpoint{}, []proofs.Verified{
		stmt{builder: "alice", hash: hashH, inputs: in1}.verified(0),
		stmt{builder: "bob", hash: hashX, inputs: in1}.verified(1),
		stmt{builder: "carol", hash: hashX, inputs: in2}.verified(2),
		stmt{builder: "mallory", hash: hashH, inputs: in1}.verified(3),
		stmt{builder: "alice", hash: hashH, inputs: in1, pkg: "other"}.verified(4),
	})
	want := []Role{RoleAgree, RoleDissent, RoleDrift, RoleUntrusted, RoleUnrelated}
	for i, e := range d.Evidence {
		if e.Role != want[i] || e.Index != int64(i) {
			t.Errorf("evidence %d: role %s, want %s", i, e.Role, want[i])
		}
	}
	if d.Evidence[3].Builder != fpr("mallory") || d.Evidence[0].Builder != "alice" {
		t.Errorf("evidence names builders %q and %q", d.Evidence[0].Builder, d.Evidence[3].Builder)
	}
}

func BenchmarkDecide(b *testing.B) {
	names := []string{"alice", "bob", "carol", "dave", "erin"}
	p := policyOf(3, names...)
	var verified []proofs.Verified
	for i := range 200 {
		s := stmt{builder: names[i%len(names)], hash: hashH, inputs: in1}
		if i%7 == 0 {
			s.hash, s.inputs = hashX, in2
		}
		if i%11 == 0 {
			s.builder = "mallory"
		}
		verified = append(verified, s.verified(i))
	}
	target := Target{Package: "hello", Version: "2.10-3", Arch: "amd64", SHA256: hashH}
	for b.Loop() {
		Decide(p, target, Checkpoint{}, verified)
	}
}
