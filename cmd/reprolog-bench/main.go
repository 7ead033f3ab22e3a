// Command reprolog-bench measures a reprolog log on this machine and prints
// one table: each measured figure beside what bounds it, measured in the
// same run.
//
//	reprolog-bench [--n 10000] [--workers 256] [--checkpoint-interval 1s]
//	               [--mysql DSN] [--large 1000000] [--work DIR]
//	               [--profile FILE] [--reprolog PATH] [--baseline PATH]
//	               [--decisions-only | --ingest-only]
//
// Run it from the repository (it builds cmd/reprolog unless --reprolog
// names a binary) on a quiet machine. bench/README.md explains each row.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"k8s.io/klog/v2"

	"github.com/reprolog/reprolog/bench"
)

type options struct {
	n, workers, fillWorkers int
	interval                time.Duration
	mysql                   string
	large                   int
	work, profile, reprolog string
	decisionsOnly           bool
	ingestOnly              bool
	baseline                string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	klog.LogToStderr(false) // Tessera's log
	klog.SetOutput(io.Discard)
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		if err := bench.Serve(ctx, os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "reprolog-bench serve:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "reprolog-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reprolog-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.IntVar(&o.n, "n", 10000, "signed submissions for the ingest rows; the log for decisions, audit and memory holds as many")
	fs.IntVar(&o.workers, "workers", 256, "concurrent submitters for the ingest rows")
	fs.IntVar(&o.fillWorkers, "fill-workers", 1024, "concurrent submitters filling the log for the other rows")
	fs.DurationVar(&o.interval, "checkpoint-interval", time.Second, "the log's checkpoint interval (MySQL: at least 1s)")
	fs.StringVar(&o.mysql, "mysql", "", "a MySQL/MariaDB DSN of an account that may create and drop databases reprolog_test_*: adds the MySQL rows")
	fs.IntVar(&o.large, "large", 0, "also grow the log to this many entries (e.g. 1000000) and measure decisions, the audit and memory there")
	fs.StringVar(&o.work, "work", "", "working directory (default: a temporary one, removed at the end)")
	fs.StringVar(&o.profile, "profile", "", "write a CPU profile of the server during the ingest row to this file")
	fs.StringVar(&o.reprolog, "reprolog", "", "the reprolog binary (default: CGO_ENABLED=0 go build ./cmd/reprolog)")
	fs.BoolVar(&o.decisionsOnly, "decisions-only", false, "measure only the decision rows (reprolog verify), not ingest, check, audit or memory")
	fs.BoolVar(&o.ingestOnly, "ingest-only", false, "measure only the ingest rows (and verification alone), not decisions, check, audit or memory")
	fs.StringVar(&o.baseline, "baseline", "", "another reprolog binary (e.g. a build of an earlier commit) to time in the decision rows, taking turns with --reprolog run by run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.decisionsOnly && o.ingestOnly {
		return fmt.Errorf("--decisions-only and --ingest-only: choose one")
	}
	if o.n < 1000 {
		return fmt.Errorf("--n %d: at least 1000 (the decision rows need 600 builds)", o.n)
	}
	if o.work == "" {
		dir, err := os.MkdirTemp("", "reprolog-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.work = dir
	}
	defer func() {
		for _, drop := range dropAtExit {
			drop()
		}
	}()
	b := &bencher{o: o, log: stderr}
	if err := b.setup(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, machine())
	if o.decisionsOnly {
		fmt.Fprintf(stdout, "checkpoint interval %v; decision rows only\n\n", o.interval)
	} else {
		fmt.Fprintf(stdout, "checkpoint interval %v; %d submissions by %d submitters; records by %s\n\n",
			o.interval, o.n, o.workers, b.ingestKeys())
	}
	rows, err := b.all(ctx)
	bench.PrintTable(stdout, rows)
	for _, note := range b.notes {
		fmt.Fprintln(stdout, "\n"+note)
	}
	return err
}

// machine describes where the figures come from.
func machine() string {
	cpu := "unknown CPU"
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	load := ""
	if raw, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = ", load average " + strings.Join(strings.Fields(string(raw))[:3], " ")
	}
	return fmt.Sprintf("%s: %d CPUs (%s)%s, %s, %s", time.Now().UTC().Format("2006-01-02 15:04 MST"),
		runtime.NumCPU(), cpu, load, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
}

// buildReprolog builds cmd/reprolog of the module this program runs in, as
// a static binary (CGO_ENABLED=0): with no dynamic loader to run and Go's
// own DNS resolver, it starts with about 1 ms less CPU (bench/README.md).
func buildReprolog(dir string) (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module (run from the repository, or pass --reprolog): %v", err)
	}
	bin := filepath.Join(dir, "reprolog")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/reprolog")
	cmd.Dir = strings.TrimSpace(string(out))
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/reprolog: %v: %s", err, b)
	}
	return bin, nil
}
