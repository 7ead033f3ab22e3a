package client

import (
	"context"
	"fmt"
	"strings"

	"github.com/reprolog/reprolog/proofs"
)

// Summary describes the decision in one line, for people.
func (d *Decision) Summary() string {
	var b strings.Builder
	name := d.File
	if name == "" {
		name = d.Target.Package
	}
	fmt.Fprintf(&b, "%s: %s %s %s: %s", name, d.Target.Package, d.Target.Version, d.Target.Arch, d.Verdict)
	if d.Evaluated != "" {
		fmt.Fprintf(&b, " (the log says %s)", d.Evaluated)
	}
	fmt.Fprintf(&b, ": %d of %d voters agree, %d needed", len(d.Agreeing), d.Voters, d.Threshold)
	for _, l := range []struct {
		what  string
		names []string
	}{{"agreeing", d.Agreeing}, {"dissenting", d.Dissenting}, {"self-contradicting", d.SelfContradicting},
		{"drifting", d.Drifting}} {
		if len(l.names) > 0 {
			fmt.Fprintf(&b, "; %s: %s", l.what, strings.Join(l.names, ", "))
		}
	}
	fmt.Fprintf(&b, " (checkpoint %s at size %d)", d.Checkpoint.Origin, d.Checkpoint.Size)
	return b.String()
}

// Prove fetches from the log everything a decision about d needs, as a
// bundle for VerifyOffline, and makes the decision from it.
func (v *Verifier) Prove(ctx context.Context, d Deb) (*proofs.Bundle, *Decision, error) {
	bundles, cp, checked, err := v.fetch(ctx, []Target{d.Target})
	if perr := v.Policy.Wait(); perr != nil {
		return nil, nil, perr
	}
	if err != nil {
		return nil, nil, err
	}
	dec, err := v.decideAt(cp, bundles[0], d, checked)
	if err != nil {
		return nil, nil, err
	}
	return bundles[0], dec, nil
}
