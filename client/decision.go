package client

import (
	"fmt"
	"slices"
	"strings"

	"github.com/reprolog/reprolog/buildinfo"
	"github.com/reprolog/reprolog/proofs"
	"github.com/reprolog/reprolog/statement"
)

// Verdict is the outcome of a decision.
type Verdict string

const (
	// Reproducible: at least K voters built exactly this file.
	Reproducible Verdict = "reproducible"
	// Insufficient: fewer than K voters built it so far, and none dissents.
	Insufficient Verdict = "insufficient"
	// Conflict: some voter dissents and fewer than K agree.
	Conflict Verdict = "conflict"
	// Allowed: the policy lets the package install without reproducibility.
	Allowed Verdict = "allowed"
)

// Pass reports whether a file with this verdict may be installed.
func (v Verdict) Pass() bool { return v == Reproducible || v == Allowed }

// Target is the binary file a decision is about.
type Target struct {
	Package string `json:"package"`
	Version string `json:"version"` // as in the .deb, with its epoch if any
	Arch    string `json:"arch"`
	SHA256  string `json:"sha256"` // lower-case hex
}

// Role is what one statement says about the target.
type Role string

const (
	RoleAgree      Role = "agree"      // lists the target's hash
	RoleDissent    Role = "dissent"    // another hash from inputs that gave the target's hash
	RoleDrift      Role = "drift"      // another hash from other inputs
	RoleContradict Role = "contradict" // its voter got two hashes from the same inputs
	RoleUntrusted  Role = "untrusted"  // a builder the policy does not name
	RoleUnrelated  Role = "unrelated"  // does not list the target (another epoch, or a bad lookup)
)

// Evidence is one statement the decision looked at.
type Evidence struct {
	Index   int64  `json:"index"`
	Builder string `json:"builder"` // the policy's name, or the fingerprint when untrusted
	Voter   string `json:"voter,omitempty"`
	SHA256  string `json:"sha256,omitempty"` // the hash it lists for the target
	Inputs  string `json:"inputs"`
	Record  string `json:"record"`
	Role    Role   `json:"role"`
}

// Decision is the outcome for one file, with everything it rests on.
type Decision struct {
	File   string `json:"file,omitempty"`
	Target Target `json:"target"`
	// Verdict is what counts; Evaluated is what the log says when the
	// policy allows the package anyway.
	Verdict           Verdict    `json:"verdict"`
	Evaluated         Verdict    `json:"evaluated,omitempty"`
	Threshold         int        `json:"threshold"`
	Voters            int        `json:"voters"`
	Agreeing          []string   `json:"agreeing"`
	Dissenting        []string   `json:"dissenting"`
	SelfContradicting []string   `json:"self_contradicting"`
	Drifting          []string   `json:"drifting"`
	RebuildDue        bool       `json:"rebuild_due"`
	Warnings          []string   `json:"warnings,omitempty"`
	Evidence          []Evidence `json:"evidence"`
	Checkpoint        Checkpoint `json:"checkpoint"`
}

// voter gathers the statements of one voter (a builder, or an operator).
type voter struct {
	name string
	ev   []*Evidence
}

// Decide applies the policy's counting rules to the verified statements
// about t, as of checkpoint cp. It is a pure function: the statements must
// already be proven to be in the log and to derive from their records.
//
// Statements from builders the policy does not name are ignored, and so are
// statements that do not list t. Each voter (a builder, or an operator when
// the policy names operators) is then one of:
//   - self-contradicting, when two of its statements have the same inputs
//     and different hashes for t: this counts as dissent, never agreement;
//   - dissenting, when it lists another hash for t from inputs that some
//     trusted statement built into t's hash, or when no trusted statement
//     lists t's hash at all (dissent outweighs its own agreement);
//   - agreeing, when it lists t's hash;
//   - drifting only, when all it lists is another hash from other inputs:
//     not a vote, but a rebuild is due.
//
// t passes with K agreeing voters (K is at least 1, whatever the policy
// says); below K it is a conflict when anyone dissents and insufficient
// otherwise.
func Decide(p *Policy, t Target, cp Checkpoint, verified []proofs.Verified) *Decision {
	d := &Decision{Target: t, Threshold: max(p.Threshold, 1), Voters: p.Voters(), Checkpoint: cp,
		Agreeing: []string{}, Dissenting: []string{}, SelfContradicting: []string{}, Drifting: []string{},
		Evidence: make([]Evidence, 0, len(verified))}

	for _, v := range verified {
		d.Evidence = append(d.Evidence, evidenceFor(p, t, v.Index, v.Statement))
	}
	agreeingInputs := map[string]bool{}
	voters := map[string]*voter{}
	var order []*voter
	for i := range d.Evidence {
		e := &d.Evidence[i]
		if e.Role != "" {
			continue
		}
		if e.SHA256 == t.SHA256 {
			agreeingInputs[e.Inputs] = true
		}
		if voters[e.Voter] == nil {
			voters[e.Voter] = &voter{name: e.Voter}
			order = append(order, voters[e.Voter])
		}
		voters[e.Voter].ev = append(voters[e.Voter].ev, e)
	}

	for _, v := range order {
		switch judge(v, t.SHA256, agreeingInputs) {
		case RoleContradict:
			d.SelfContradicting = append(d.SelfContradicting, v.name)
		case RoleDissent:
			d.Dissenting = append(d.Dissenting, v.name)
		case RoleAgree:
			d.Agreeing = append(d.Agreeing, v.name)
		}
		if slices.ContainsFunc(v.ev, func(e *Evidence) bool { return e.Role == RoleDrift }) {
			d.Drifting = append(d.Drifting, v.name)
		}
	}
	for _, l := range [][]string{d.Agreeing, d.Dissenting, d.SelfContradicting, d.Drifting} {
		slices.Sort(l)
	}

	dissent := len(d.Dissenting) + len(d.SelfContradicting)
	switch {
	case len(d.Agreeing) >= d.Threshold:
		d.Verdict = Reproducible
		if dissent > 0 {
			d.Warnings = append(d.Warnings, fmt.Sprintf(
				"%d of %d voters agree, but %s", len(d.Agreeing), d.Voters, dissentText(d)))
		}
	case dissent > 0:
		d.Verdict = Conflict
	default:
		d.Verdict = Insufficient
	}
	if len(d.Drifting) > 0 {
		d.RebuildDue = true
		d.Warnings = append(d.Warnings, fmt.Sprintf(
			"toolchain drift: %s built another binary from other build inputs; a rebuild is due",
			strings.Join(d.Drifting, ", ")))
	}
	if p.Allowed(t.Package) {
		d.Evaluated, d.Verdict = d.Verdict, Allowed
	}
	return d
}

// evidenceFor describes one statement; its Role is left empty when the
// statement is a vote still to be judged.
func evidenceFor(p *Policy, t Target, index int64, s *statement.Statement) Evidence {
	e := Evidence{Index: index, Builder: s.Builder, Inputs: s.Inputs, Record: s.Record}
	b, trusted := p.Builder(s.Builder)
	if !trusted {
		e.Role = RoleUntrusted
		return e
	}
	e.Builder, e.Voter = b.Name, b.Voter()
	f, ok := s.Binary(t.Package, t.Version, t.Arch)
	if !ok || otherEpoch(s.Version, t.Version) {
		e.Role = RoleUnrelated
		return e
	}
	e.SHA256 = f.SHA256
	return e
}

// judge sets the role of each statement of v and returns v's vote:
// RoleContradict, RoleDissent, RoleAgree, or "" (no vote).
func judge(v *voter, hash string, agreeingInputs map[string]bool) Role {
	hashes := map[string]map[string]bool{}
	for _, e := range v.ev {
		if hashes[e.Inputs] == nil {
			hashes[e.Inputs] = map[string]bool{}
		}
		hashes[e.Inputs][e.SHA256] = true
	}
	vote := Role("")
	for _, e := range v.ev {
		switch {
		case len(hashes[e.Inputs]) > 1:
			e.Role = RoleContradict
		case e.SHA256 == hash:
			e.Role = RoleAgree
		case len(agreeingInputs) == 0 || agreeingInputs[e.Inputs]:
			// Drift needs a build of the target to drift from: with no
			// agreeing build, every other hash is dissent (a conflict).
			e.Role = RoleDissent
		default:
			e.Role = RoleDrift
		}
		vote = stronger(vote, e.Role)
	}
	return vote
}

var voteRank = map[Role]int{"": 0, RoleDrift: 0, RoleAgree: 1, RoleDissent: 2, RoleContradict: 3}

// stronger returns the role that decides a voter's vote: a contradiction
// outweighs dissent, which outweighs agreement, which outweighs drift.
func stronger(a, b Role) Role {
	if voteRank[b] > voteRank[a] {
		return b
	}
	return a
}

func dissentText(d *Decision) string {
	var parts []string
	if len(d.Dissenting) > 0 {
		parts = append(parts, strings.Join(d.Dissenting, ", ")+" built another binary")
	}
	if len(d.SelfContradicting) > 0 {
		parts = append(parts, strings.Join(d.SelfContradicting, ", ")+" contradicted itself")
	}
	return strings.Join(parts, "; ")
}

// otherEpoch reports whether a build of version a is of another upload
// than version b that file names cannot tell apart: the same version but
// for the epoch (2.0 and 1:2.0 both make hello_2.0_amd64.deb).
func otherEpoch(a, b string) bool {
	epoch := func(v string) string {
		if e, _, ok := strings.Cut(v, ":"); ok {
			return e
		}
		return "0"
	}
	return epoch(a) != epoch(b) && buildinfo.StripEpoch(a) == buildinfo.StripEpoch(b)
}
