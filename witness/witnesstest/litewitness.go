package witnesstest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	_ "modernc.org/sqlite" // to register logs in litewitness's database

	"github.com/reprolog/reprolog/internal/testenv"
)

// LitewitnessModule is the litewitness that InstallLitewitness builds.
const LitewitnessModule = "filippo.io/torchwood/cmd/litewitness@v0.6.1"

// A Litewitness is torchwood's litewitness running as a separate process on
// 127.0.0.1, signing through an SSH agent that holds its Ed25519 key.
type Litewitness struct {
	Name string
	URL  string // submission prefix
	VKey string // cosignature/v1 verifier key
	DB   string // litewitness's SQLite database
}

// InstallLitewitness builds litewitness with `go install` into a temporary
// GOBIN and returns the binary's path. It skips the test if the module
// cannot be downloaded (no module proxy or cache), or fails it when
// testenv.StrictEnv is 1.
func InstallLitewitness(t testing.TB) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := t.TempDir()
	cmd := exec.Command(goCmd, "install", LitewitnessModule)
	cmd.Dir = bin
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		if offline(string(out)) {
			testenv.Unavailable(t, "litewitness: cannot go install %s offline (no module proxy and no module cache): %s", LitewitnessModule, out)
		}
		t.Fatalf("go install %s: %v\n%s", LitewitnessModule, err, out)
	}
	return filepath.Join(bin, "litewitness")
}

func offline(out string) bool {
	for _, s := range []string{"dial tcp", "no such host", "GOPROXY=off", "GOFLAGS=-mod=mod", "connection refused",
		"network is unreachable", "i/o timeout", "module lookup disabled", "GOPROXY list is not the empty string"} {
		if strings.Contains(out, s) {
			return true
		}
	}
	return false
}

// StartLitewitness installs and starts a litewitness named name with a new
// Ed25519 key held by an in-process SSH agent. It is stopped when the test
// ends. Register logs with AddLog.
func StartLitewitness(t testing.TB, name string) *Litewitness {
	t.Helper()
	bin := InstallLitewitness(t)
	dir := t.TempDir()

	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sock := startAgent(t, priv)
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := torchwood.NewCosignatureSigner(name, priv)
	if err != nil {
		t.Fatal(err)
	}

	addr := freeAddr(t)
	lw := &Litewitness{Name: name, URL: "http://" + addr, VKey: cs.Verifier().String(), DB: filepath.Join(dir, "litewitness.db")}
	cmd := exec.Command(bin, "-name", name, "-db", lw.DB, "-ssh-agent", sock,
		"-listen", addr, "-key", ssh.FingerprintSHA256(sshPub))
	cmd.Dir = dir
	var stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		t.Logf("litewitness output:\n%s", stderr.String())
	})

	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("litewitness exited: %v\n%s", err, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("litewitness did not listen on %s:\n%s", addr, stderr.String())
		}
	}
	// litewitness logs its verifier key before it listens.
	if !strings.Contains(stderr.String(), "vkey="+lw.VKey) {
		t.Fatalf("litewitness reports another verifier key than %s:\n%s", lw.VKey, stderr.String())
	}
	return lw
}

// AddLog registers a log with litewitness, the way its README says: a log
// row at size 0 with the empty tree's hash, and the log's key.
func (lw *Litewitness) AddLog(t testing.TB, origin, vkey string) {
	t.Helper()
	db, err := sql.Open("sqlite", lw.DB+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	empty := sha256.Sum256(nil)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `INSERT INTO log (origin, tree_size, tree_hash) VALUES (?, 0, ?)`,
		origin, base64.StdEncoding.EncodeToString(empty[:])); err != nil {
		t.Fatalf("litewitness: registering log: %v", err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO key (origin, key) VALUES (?, ?)`, origin, vkey); err != nil {
		t.Fatalf("litewitness: registering log key: %v", err)
	}
}

// startAgent serves an SSH agent holding priv on a Unix socket and returns
// the socket's path.
func startAgent(t testing.TB, priv ed25519.PrivateKey) string {
	t.Helper()
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	// Unix socket paths are short (108 bytes); test temp dirs can be long.
	dir, err := os.MkdirTemp("", "lw")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				agent.ServeAgent(keyring, c)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
		os.RemoveAll(dir)
	})
	return sock
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
