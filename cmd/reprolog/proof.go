package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/reprolog/reprolog/client"
)

func init() {
	register(command{name: "proof", summary: "write an offline proof bundle for a .deb (for verify --offline)", run: runProof})
}

func runProof(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reprolog proof", flag.ContinueOnError)
	fs.SetOutput(stderr)
	policyFile := fs.String("policy", "/etc/reprolog/policy", "the policy file")
	verbose := fs.Bool("v", false, "report the decision the bundle supports")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: reprolog proof [--policy FILE] [-v] X.deb > X.deb.proof")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	v, ok := loadVerifier(*policyFile, stderr)
	if !ok {
		return exitUsage
	}
	d, err := client.ReadDeb(fs.Arg(0))
	if err != nil {
		return fail(stderr, "reprolog proof", err)
	}
	bundle, dec, err := v.Prove(ctx, d)
	if err != nil {
		return fail(stderr, "reprolog proof", err)
	}
	if *verbose {
		fmt.Fprintln(stderr, dec.Summary())
	}
	if _, err := stdout.Write(bundle.Marshal()); err != nil {
		fmt.Fprintln(stderr, "reprolog proof:", err)
		return exitUsage
	}
	return exitPass
}
