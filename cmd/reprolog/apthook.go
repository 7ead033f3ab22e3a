package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/reprolog/reprolog/client"
	"github.com/reprolog/reprolog/installed"
)

func init() {
	register(command{name: "apt-hook", summary: "apt's DPkg::Pre-Install-Pkgs hook: refuse what K rebuilders did not reproduce", run: runAptHook})
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return fmt.Sprint(*l) }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func runAptHook(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reprolog apt-hook", flag.ContinueOnError)
	fs.SetOutput(stderr)
	policyFile := fs.String("policy", "/etc/reprolog/policy", "the policy file")
	var proofDirs stringList
	fs.Var(&proofDirs, "proofs", "a directory of offline proofs (X.deb.proof) to use when the log cannot be; repeatable")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: reprolog apt-hook [--policy FILE] [--proofs DIR]... < apt's Pre-Install-Pkgs input (protocol version 3)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		if err == nil {
			fs.Usage()
		}
		return exitUsage
	}
	in, err := hookInput()
	if err != nil {
		fmt.Fprintln(stderr, "reprolog:", err)
		return exitUsage
	}
	h, err := installed.ParseHookInput(in)
	if err != nil {
		fmt.Fprintf(stderr, "reprolog: %v\nreprolog: set DPkg::Tools::Options::<command>::Version \"3\" for this hook (see contrib/apt)\n", err)
		return exitUsage
	}
	files := h.Debs()
	for i, f := range files {
		if !filepath.IsAbs(f) {
			files[i] = filepath.Join(aptRunDirectory(h), f)
		}
	}
	if len(files) == 0 {
		return exitPass // nothing to unpack: removals and configuration only
	}
	p, err := client.LoadPolicy(*policyFile)
	if err != nil {
		fmt.Fprintf(stderr, "reprolog: %v\nreprolog: refusing to let apt install anything until the policy is fixed\n", err)
		return exitUsage
	}
	g := &installed.Gate{Policy: p, ProofDirs: proofDirs}
	out, err := g.Decide(ctx, files)
	if err != nil {
		fmt.Fprintln(stderr, "reprolog:", err)
		return exitLog
	}
	removed, err := installed.Discard(out, h.Dir(installed.ArchivesKey))
	if err != nil {
		fmt.Fprintln(stderr, "reprolog: warning:", err)
	}
	return hookReport(out, removed, *policyFile, stderr)
}

// hookInput returns where apt writes the hook's input: the descriptor
// named by APT_HOOK_INFO_FD, standard input by default.
func hookInput() (io.Reader, error) {
	v := os.Getenv("APT_HOOK_INFO_FD")
	if v == "" || v == "0" {
		return os.Stdin, nil
	}
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 0 {
		return nil, fmt.Errorf("APT_HOOK_INFO_FD=%q is not a file descriptor", v)
	}
	return os.NewFile(uintptr(fd), "apt hook info"), nil
}

// aptRunDirectory is where apt runs the hook from (DPkg::Run-Directory).
func aptRunDirectory(h *installed.HookInput) string {
	if d := h.Config["DPkg::Run-Directory"]; len(d) == 1 && filepath.IsAbs(d[0]) {
		return d[0]
	}
	return "/"
}

// hookReport prints one message per package that may not be installed,
// nothing when all may, and returns the exit status. removed are the
// refused files taken out of apt's cache.
func hookReport(out *installed.Outcome, removed []string, policyFile string, stderr io.Writer) int {
	refused := 0
	for _, d := range out.Decisions {
		if d.Verdict.Pass() {
			continue
		}
		refused++
		why, todo := installed.Refusal(d, policyFile)
		file := d.File
		if slices.Contains(removed, file) {
			file += " (removed from apt's cache)"
		}
		fmt.Fprintf(stderr, "reprolog: refusing %s %s (%s): %s\n  what to do: %s\n  file: %s\n",
			d.Target.Package, d.Target.Version, d.Target.Arch, why, todo, file)
	}
	for _, f := range out.Failures {
		what := f.File
		if f.Target.Package != "" {
			what = fmt.Sprintf("%s %s (%s)", f.Target.Package, f.Target.Version, f.Target.Arch)
		}
		var why, todo string
		var fork *client.ForkError
		switch {
		case errors.As(f.Err, &fork) && fork.Proven:
			why = "the log showed this machine two different histories: " + f.Err.Error()
			todo = "report it to the log's operator and keep the evidence; install nothing until it is explained"
		case errors.As(f.Err, &fork):
			why = "the log could not prove that its history extends the one this machine saw: " + f.Err.Error()
			todo = "report it to the log's operator and keep the evidence; install nothing until it is explained"
		case installed.Unreachable(f.Err):
			why = "the log could not be reached: " + netCause(f.Err)
			todo = fmt.Sprintf("check the network and Log-URL in %s, then run apt again; or, to install offline, "+
				"put a fresh proof %s (made with \"reprolog proof\") next to the .deb or in a --proofs directory",
				policyFile, filepath.Base(f.File)+installed.BundleSuffix)
		case errors.Is(f.Err, client.ErrLog):
			why = "the log failed verification: " + f.Err.Error()
			todo = "report it to the log's operator; install nothing from it until it verifies again " +
				"(offline proofs are not used while the log answers wrongly)"
		default:
			why = f.Err.Error()
			todo = "check that the file is a .deb apt downloaded whole"
		}
		fmt.Fprintf(stderr, "reprolog: cannot decide about %s: %s\n  what to do: %s\n  file: %s\n", what, why, todo, f.File)
	}
	total := len(out.Decisions) + len(out.Failures)
	switch {
	case len(out.Failures) > 0:
		also := ""
		if refused > 0 {
			also = fmt.Sprintf(" and %d refused", refused)
		}
		fmt.Fprintf(stderr, "reprolog: %d of %d packages could not be checked%s: apt stops before installing anything\n",
			len(out.Failures), total, also)
		return exitLog
	case refused > 0:
		fmt.Fprintf(stderr, "reprolog: %d of %d packages refused: apt stops before installing anything\n", refused, total)
		return exitFail
	}
	return exitPass
}

// netCause returns the network error at the root of err, which says what
// could not be reached and how, or that the log answered too slowly.
func netCause(err error) string {
	var se *installed.SlowError
	if errors.As(err, &se) {
		return se.Error()
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return ne.Error()
	}
	return err.Error()
}
