package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/reprolog/reprolog/client"
	"github.com/reprolog/reprolog/proofs"
)

func init() {
	register(command{name: "verify", summary: "decide whether .deb files may be installed (K of N rebuilders agree)", run: runVerify})
}

// Exit statuses of verify and proof.
const (
	exitPass  = 0 // every file reproducible or allowed
	exitFail  = 1 // some file insufficient or in conflict
	exitUsage = 2 // bad usage or policy
	exitLog   = 3 // the log or a witness failed verification
)

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reprolog verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	policyFile := fs.String("policy", "/etc/reprolog/policy", "the policy file")
	verbose := fs.Bool("v", false, "report every decision, not only failures")
	asJSON := fs.Bool("json", false, "print the full decision for each file as JSON")
	offline := fs.Bool("offline", false, "decide from proof bundles, with no network: arguments are pairs X.deb.proof X.deb")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: reprolog verify [--policy FILE] [-v] [--json] X.deb...")
		fmt.Fprintln(stderr, "       reprolog verify [--policy FILE] [-v] [--json] --offline X.deb.proof X.deb...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() == 0 || *offline && fs.NArg()%2 != 0 {
		fs.Usage()
		return exitUsage
	}
	if !*offline {
		return verifyOnline(ctx, *policyFile, fs.Args(), *verbose, *asJSON, stdout, stderr)
	}
	v, ok := loadVerifier(*policyFile, stderr)
	if !ok {
		return exitUsage
	}
	decisions, err := verifyOffline(v, fs.Args())
	if err != nil {
		return fail(stderr, "reprolog verify", err)
	}
	return report(decisions, *verbose, *asJSON, stdout, stderr)
}

// verifyOnline decides about the files from the log. The files are read
// and hashed while the policy loads, and the log is asked while the
// policy's keys are checked, which only its records need.
func verifyOnline(ctx context.Context, policyFile string, files []string, verbose, asJSON bool, stdout, stderr io.Writer) int {
	type read struct {
		debs []client.Deb
		err  error
	}
	got := make(chan read, 1)
	go func() {
		debs, err := readDebs(files)
		got <- read{debs, err}
	}()
	p, err := client.OpenPolicy(policyFile)
	if err != nil {
		fmt.Fprintln(stderr, "reprolog:", err)
		return exitUsage
	}
	r := <-got
	var decisions []*client.Decision
	if err = r.err; err == nil {
		decisions, err = (&client.Verifier{Policy: p}).Verify(ctx, r.debs)
	}
	if perr := p.Wait(); perr != nil {
		fmt.Fprintln(stderr, "reprolog:", perr)
		return exitUsage
	}
	printWarnings(stderr, policyFile, p)
	if err != nil {
		return fail(stderr, "reprolog verify", err)
	}
	return report(decisions, verbose, asJSON, stdout, stderr)
}

// loadVerifier loads the policy and prints its warnings.
func loadVerifier(path string, stderr io.Writer) (*client.Verifier, bool) {
	p, err := client.LoadPolicy(path)
	if err != nil {
		fmt.Fprintln(stderr, "reprolog:", err)
		return nil, false
	}
	printWarnings(stderr, path, p)
	return &client.Verifier{Policy: p}, true
}

func printWarnings(stderr io.Writer, path string, p *client.Policy) {
	for _, w := range p.Warnings {
		fmt.Fprintf(stderr, "reprolog: warning: %s: %s\n", path, w)
	}
}

// readDebs reads and hashes the files on every core; it reports the
// first error in the order of paths.
func readDebs(paths []string) ([]client.Deb, error) {
	debs := make([]client.Deb, len(paths))
	errs := make([]error, len(paths))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, path := range paths {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			debs[i], errs[i] = client.ReadDeb(path)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return debs, nil
}

func verifyOffline(v *client.Verifier, args []string) ([]*client.Decision, error) {
	var out []*client.Decision
	for i := 0; i < len(args); i += 2 {
		d, err := client.ReadDeb(args[i+1])
		if err != nil {
			return nil, err
		}
		data, err := readBundle(args[i])
		if err != nil {
			return nil, err
		}
		b, err := proofs.ParseBundle(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %w", args[i], client.ErrLog, err)
		}
		dec, err := v.VerifyOffline(b, d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", args[i], err)
		}
		out = append(out, dec)
	}
	return out, nil
}

func readBundle(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, proofs.MaxBundleSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > proofs.MaxBundleSize {
		return nil, fmt.Errorf("%s: %w: larger than %d bytes", path, client.ErrLog, proofs.MaxBundleSize)
	}
	return data, nil
}

// fail prints err and returns its exit status.
func fail(stderr io.Writer, who string, err error) int {
	fmt.Fprintf(stderr, "%s: %v\n", who, err)
	if errors.Is(err, client.ErrLog) {
		return exitLog
	}
	return exitUsage
}

// report prints the decisions and returns the exit status: silent on
// success unless verbose, failures and warnings on stderr.
func report(decisions []*client.Decision, verbose, asJSON bool, stdout, stderr io.Writer) int {
	status := exitPass
	for _, d := range decisions {
		if !d.Verdict.Pass() {
			status = exitFail
		}
		switch {
		case asJSON:
		case !d.Verdict.Pass():
			fmt.Fprintln(stderr, d.Summary())
		case verbose:
			fmt.Fprintln(stdout, d.Summary())
		}
		for _, w := range d.Warnings {
			fmt.Fprintf(stderr, "reprolog: warning: %s: %s\n", d.File, w)
		}
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(decisions); err != nil {
			fmt.Fprintln(stderr, "reprolog:", err)
			return exitUsage
		}
	}
	return status
}
