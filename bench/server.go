package bench

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"k8s.io/klog/v2"

	rlog "github.com/reprolog/reprolog/log"
)

// ServeConfig is the log a server process under test runs.
type ServeConfig struct {
	Dir                string        // data directory (the key, and the embedded storage)
	MySQL              string        // database DSN; empty for the embedded default
	CheckpointInterval time.Duration // as reprolog-server --checkpoint-interval
	Pprof              bool          // serve net/http/pprof under /debug/pprof/
}

func (c ServeConfig) args() []string {
	a := []string{"--data", c.Dir, "--checkpoint-interval", c.CheckpointInterval.String()}
	if c.MySQL != "" {
		a = append(a, "--mysql", c.MySQL)
	}
	if c.Pprof {
		a = append(a, "--pprof")
	}
	return a
}

// Serve runs a log as reprolog-server does (the same setup, handler and
// limits), with the per-builder rate limit off, printing its URL, until ctx
// ends. It is the server process the benchmarks measure.
func Serve(ctx context.Context, args []string, stdout io.Writer) error {
	var c ServeConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&c.Dir, "data", "", "data directory")
	fs.StringVar(&c.MySQL, "mysql", "", "MySQL DSN")
	fs.DurationVar(&c.CheckpointInterval, "checkpoint-interval", time.Second, "checkpoint interval")
	fs.BoolVar(&c.Pprof, "pprof", false, "serve /debug/pprof/")
	if err := fs.Parse(args); err != nil {
		return err
	}
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	var cfg rlog.Config
	var err error
	if c.MySQL != "" {
		cfg, err = rlog.SetupMySQL(ctx, c.Dir, c.MySQL, "bench.reprolog/log")
	} else {
		cfg, err = rlog.SetupDir(ctx, c.Dir, "bench.reprolog/log")
	}
	if err != nil {
		return err
	}
	cfg.CheckpointInterval = c.CheckpointInterval
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := rlog.New(ctx, cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", http.MaxBytesHandler(s.Handler(), 2*rlog.DefaultMaxRecordSize))
	if c.Pprof {
		runtime.SetBlockProfileRate(int(time.Millisecond))
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute}
	go srv.Serve(ln)
	fmt.Fprintf(stdout, "serving http://%s\n", ln.Addr())
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	return s.Close(sctx)
}

// Process is a server process under test.
type Process struct {
	URL string
	cmd *exec.Cmd
}

// Start runs `exe serve` (this program's Serve) with c and waits until it
// listens.
func Start(exe string, c ServeConfig) (*Process, error) {
	cmd := exec.Command(exe, append([]string{"serve"}, c.args()...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "serving ")
	if err != nil || !ok {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("the server did not start (%v): %q", err, line)
	}
	return &Process{URL: url, cmd: cmd}, nil
}

// RSS is the process's resident memory now, and its peak, in bytes.
func (p *Process) RSS() (now, peak int64, err error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[2] != "kB" {
			continue
		}
		n, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			now = n << 10
		case "VmHWM:":
			peak = n << 10
		}
	}
	if now == 0 {
		return 0, 0, errors.New("no VmRSS in /proc")
	}
	return now, peak, nil
}

// Stop interrupts the server and waits for it to finish.
func (p *Process) Stop() error {
	p.cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		p.cmd.Process.Kill()
		return errors.New("the server did not stop within a minute")
	}
}
