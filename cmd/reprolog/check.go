package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/reprolog/reprolog/client"
	"github.com/reprolog/reprolog/installed"
)

func init() {
	register(command{name: "check", summary: "re-evaluate every installed package: the system's health", run: runCheck})
}

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reprolog check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	policyFile := fs.String("policy", "/etc/reprolog/policy", "the policy file")
	status := fs.String("status", installed.DefaultStatus, "dpkg's status file")
	lists := fs.String("lists", installed.DefaultLists, "apt's lists directory")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	verbose := fs.Bool("v", false, "list every package that is not reproducible")
	hook := fs.Bool("hook", false, "as an apt Post-Invoke hook: print only a warning when something degraded, and always exit 0")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: reprolog check [--policy FILE] [--status PATH] [--lists DIR] [--json] [-v] [--hook]")
		fmt.Fprintln(stderr, "exit status: 0 healthy, 1 something degraded since install, 2 usage or policy, 3 the log failed")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		if err == nil {
			fs.Usage()
		}
		return exitUsage
	}
	p, err := client.LoadPolicy(*policyFile)
	if err != nil {
		fmt.Fprintln(stderr, "reprolog:", err)
		return quietly(*hook, exitUsage)
	}
	c := &installed.Checker{Policy: p, Status: *status, Lists: *lists}
	rep, err := c.Check(ctx)
	if err != nil {
		switch {
		case *hook && installed.Unreachable(err):
			return 0 // offline: the next run will tell
		case installed.Unreachable(err):
			fmt.Fprintln(stderr, "reprolog check: the log could not be reached:", netCause(err))
		default:
			fmt.Fprintln(stderr, "reprolog check:", err)
		}
		if errors.Is(err, client.ErrLog) {
			return quietly(*hook, exitLog)
		}
		return quietly(*hook, exitUsage)
	}
	switch {
	case *hook:
		printHookNotices(rep, stderr)
		return 0
	case *asJSON:
		// Compact: a report of thousands of packages is for tools (jq .
		// indents it), and indenting it cost more than the check itself.
		if err := json.NewEncoder(stdout).Encode(rep); err != nil {
			fmt.Fprintln(stderr, "reprolog:", err)
			return exitUsage
		}
	default:
		for _, w := range p.Warnings {
			fmt.Fprintf(stderr, "reprolog: warning: %s: %s\n", *policyFile, w)
		}
		printHealth(rep, *verbose, stdout)
	}
	for _, w := range rep.Warnings {
		fmt.Fprintln(stderr, "reprolog: warning:", w)
	}
	if len(rep.Degraded) > 0 {
		return exitFail
	}
	return exitPass
}

// quietly returns 0 in hook mode, so that apt never fails because of a
// check, and code otherwise.
func quietly(hook bool, code int) int {
	if hook {
		return 0
	}
	return code
}

func printHealth(rep *installed.Report, verbose bool, w io.Writer) {
	fmt.Fprintf(w, "%d installed packages, checked against %s at size %d\n", rep.Total, rep.Checkpoint.Origin, rep.Checkpoint.Size)
	for _, h := range installed.Healths {
		fmt.Fprintf(w, "  %-13s %6d\n", h, rep.Counts[h])
	}
	fmt.Fprintf(w, "  %-13s %5.1f%% reproduced by enough rebuilders\n", "score", rep.Score)
	if len(rep.Degraded) > 0 {
		fmt.Fprintf(w, "degraded since install (%d):\n", len(rep.Degraded))
		for _, r := range rep.Degraded {
			fmt.Fprintf(w, "  %s: %s, now %s: %s\n", r.Key, r.Baseline, r.Health, r.Reason)
		}
	}
	if len(rep.RebuildDue) > 0 {
		fmt.Fprintf(w, "rebuild due (%d): still reproducible, but rebuilt from newer build inputs into another binary since install:\n",
			len(rep.RebuildDue))
		for _, r := range rep.RebuildDue {
			fmt.Fprintf(w, "  %s: %s\n", r.Key, r.Reason)
		}
	}
	if len(rep.Allowed) > 0 {
		fmt.Fprintf(w, "allowed by the policy (%d):\n", len(rep.Allowed))
		for _, r := range rep.Allowed {
			fmt.Fprintf(w, "  %s: %s\n", r.Key, r.Reason)
		}
	}
	if verbose {
		for _, r := range rep.Packages {
			if r.Health != installed.Reproducible && r.Health != installed.Allowed && !r.Degraded {
				fmt.Fprintf(w, "  %s: %s: %s\n", r.Key, r.Health, r.Reason)
			}
		}
	}
}

// printHookNotices warns, as apt-listbugs does, only when something
// degraded (at every run), and notes once each package newly in drift.
func printHookNotices(rep *installed.Report, w io.Writer) {
	if len(rep.Degraded) > 0 {
		fmt.Fprintf(w, "reprolog: warning: %d installed packages are no longer what enough rebuilders reproduced:\n", len(rep.Degraded))
		for _, r := range rep.Degraded {
			fmt.Fprintf(w, "  %s: %s, now %s: %s\n", r.Key, r.Baseline, r.Health, r.Reason)
		}
	}
	if len(rep.RebuildDueNew) > 0 {
		fmt.Fprintf(w, "reprolog: notice: a rebuild is due for %d installed packages (toolchain drift; they are still reproducible):\n",
			len(rep.RebuildDueNew))
		for _, r := range rep.RebuildDueNew {
			fmt.Fprintf(w, "  %s: %s\n", r.Key, r.Reason)
		}
	}
	if len(rep.Degraded)+len(rep.RebuildDueNew) > 0 {
		fmt.Fprintln(w, "reprolog: run \"reprolog check\" for the system's health")
	}
}
