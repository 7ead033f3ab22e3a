// Package testbin builds the project's commands for end-to-end tests and
// runs reprolog-server as a real process.
package testbin

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	mu    sync.Mutex
	built = map[string]string{}
	dir   string
)

// root is the module's root directory.
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Build compiles a command of this module (e.g. "reprolog") once per test
// process and returns the binary's path.
func Build(t testing.TB, name string) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if p, ok := built[name]; ok {
		return p
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "reprolog-bin-")
		if err != nil {
			t.Fatal(err)
		}
		dir = d
	}
	out := filepath.Join(dir, name)
	args := []string{"build", "-o", out}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "./cmd/"+name)...)
	cmd.Dir = root()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, b)
	}
	built[name] = out
	return out
}

// Server is a reprolog-server process.
type Server struct {
	URL  string
	VKey string
	Dir  string
	Cmd  *exec.Cmd
	Logs *strings.Builder
}

var startLine = regexp.MustCompile(`^reprolog log (\S+) on (http://\S+)$`)

// StartServer runs reprolog-server on dir with extra flags, on a free port
// of 127.0.0.1, until the test ends.
func StartServer(t testing.TB, dir string, flags ...string) *Server {
	t.Helper()
	bin := Build(t, "reprolog-server")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, append([]string{"--data", dir, "--listen", "127.0.0.1:0", "--checkpoint-interval", "100ms"}, flags...)...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 20 * time.Second
	logs := &strings.Builder{}
	var logMu sync.Mutex
	cmd.Stderr = writerFunc(func(p []byte) (int, error) { logMu.Lock(); defer logMu.Unlock(); return logs.Write(p) })
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &Server{Dir: dir, Cmd: cmd, Logs: logs}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	deadline := time.AfterFunc(30*time.Second, cancel)
	defer deadline.Stop()
	for sc.Scan() {
		line := sc.Text()
		if m := startLine.FindStringSubmatch(line); m != nil {
			s.URL = m[2]
		}
		if v, ok := strings.CutPrefix(line, "verifier key: "); ok {
			s.VKey = v
			go func() {
				for sc.Scan() {
				}
			}()
			return s
		}
	}
	logMu.Lock()
	defer logMu.Unlock()
	t.Fatalf("reprolog-server did not start: %s", logs.String())
	return nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// Run runs a built command and returns its stdout, stderr and exit status.
func Run(t testing.TB, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	return out.String(), errb.String(), 0
}
