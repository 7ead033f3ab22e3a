// Command reprolog-witness is a C2SP tlog-witness: it cosigns the
// checkpoints of the logs listed in a C2SP tlog-policy file, each only if it
// is consistent with the last one it cosigned for that log.
//
//	reprolog-witness --log-policy FILE [--data DIR] [--listen ADDR] [--name NAME]
//	reprolog-witness evidence [--data DIR]
//
// On first start it creates its Ed25519 key in DIR/witness.key (mode 0600),
// writes its verifier key to DIR/witness.pub and prints it; logs list that
// key in their witness policies. Its state (the latest checkpoint of each
// log) is kept in DIR/witness.db. Logs submit checkpoints with
// POST /add-checkpoint; monitors read the latest cosigned checkpoint of a log
// with GET /<hex SHA-256 of its origin>/checkpoint; GET / shows the key and
// the state.
//
// A log-signed checkpoint that conflicts with the one the witness holds is
// refused and kept with the held one as evidence; "evidence" prints the
// reports as JSON lines, one object per report. A fork (the log signed two
// checkpoints of one size with different root hashes) is proof, marked
// "proven": true. A larger checkpoint that came with a consistency proof
// that does not verify is marked "proven": false: anyone holding a newer
// checkpoint can send one with a garbage proof.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"filippo.io/torchwood"
	"github.com/reprolog/reprolog/witness"

	"github.com/reprolog/reprolog/internal/atomicfile"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "reprolog-witness:", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "evidence" {
		return printEvidence(ctx, args[1:], stdout, stderr)
	}
	fl := flag.NewFlagSet("reprolog-witness", flag.ContinueOnError)
	fl.SetOutput(stderr)
	data := fl.String("data", "./witness-data", "directory for the witness key and state")
	listen := fl.String("listen", "127.0.0.1:8081", "address to serve HTTP on")
	policyFile := fl.String("log-policy", "", "C2SP tlog-policy `FILE` whose log lines are the logs to witness (required)")
	name := fl.String("name", "", "key name for a new witness key (default <hostname>/reprolog-witness)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", fl.Args())
	}
	if *policyFile == "" {
		return errors.New("--log-policy is required")
	}
	lg := slog.New(slog.NewTextHandler(stderr, nil))

	text, err := os.ReadFile(*policyFile)
	if err != nil {
		return err
	}
	policy, err := witness.ParsePolicy(text)
	if err != nil {
		return fmt.Errorf("%s: %w", *policyFile, err)
	}
	if len(policy.Logs()) == 0 {
		return fmt.Errorf("%s lists no logs to witness (add \"log <vkey> [<url>]\" lines)", *policyFile)
	}

	if err := checkWritable(*data); err != nil {
		return err
	}
	keyPath := filepath.Join(*data, "witness.key")
	signer, newKey, err := openKey(*data, *name)
	if err != nil {
		return err
	}
	w, err := witness.New(witness.Config{
		Signer: signer,
		Logs:   policy.Logs(),
		DB:     filepath.Join(*data, "witness.db"),
		Logger: lg,
	})
	if err != nil {
		return err
	}
	defer w.Close()
	if newKey != "" {
		// The key takes its place only once its state exists, so a crash
		// in between never leaves a key without state.
		if err := os.Rename(newKey, keyPath); err != nil {
			return err
		}
		if err := atomicfile.SyncDir(*data); err != nil {
			return err
		}
		lg.Info("created witness key", "path", keyPath, "name", signer.Name())
	}
	vkey := signer.Verifier().String()
	if err := atomicfile.Write(filepath.Join(*data, "witness.pub"), []byte(vkey+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(stdout, vkey)

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/add-checkpoint", w)
	mux.Handle("/{hash}/checkpoint", w)
	mux.Handle("GET /{$}", statusPage(w, vkey, policy.Logs()))
	srv := &http.Server{
		Handler:           http.MaxBytesHandler(mux, witness.MaxRequestSize),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(lg.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	lg.Info("listening", "addr", ln.Addr().String(), "vkey", vkey, "logs", len(policy.Logs()))

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	lg.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// openKey loads the witness key from dir. On first start it generates one
// in a temporary file and returns that file's path as newKey, for the caller
// to move into place once the state exists. It refuses to start when the key
// exists but the state does not: a witness that forgot what it cosigned
// could cosign a fork.
func openKey(dir, name string) (s *torchwood.CosignatureSigner, newKey string, err error) {
	keyPath, dbPath := filepath.Join(dir, "witness.key"), filepath.Join(dir, "witness.db")
	_, err = os.Stat(keyPath)
	switch {
	case err == nil:
		s, err := witness.LoadKey(keyPath)
		if err != nil {
			return nil, "", fmt.Errorf("%w (refusing to start; restore the key or use a new --data directory)", err)
		}
		if name != "" && name != s.Name() {
			return nil, "", fmt.Errorf("--name %q, but the key in %s is named %q", name, keyPath, s.Name())
		}
		if _, err := os.Stat(dbPath); errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("%s exists but its state %s does not: this witness would forget the checkpoints it cosigned; restore the database, or retire the key and use a new --data directory", keyPath, dbPath)
		} else if err != nil {
			return nil, "", err
		}
		return s, "", nil
	case errors.Is(err, fs.ErrNotExist):
		if name == "" {
			host, err := os.Hostname()
			if err != nil {
				return nil, "", fmt.Errorf("no --name and no hostname: %w", err)
			}
			name = host + "/reprolog-witness"
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, "", err
		}
		// A leftover from a start that crashed before its state existed:
		// it never signed anything.
		tmp := keyPath + ".new"
		if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, "", err
		}
		s, err := witness.GenerateKey(tmp, name)
		if err != nil {
			return nil, "", err
		}
		return s, tmp, nil
	default:
		return nil, "", fmt.Errorf("witness key: %w", err)
	}
}

func printEvidence(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("reprolog-witness evidence", flag.ContinueOnError)
	fl.SetOutput(stderr)
	data := fl.String("data", "./witness-data", "directory of the witness key and state")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", fl.Args())
	}
	ev, err := witness.ReadEvidence(ctx, filepath.Join(*data, "witness.db"))
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	for _, e := range ev {
		err := enc.Encode(struct {
			Origin   string    `json:"origin"`
			Kind     string    `json:"kind"`
			Proven   bool      `json:"proven"`
			Meaning  string    `json:"meaning"`
			Observed time.Time `json:"observed"`
			Held     string    `json:"held_checkpoint"`
			Received string    `json:"received_checkpoint"`
			Request  string    `json:"request"`
		}{e.Origin, e.Kind, e.Proves(), meaning(e), e.Observed.UTC(), string(e.Held), string(e.Received), string(e.Request)})
		if err != nil {
			return err
		}
	}
	return nil
}

// meaning says in words what an evidence report shows.
func meaning(e witness.Evidence) string {
	if e.Proves() {
		return "proof of a fork: the log signed both checkpoints, of one size with different root hashes"
	}
	return "unproven: the log signed the received checkpoint, but it came with a consistency proof that does not verify; anyone holding a newer checkpoint can send one with a garbage proof"
}

// checkWritable creates dir if needed and makes sure files can be created
// in it: a witness that cannot record what it cosigns must not start.
func checkWritable(dir string) error {
	err := os.MkdirAll(dir, 0o700)
	if err == nil {
		var f *os.File
		if f, err = os.CreateTemp(dir, ".probe-*"); err == nil {
			f.Close()
			err = os.Remove(f.Name())
		}
	}
	if err != nil {
		return fmt.Errorf("data directory %s is not writable: %w", dir, err)
	}
	return nil
}

func statusPage(w *witness.Witness, vkey string, logs []witness.LogEntry) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(rw, "reprolog-witness\n%s\n\n", vkey)
		seen := map[string]bool{}
		for _, l := range logs {
			if seen[l.Origin] {
				continue
			}
			seen[l.Origin] = true
			st, err := w.State(r.Context(), l.Origin)
			if err != nil {
				fmt.Fprintf(rw, "%s: state unavailable\n", l.Origin)
				continue
			}
			fmt.Fprintf(rw, "%s %d %s\n", l.Origin, st.Size, st.Hash)
		}
	})
}
