package installed

import (
	"fmt"
	"strings"

	"github.com/reprolog/reprolog/client"
)

// Health is how an installed package stands with the policy.
type Health string

const (
	// Reproducible: K voters reproduced exactly the installed file.
	Reproducible Health = "reproducible"
	// Drift: reproducible, but a trusted rebuilder built another binary
	// from newer build inputs: a rebuild is due.
	Drift Health = "drift"
	// Insufficient: fewer than K voters reproduced it so far, none dissents.
	Insufficient Health = "insufficient"
	// Conflict: a voter dissents or contradicts itself, fewer than K agree.
	Conflict Health = "conflict"
	// Allowed: the policy lets it be installed without reproducibility.
	Allowed Health = "allowed"
	// Unknown: which file was installed is not known (not installed
	// through the hook, and not in apt's lists), so it cannot be checked.
	Unknown Health = "unknown"
)

// Healths lists every Health in the order reports show them.
var Healths = []Health{Reproducible, Drift, Insufficient, Conflict, Allowed, Unknown}

func healthOf(v client.Verdict, rebuildDue bool) Health {
	switch v {
	case client.Reproducible:
		if rebuildDue {
			return Drift
		}
		return Reproducible
	case client.Insufficient:
		return Insufficient
	case client.Conflict:
		return Conflict
	case client.Allowed:
		return Allowed
	}
	return Unknown
}

// HealthOf returns the health a decision gives its package.
func HealthOf(d *client.Decision) Health { return healthOf(d.Verdict, d.RebuildDue) }

// rank orders the healths a package can lose: 0 for those it cannot.
func (h Health) rank() int {
	switch h {
	case Reproducible, Drift:
		return 3
	case Insufficient:
		return 2
	case Conflict:
		return 1
	}
	return 0
}

// Degraded reports whether going from one health to another is a loss:
// a reproducible package that now lacks agreement or meets dissent, or
// an insufficient one that meets dissent. Allowed and unknown packages
// never degrade.
func Degraded(from, to Health) bool {
	return from.rank() > 0 && to.rank() > 0 && to.rank() < from.rank()
}

// Reason says in one line what a decision rests on.
func Reason(d *client.Decision) string {
	var s string
	counted := fmt.Sprintf("%d of the %d needed", len(d.Agreeing), d.Threshold)
	verdict := d.Verdict
	if verdict == client.Allowed {
		verdict = d.Evaluated
	}
	switch verdict {
	case client.Reproducible:
		s = fmt.Sprintf("reproduced by %s (%s)", strings.Join(d.Agreeing, ", "), counted)
		if len(d.Dissenting) > 0 {
			s += "; but " + strings.Join(d.Dissenting, ", ") + " built a different binary from the same build inputs"
		}
		if len(d.SelfContradicting) > 0 {
			s += "; but " + strings.Join(d.SelfContradicting, ", ") + " contradicted itself"
		}
	case client.Insufficient:
		if len(d.Agreeing) == 0 {
			s = fmt.Sprintf("no trusted rebuilder has reproduced it yet (%d needed)", d.Threshold)
		} else {
			s = fmt.Sprintf("only %s reproduced it so far (%s)", strings.Join(d.Agreeing, ", "), counted)
		}
	case client.Conflict:
		var parts []string
		if len(d.Dissenting) > 0 {
			parts = append(parts, strings.Join(d.Dissenting, ", ")+" built a different binary from the same build inputs")
		}
		if len(d.SelfContradicting) > 0 {
			parts = append(parts, strings.Join(d.SelfContradicting, ", ")+
				" contradicted itself (two different binaries from the same build inputs)")
		}
		agree := "no trusted rebuilder reproduced this file"
		if len(d.Agreeing) > 0 {
			agree = "only " + strings.Join(d.Agreeing, ", ") + " reproduced this file"
		}
		s = strings.Join(parts, "; ") + "; " + agree + " (" + counted + ")"
	}
	if d.Verdict == client.Allowed {
		s = "allowed by the policy; the log says " + string(d.Evaluated) + ": " + s
	}
	if d.RebuildDue {
		s += "; toolchain drift: " + strings.Join(d.Drifting, ", ") + " built another binary from newer build inputs, a rebuild is due"
	}
	return s
}

// Refusal explains, for a refused decision, why the package may not be
// installed and what the user can do. policy is the policy file's path.
func Refusal(d *client.Decision, policy string) (why, todo string) {
	switch {
	case d.Verdict == client.Insufficient:
		return "not enough rebuilders yet: " + Reason(d),
			fmt.Sprintf("wait until more rebuilders have reproduced it, or, to install it anyway, add %s to Allow in %s",
				d.Target.Package, policy)
	case len(d.Dissenting) == 0 && len(d.SelfContradicting) > 0:
		return "a rebuilder contradicts itself: " + Reason(d),
			"report it to the operator of " + strings.Join(d.SelfContradicting, ", ") +
				"; do not install this file until the rebuilders agree"
	default:
		return "rebuilders disagree: " + Reason(d),
			"do not install this file: it may not be what its source builds; report it to the rebuilders and to the package's maintainers"
	}
}
