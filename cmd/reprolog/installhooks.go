package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

func init() {
	register(command{name: "install-hooks", summary: "install (or remove) the apt configuration that runs reprolog", run: runInstallHooks})
}

// aptConfName is the file install-hooks writes in apt.conf.d.
const aptConfName = "80reprolog"

// safePath is what a path in the apt configuration may hold: apt quotes
// nothing, and the hook's command line goes through /bin/sh.
var safePath = regexp.MustCompile(`^/[A-Za-z0-9._/+-]*$`)

// aptSnippet is the apt configuration that gates apt on bin's apt-hook
// and checks the system after dpkg runs and after apt update. hookArgs
// and checkArgs are passed to the hook and to every check.
func aptSnippet(bin, policy string, hookArgs, checkArgs []string) string {
	hook := strings.Join(append([]string{bin, "apt-hook", "--policy", policy}, hookArgs...), " ")
	check := strings.Join(append([]string{bin, "check", "--hook", "--policy", policy}, checkArgs...), " ")
	return fmt.Sprintf(`// reprolog: apt installs only what enough trusted rebuilders reproduced.
// Policy: %[2]s
// Written by "reprolog install-hooks"; "reprolog install-hooks --remove"
// removes it.
//
// Before dpkg unpacks anything, decide about every .deb (apt's protocol
// version 3 on standard input); a refused package stops apt.
DPkg::Pre-Install-Pkgs { "%[4]s"; };
DPkg::Tools::Options::%[1]s "";
DPkg::Tools::Options::%[1]s::Version "3";
// After dpkg and after apt update, warn when installed packages degraded.
DPkg::Post-Invoke { "%[3]s"; };
APT::Update::Post-Invoke-Success { "%[3]s"; };
`, bin, policy, check, hook)
}

func runInstallHooks(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("reprolog install-hooks", flag.ContinueOnError)
	fset.SetOutput(stderr)
	root := fset.String("root", "/", "the system's root: the file goes to ROOT/etc/apt/apt.conf.d/"+aptConfName)
	policy := fset.String("policy", "/etc/reprolog/policy", "the policy file, as the hooks will see it")
	bin := fset.String("bin", "", "the reprolog binary, as the hooks will see it (default: this one)")
	status := fset.String("status", "", "dpkg's status file for check, when not the default")
	lists := fset.String("lists", "", "apt's lists directory for check, when not the default")
	proofs := fset.String("proofs", "", "a directory of offline proofs for the hook, when the log cannot be reached")
	remove := fset.Bool("remove", false, "remove the configuration instead")
	fset.Usage = func() {
		fmt.Fprintln(stderr, "usage: reprolog install-hooks [--root DIR] [--policy FILE] [--bin PATH] [--status PATH] [--lists DIR] [--proofs DIR] [--remove]")
		fset.PrintDefaults()
	}
	if err := fset.Parse(args); err != nil || fset.NArg() != 0 {
		if err == nil {
			fset.Usage()
		}
		return exitUsage
	}
	path := filepath.Join(*root, "etc", "apt", "apt.conf.d", aptConfName)
	if *remove {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintln(stderr, "reprolog install-hooks:", err)
			return exitUsage
		}
		fmt.Fprintln(stdout, "removed", path)
		return exitPass
	}
	if *bin == "" {
		exe, err := os.Executable()
		if err == nil {
			exe, err = filepath.EvalSymlinks(exe)
		}
		if err != nil {
			fmt.Fprintln(stderr, "reprolog install-hooks: finding this binary:", err)
			return exitUsage
		}
		*bin = exe
	}
	var checkArgs []string
	for _, f := range []struct{ flag, value string }{{"--status", *status}, {"--lists", *lists}} {
		if f.value != "" {
			checkArgs = append(checkArgs, f.flag, f.value)
		}
	}
	var hookArgs []string
	if *proofs != "" {
		hookArgs = []string{"--proofs", *proofs}
	}
	for _, p := range []string{*bin, *policy, *status, *lists, *proofs} {
		if p != "" && !safePath.MatchString(p) {
			fmt.Fprintf(stderr, "reprolog install-hooks: %q: want an absolute path of letters, digits and ._/+-\n", p)
			return exitUsage
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		fmt.Fprintln(stderr, "reprolog install-hooks:", err)
		return exitUsage
	}
	tmp := path + ".tmp"
	err := os.WriteFile(tmp, []byte(aptSnippet(*bin, *policy, hookArgs, checkArgs)), 0o644)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		fmt.Fprintln(stderr, "reprolog install-hooks:", err)
		return exitUsage
	}
	fmt.Fprintln(stdout, "wrote", path)
	return exitPass
}
