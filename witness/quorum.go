package witness

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
)

// ErrQuorum is wrapped by the error Verify returns when a validly signed
// checkpoint lacks the witness cosignatures the policy's quorum needs.
var ErrQuorum = errors.New("witness quorum not reached")

// A Cosignature is a valid tlog-cosignature/v1 from a witness of the policy.
type Cosignature struct {
	Witness   string         // the witness's name in the policy
	Signature note.Signature // the signature line as found in the checkpoint
	Time      time.Time      // when the witness cosigned (whole seconds)
}

// Witnessed is a checkpoint that carries its log's signature and a quorum of
// witness cosignatures.
type Witnessed struct {
	// Note is the checkpoint opened with the log's key: Sigs holds the log's
	// signature, UnverifiedSigs every other signature line (cosignatures
	// included).
	Note       *note.Note
	Checkpoint torchwood.Checkpoint
	// Cosignatures are the cosignatures that reach the quorum, in policy
	// order. Where several sets would, it is the set whose oldest
	// cosignature is the newest.
	Cosignatures []Cosignature
	// Oldest is the time of the oldest cosignature in Cosignatures: the
	// checkpoint is known to have been the newest the quorum saw as of
	// Oldest. Clients enforce their maximum age on it. It is the zero time
	// when the policy is "quorum none".
	Oldest time.Time
}

// Verify checks that signedCheckpoint is a checkpoint signed by logVerifier
// (or, if logVerifier is nil, by any log of the policy), with the log's key
// name as its origin, and that it carries valid cosignatures from enough
// witnesses to satisfy the quorum. Signature lines from unknown keys are
// ignored, and so is an invalid cosignature from a known witness (it does
// not count). When the quorum is not reached the error wraps ErrQuorum and
// says which group or witness failed.
func (p *Policy) Verify(signedCheckpoint []byte, logVerifier note.Verifier) (*Witnessed, error) {
	var verifiers note.Verifiers
	if logVerifier != nil {
		verifiers = note.VerifierList(logVerifier)
	} else {
		if len(p.logs) == 0 {
			return nil, errors.New("witness: no log verifier given and the policy lists no logs")
		}
		vs := make([]note.Verifier, len(p.logs))
		for i, l := range p.logs {
			vs[i] = l.Verifier
		}
		verifiers = note.VerifierList(vs...)
	}
	n, err := note.Open(signedCheckpoint, verifiers)
	if err != nil {
		return nil, fmt.Errorf("witness: checkpoint is not validly signed by the log: %w", err)
	}
	c, err := torchwood.ParseCheckpoint(n.Text)
	if err != nil {
		return nil, fmt.Errorf("witness: signed note is not a checkpoint: %w", err)
	}
	if !slices.ContainsFunc(n.Sigs, func(s note.Signature) bool { return s.Name == c.Origin }) {
		return nil, fmt.Errorf("witness: checkpoint origin %q is not the name of the log key that signed it", c.Origin)
	}

	w := &Witnessed{Note: n, Checkpoint: c}
	if p.quorum == nil {
		return w, nil
	}
	cosigs := make(map[int]Cosignature)
	for i, wit := range p.witnesses {
		wn, err := note.Open(signedCheckpoint, note.VerifierList(wit.Verifier))
		if err != nil || len(wn.Sigs) != 1 {
			continue
		}
		ts, err := torchwood.CosignatureTimestamp(wn.Sigs[0])
		if err != nil {
			continue
		}
		cosigs[i] = Cosignature{Witness: wit.Name, Signature: wn.Sigs[0], Time: time.Unix(ts, 0)}
	}
	r := evaluate(p.quorum, cosigs)
	if !r.ok {
		return nil, fmt.Errorf("witness: %w: %s", ErrQuorum, r.why)
	}
	slices.Sort(r.set)
	for _, i := range r.set {
		w.Cosignatures = append(w.Cosignatures, cosigs[i])
	}
	w.Oldest = time.Unix(r.oldest, 0)
	return w, nil
}

// result is the outcome of evaluating a policy node: whether it is
// satisfied, by which witnesses, and the oldest cosignature time among them,
// maximised over the satisfying sets.
type result struct {
	ok     bool
	oldest int64
	set    []int
	why    string
}

func evaluate(n *node, cosigs map[int]Cosignature) result {
	if n.witness >= 0 {
		c, ok := cosigs[n.witness]
		if !ok {
			return result{why: fmt.Sprintf("witness %q has no valid cosignature", n.name)}
		}
		return result{ok: true, oldest: c.Time.Unix(), set: []int{n.witness}}
	}
	var good []result
	var failed []string
	for _, c := range n.children {
		r := evaluate(c, cosigs)
		if r.ok {
			good = append(good, r)
		} else {
			failed = append(failed, c.name)
		}
	}
	if len(good) < n.k {
		return result{why: fmt.Sprintf("group %q has %d of the %d members it needs (without: %s)",
			n.name, len(good), n.k, strings.Join(quoteAll(failed), ", "))}
	}
	// Taking the k members with the newest oldest-cosignature maximises the
	// oldest cosignature of the group.
	slices.SortStableFunc(good, func(a, b result) int { return cmp.Compare(b.oldest, a.oldest) })
	r := result{ok: true, oldest: good[n.k-1].oldest}
	for _, g := range good[:n.k] {
		r.set = append(r.set, g.set...)
	}
	return r
}

func quoteAll(s []string) []string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return q
}
