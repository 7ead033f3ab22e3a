// Command reprolog is the client of the reprolog transparency log: it submits
// signed build records, decides whether a .deb may be installed, and audits
// the log. Each subcommand lives in its own file and registers itself here.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
)

// command is one subcommand: run gets the arguments after its name and
// returns the process exit status.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

var commands []command

// register adds a subcommand; each subcommand's file calls it from init.
func register(c command) {
	if slices.ContainsFunc(commands, func(o command) bool { return o.name == c.name }) {
		panic("reprolog: command " + c.name + " registered twice")
	}
	commands = append(commands, c)
}

func main() {
	// A short-lived command: collecting garbage less often saves more time
	// than the memory it costs.
	debug.SetGCPercent(400)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		return 2
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "reprolog: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("usage: reprolog <command> [arguments]\n\ncommands:\n")
	sorted := slices.Clone(commands)
	slices.SortFunc(sorted, func(a, b command) int { return strings.Compare(a.name, b.name) })
	for _, c := range sorted {
		fmt.Fprintf(&b, "  %-10s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun \"reprolog <command> -h\" for a command's options.\n")
	io.WriteString(w, b.String())
}
