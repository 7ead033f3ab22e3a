package installed

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/reprolog/reprolog/client"
)

// fullRecheckTiles: when the log grew by more entry tiles than this many
// per installed package, looking every package up costs less than reading
// the new entries.
const fullRecheckTiles = 1

// Checker re-evaluates the packages installed on a system against the
// newest checkpoint of the log.
type Checker struct {
	Policy *client.Policy
	// Status is dpkg's status file (DefaultStatus when empty); Lists is
	// apt's lists directory (DefaultLists when empty).
	Status, Lists string
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
}

// Result is how one installed package stands.
type Result struct {
	Key
	SHA256 string `json:"sha256,omitempty"`
	// Source says where SHA256 comes from: "hook" (the apt hook's
	// decision), "lists" (apt's package lists) or "" (unknown).
	Source string `json:"source"`
	Health Health `json:"health"`
	// Baseline is the health it had when installed (or first checked).
	Baseline Health `json:"baseline"`
	Degraded bool   `json:"degraded"`
	Reason   string `json:"reason"`
	// Checked is the size of the checkpoint the decision was made at.
	Checked int64 `json:"checked,omitempty"`
}

// Report is the health of the whole system.
type Report struct {
	Checkpoint CheckpointRef  `json:"checkpoint"`
	Total      int            `json:"total"`
	Counts     map[Health]int `json:"counts"`
	// Score is the percentage of installed packages that K rebuilders
	// reproduced (reproducible or drift).
	Score    float64  `json:"score"`
	Degraded []Result `json:"degraded"`
	// RebuildDue are the packages in toolchain drift that were not when
	// installed: still reproducible, but a rebuild is due. RebuildDueNew
	// are those of them that were not in drift at the previous check.
	RebuildDue    []Result `json:"rebuild_due"`
	RebuildDueNew []Result `json:"rebuild_due_new"`
	Allowed       []Result `json:"allowed"`
	Packages      []Result `json:"packages"`
	// Decided counts the decisions made in this run; zero when the log
	// had not grown and the answer came from the state.
	Decided  int      `json:"decided"`
	Warnings []string `json:"warnings,omitempty"`
}

func (c *Checker) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Check re-evaluates every installed package. It fetches the newest
// checkpoint, proving it consistent with the one this machine holds; when
// the log has not grown since the last check, the answer comes from the
// state in State-Dir, and otherwise only the packages that new entries
// name (and those not checked before) are decided again. The whole check
// must finish within the Limit for the number of installed packages.
// Errors wrap client.ErrLog when the log failed verification or could not
// be reached, and are a SlowError when it ran out of time.
func (c *Checker) Check(ctx context.Context) (*Report, error) {
	p := c.Policy
	unlock, err := lockFile(p.StateDir, "health.lock")
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	defer unlock()

	inst, err := ReadStatus(c.Status)
	if err != nil {
		return nil, fmt.Errorf("dpkg status: %w", err)
	}
	ctx, cancel := withLimit(ctx, p, len(inst))
	defer cancel()
	st, read, err := loadState(p.StateDir)
	if err != nil {
		return nil, err
	}
	var warnings []string
	if st.Policy != policyDigest(p) {
		// Decide everything again; keep the hashes and baselines.
		st.Policy, st.Checkpoint = policyDigest(p), CheckpointRef{}
	}
	if err := c.readJournal(st, inst, &warnings); err != nil {
		return nil, err
	}
	prev := map[string]Result{}
	for _, r := range st.Results {
		prev[keyString(r.Key)] = r
	}
	results, err := c.hashes(st, inst, prev, &warnings)
	if err != nil {
		return nil, err
	}

	v := &client.Verifier{Policy: p, Now: c.Now}
	cp, err := v.Checkpoint(ctx)
	if err != nil {
		return nil, slow(ctx, err)
	}
	redo, err := c.toRedo(ctx, st, cp, results, prev, len(inst))
	if err != nil {
		return nil, slow(ctx, err)
	}
	var debs []client.Deb
	for _, i := range redo {
		r := results[i]
		debs = append(debs, client.Deb{Target: client.Target{Package: r.Package, Version: r.Version, Arch: r.Arch, SHA256: r.SHA256}})
	}
	if len(debs) > 0 {
		decisions, err := v.Verify(ctx, debs)
		if err != nil {
			return nil, slow(ctx, err)
		}
		for j, i := range redo {
			r := &results[i]
			r.Health, r.Reason, r.Checked = HealthOf(decisions[j]), Reason(decisions[j]), decisions[j].Checkpoint.Size
		}
	}
	for i := range results {
		r := &results[i]
		if r.Baseline == "" {
			r.Baseline = r.Health
		}
		r.Degraded = Degraded(r.Baseline, r.Health)
	}
	newDrift := map[string]bool{}
	for _, r := range results {
		if k := keyString(r.Key); r.Health == Drift && prev[k].Health != Drift {
			newDrift[k] = true
		}
	}
	st.Checkpoint, st.Results = refOf(cp), results
	if err := saveState(p.StateDir, st, read); err != nil {
		return nil, err
	}
	rep := report(st, len(debs), newDrift)
	rep.Warnings = warnings
	return rep, nil
}

// readJournal takes the hook's new decisions into the state, keeping the
// newest passing one per package version, and forgets those for versions
// no longer installed once they are old enough.
func (c *Checker) readJournal(st *checkState, inst []Installed, warnings *[]string) error {
	recs, next, bad, err := OpenJournal(c.Policy.StateDir).Read(st.Journal)
	if err != nil {
		return err
	}
	if bad > 0 {
		*warnings = append(*warnings, fmt.Sprintf("%d damaged lines in the hook's journal were skipped", bad))
	}
	st.Journal = next
	for _, r := range recs {
		if r.Verdict.Pass() {
			st.Recorded[keyString(r.Key())] = recorded{SHA256: r.SHA256, Health: r.Health(), Time: r.Time}
		}
	}
	installed := map[string]bool{}
	for _, i := range inst {
		installed[keyString(i.Key)] = true
	}
	for k, r := range st.Recorded {
		if !installed[k] && c.now().Sub(r.Time) > recordGrace {
			delete(st.Recorded, k)
		}
	}
	return nil
}

// hashes finds which file each installed package was installed from: the
// hook's record, else the previous check's, else apt's lists (read only
// when they changed or a package is new).
func (c *Checker) hashes(st *checkState, inst []Installed, prev map[string]Result, warnings *[]string) ([]Result, error) {
	results := make([]Result, len(inst))
	need := map[Key]bool{}
	listsChanged := st.Lists != ListsFingerprint(c.Lists)
	for i, in := range inst {
		ks := keyString(in.Key)
		r := Result{Key: in.Key, Health: Unknown}
		if rec, ok := st.Recorded[ks]; ok {
			r.SHA256, r.Source, r.Baseline = rec.SHA256, "hook", rec.Health
		} else if p, ok := prev[ks]; ok && p.Source == "lists" {
			r.SHA256, r.Source = p.SHA256, "lists"
		} else if !ok || listsChanged {
			need[in.Key] = true
		} else {
			r.Reason = p.Reason
		}
		if p, ok := prev[ks]; ok && p.SHA256 == r.SHA256 && r.SHA256 != "" {
			r.Health, r.Reason, r.Checked = p.Health, p.Reason, p.Checked
			if r.Baseline == "" {
				r.Baseline = p.Baseline
			}
		}
		results[i] = r
	}
	if len(need) == 0 {
		return results, nil
	}
	st.Lists = ListsFingerprint(c.Lists)
	lists, err := ReadLists(c.Lists, need)
	if err != nil {
		*warnings = append(*warnings, err.Error())
		lists = &Lists{}
	}
	*warnings = append(*warnings, lists.Warnings...)
	for i := range results {
		r := &results[i]
		if !need[r.Key] {
			continue
		}
		if h, ok := lists.SHA256(r.Key); ok {
			r.SHA256, r.Source = h, "lists"
		} else if lists.Ambiguous(r.Key) {
			r.Reason = "apt's lists give different files for this version: which one is installed is unknown"
		} else {
			r.Reason = "not installed through the reprolog hook, and apt's lists do not have this version"
		}
	}
	return results, nil
}

// toRedo returns the indices of the results to decide again at cp: those
// with a hash and no current decision, and those the log's new entries
// name.
func (c *Checker) toRedo(ctx context.Context, st *checkState, cp client.Checkpoint, results []Result,
	prev map[string]Result, installed int) ([]int, error) {
	var touchedKeys map[touchKey]bool
	all := false
	old := st.Checkpoint
	switch {
	case old == refOf(cp):
	case old.Size == 0 || old.Origin != cp.Origin || old.Size > cp.Size ||
		(cp.Size-old.Size+255)/256 > int64(installed*fullRecheckTiles):
		all = true
	default:
		t, err := touched(ctx, c.Policy, client.Checkpoint{Size: old.Size, Hash: old.Hash}, cp)
		if err != nil {
			return nil, err
		}
		touchedKeys = t
	}
	var redo []int
	for i, r := range results {
		if r.SHA256 == "" {
			continue
		}
		p, ok := prev[keyString(r.Key)]
		if all || !ok || p.SHA256 != r.SHA256 || p.Health == Unknown || touchedKeys[touchKeyOf(r.Key)] {
			redo = append(redo, i)
		}
	}
	return redo, nil
}

// report sums up the state; newDrift names the packages that went into
// drift in this run.
func report(st *checkState, decided int, newDrift map[string]bool) *Report {
	rep := &Report{Checkpoint: st.Checkpoint, Total: len(st.Results), Counts: map[Health]int{},
		Degraded: []Result{}, RebuildDue: []Result{}, RebuildDueNew: []Result{}, Allowed: []Result{},
		Packages: st.Results, Decided: decided}
	for _, h := range Healths {
		rep.Counts[h] = 0
	}
	for _, r := range st.Results {
		rep.Counts[r.Health]++
		if r.Degraded {
			rep.Degraded = append(rep.Degraded, r)
		}
		if r.Health == Drift && r.Baseline != Drift {
			rep.RebuildDue = append(rep.RebuildDue, r)
			if newDrift[keyString(r.Key)] {
				rep.RebuildDueNew = append(rep.RebuildDueNew, r)
			}
		}
		if r.Health == Allowed {
			rep.Allowed = append(rep.Allowed, r)
		}
	}
	if rep.Total > 0 {
		rep.Score = float64(rep.Counts[Reproducible]+rep.Counts[Drift]) * 100 / float64(rep.Total)
	}
	for _, l := range [][]Result{rep.Degraded, rep.RebuildDue, rep.RebuildDueNew} {
		slices.SortFunc(l, func(a, b Result) int { return strings.Compare(keyString(a.Key), keyString(b.Key)) })
	}
	return rep
}
