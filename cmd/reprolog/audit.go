package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/reprolog/reprolog/audit"
	"github.com/reprolog/reprolog/witness"
)

func init() {
	register(command{name: "audit", summary: "follow a log, verify it and report conflicts and misbehaviour", run: runAudit})
}

// Exit statuses of reprolog audit --once.
const (
	exitMisbehaviour = 3 // the log misbehaved: see the log-misbehaviour findings
)

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "report" {
		return runAuditReport(ctx, args[1:], stdout, stderr)
	}
	// The audit and its --exec hook write to stderr at once.
	stderr = &lockedWriter{w: stderr}
	fs := flag.NewFlagSet("reprolog audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	logURL := fs.String("log", "", "the log's URL (required)")
	logKey := fs.String("log-key", "", "the log's verifier key, or a file holding it (required)")
	stateDir := fs.String("state", "", "directory of the audit's state (required)")
	once := fs.Bool("once", false, "stop at the log's current checkpoint instead of following it")
	interval := fs.Duration("interval", 30*time.Second, "how often to poll the log for a new checkpoint")
	policyFile := fs.String("witness-policy", "", "C2SP tlog-policy file: use only checkpoints cosigned by its quorum")
	execCmd := fs.String("exec", "", "shell command run for each finding, with the finding's JSON on stdin")
	execBackoff := fs.Duration("exec-backoff", time.Second, "pause before running --exec again for a finding it failed on; it doubles up to 5 minutes")
	sample := fs.Int("lookup-sample", 8, "packages and sources per batch looked up to check the log's index (0: none)")
	recheck := fs.Int("lookup-recheck", 4, "packages and sources of earlier entries looked up again per batch (0: none)")
	attempts := fs.Int("attempts", 5, "syncs in which the log answers a record or key with a server error, or no lookup answer, before that is a finding")
	batch := fs.Int("batch", 1024, "entries committed together")
	quiet := fs.Bool("quiet", false, "print only findings and errors on stderr")
	progressEvery := fs.Duration("progress-every", 0, "how often to print progress while catching up (default 1s on a terminal, else 10s)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: reprolog audit --log URL --log-key VKEY --state DIR [--once] [flags]")
		fmt.Fprintln(stderr, "       reprolog audit report --state DIR [--json]")
		fmt.Fprintln(stderr, "Findings are printed on stdout as JSON lines; a summary goes to stderr.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *logURL == "" || *logKey == "" || *stateDir == "" || fs.NArg() != 0 || *interval <= 0 || *sample < 0 || *recheck < 0 || *attempts <= 0 || *execBackoff <= 0 || *progressEvery < 0 {
		fs.Usage()
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "reprolog audit:", err)
		return 1
	}
	vkey, err := readKey(*logKey)
	if err != nil {
		return fail(err)
	}
	level := slog.LevelInfo
	if *quiet {
		level = slog.LevelWarn
	}
	out := &findingWriter{stdout: stdout, stderr: stderr}
	cfg := audit.Config{
		Log: *logURL, LogKey: vkey, StateDir: *stateDir, LookupSample: *sample, LookupRecheck: *recheck, Attempts: *attempts,
		BatchSize: *batch,
		Deliver:   out.deliver,
		Logger:    slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	}
	if *policyFile != "" {
		if cfg.Quorum, err = quorum(*policyFile, vkey); err != nil {
			return fail(err)
		}
	}
	if !*quiet {
		p := newProgress(stderr)
		if *progressEvery > 0 {
			p.every = *progressEvery
		}
		cfg.Progress = p.update
	}
	a, err := audit.Open(ctx, cfg)
	if err != nil {
		return fail(err)
	}
	defer a.Close()
	if *execCmd == "" {
		return syncLoop(ctx, a, out, *once, *interval, *quiet)
	}
	// --exec runs on its own, after stdout has the finding: a failing
	// command is run again with backoff while the audit goes on.
	hook, err := a.Notifier(ctx, "exec", execHook(*execCmd, stderr))
	if err != nil {
		return fail(err)
	}
	hook.Backoff = *execBackoff
	hooked := make(chan error, 1)
	go func() { hooked <- hook.Run(ctx) }()
	code := syncLoop(ctx, a, out, *once, *interval, *quiet)
	hook.Finish(onceExecTries)
	if err := <-hooked; err != nil && ctx.Err() == nil {
		fmt.Fprintf(stderr, "reprolog audit: --exec: %v (run again at the next start)\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// onceExecTries is how many times in a row --exec may fail on a finding
// before reprolog audit --once stops trying until its next run.
const onceExecTries = 5

// syncLoop syncs the audit until ctx is done, or once with once, and
// returns the exit status.
func syncLoop(ctx context.Context, a *audit.Auditor, out *findingWriter, once bool, interval time.Duration, quiet bool) int {
	for {
		start := time.Now()
		res, err := a.Sync(ctx)
		if res != nil && !quiet && (res.Processed > 0 || len(res.Findings) > 0 || once) {
			summary(out.stderr, res, time.Since(start))
		}
		switch {
		case ctx.Err() != nil:
			return 0
		case err != nil && once:
			fmt.Fprintln(out.stderr, "reprolog audit:", err)
			return 1
		case err != nil:
			fmt.Fprintf(out.stderr, "reprolog audit: %v (trying again in %v)\n", err, interval)
		case once && out.misbehaviour:
			return exitMisbehaviour
		case once && res.Unused != nil:
			fmt.Fprintln(out.stderr, "reprolog audit:", res.Unused)
			return 1
		case once:
			return 0
		}
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(interval):
		}
	}
}

// readKey accepts a verifier key or the name of a file holding one.
func readKey(s string) (string, error) {
	if _, err := note.NewVerifier(s); err == nil {
		return s, nil
	}
	b, err := os.ReadFile(s)
	if err != nil {
		return "", fmt.Errorf("--log-key: not a verifier key, nor a file holding one: %v", err)
	}
	k := strings.TrimSpace(string(b))
	if _, err := note.NewVerifier(k); err != nil {
		return "", fmt.Errorf("--log-key %s: %v", s, err)
	}
	return k, nil
}

// quorum reads a witness policy and returns the check of its quorum.
func quorum(file, vkey string) (func([]byte) error, error) {
	text, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	p, err := witness.ParsePolicy(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, err
	}
	return func(signed []byte) error {
		_, err := p.Verify(signed, v)
		return err
	}, nil
}

// findingWriter delivers findings as JSON lines on stdout, with a line
// for people on stderr.
type findingWriter struct {
	stdout, stderr io.Writer
	misbehaviour   bool
}

func (w *findingWriter) deliver(f audit.Finding) error {
	line, err := json.Marshal(f)
	if err != nil {
		return err
	}
	if _, err := w.stdout.Write(append(line, '\n')); err != nil {
		return err
	}
	fmt.Fprintf(w.stderr, "finding %d: %s: %s\n", f.ID, f.Kind, f.Summary)
	if f.Kind == audit.LogMisbehaviour {
		w.misbehaviour = true
	}
	return nil
}

// lockedWriter serializes writes.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// execHook runs the shell command for a finding, with its JSON line on
// stdin, for at most a minute. A stop lets a command that runs finish, so
// that it is recorded and not run again.
func execHook(command string, stderr io.Writer) func(context.Context, audit.Finding) error {
	return func(ctx context.Context, f audit.Finding) error {
		line, err := json.Marshal(f)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
		cmd.Stdin = bytes.NewReader(append(line, '\n'))
		cmd.Stdout, cmd.Stderr = stderr, stderr
		cmd.Env = append(os.Environ(), "REPROLOG_FINDING_ID="+strconv.FormatInt(f.ID, 10), "REPROLOG_FINDING_KIND="+string(f.Kind))
		return cmd.Run()
	}
}

func summary(w io.Writer, res *audit.Result, took time.Duration) {
	var b strings.Builder
	fmt.Fprintf(&b, "audit: %d of %d entries audited; this run: %d entries (%d verified) in %v",
		res.Position, res.TreeSize, res.Processed, res.Verified, took.Round(time.Millisecond))
	if res.Processed > 0 && took > 0 {
		fmt.Fprintf(&b, ", %.0f entries/s", float64(res.Processed)/took.Seconds())
	}
	var fs []string
	for _, k := range audit.Kinds {
		if n := res.Findings[k]; n > 0 {
			fs = append(fs, fmt.Sprintf("%d %s", n, k))
		}
	}
	if len(fs) > 0 {
		fmt.Fprintf(&b, "; findings: %s", strings.Join(fs, ", "))
	}
	fmt.Fprintln(w, b.String())
}

// progress shows how a long catch-up goes, every few seconds: on one
// rewritten line on a terminal, else a line each time.
type progress struct {
	w        io.Writer
	terminal bool
	every    time.Duration
	mu       sync.Mutex
	last     time.Time
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, last: time.Now(), every: 10 * time.Second}
	f, ok := w.(*os.File)
	if lw, locked := w.(*lockedWriter); locked {
		f, ok = lw.w.(*os.File)
	}
	if ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.terminal, p.every = true, time.Second
		}
	}
	return p
}

func (p *progress) update(pr audit.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	done := pr.Position >= pr.TreeSize
	if time.Since(p.last) < p.every && !(done && p.terminal) {
		return
	}
	p.last = time.Now()
	line := fmt.Sprintf("audit: %d of %d entries (%.1f%%), %.0f entries/s, about %v left",
		pr.Position, pr.TreeSize, 100*float64(pr.Position)/float64(max(pr.TreeSize, 1)), pr.Rate(), pr.Remaining().Round(time.Second))
	if p.terminal {
		end := ""
		if done {
			end = "\n"
		}
		fmt.Fprintf(p.w, "\r\033[K%s%s", line, end)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

func runAuditReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reprolog audit report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stateDir := fs.String("state", "", "directory of the audit's state (required)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: reprolog audit report --state DIR [--json]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *stateDir == "" || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	r, err := audit.ReadReport(ctx, *stateDir)
	if err != nil {
		fmt.Fprintln(stderr, "reprolog audit report:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(r)
	} else {
		err = r.WriteText(stdout)
	}
	if err != nil && !errors.Is(err, io.ErrClosedPipe) {
		fmt.Fprintln(stderr, "reprolog audit report:", err)
		return 1
	}
	return 0
}
