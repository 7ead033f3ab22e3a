package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/reprolog/reprolog/statement"
)

func init() {
	register(command{name: "submit", summary: "submit clear-signed .buildinfo files to a log", run: runSubmit})
}

func runSubmit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reprolog submit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	logURL := fs.String("log", "", "the log's URL (required)")
	keyFile := fs.String("key", "", "armored OpenPGP public key to register first")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long to wait for each submission")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: reprolog submit --log URL [--key KEYFILE] FILE...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *logURL == "" || fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	c := &logClient{base: strings.TrimSuffix(*logURL, "/"), http: &http.Client{Timeout: *timeout}}
	if *keyFile != "" {
		armored, err := os.ReadFile(*keyFile)
		if err != nil {
			fmt.Fprintln(stderr, "reprolog submit:", err)
			return 2
		}
		var res struct{ Fingerprint string }
		if err := c.post(ctx, "/keys", armored, &res); err != nil {
			fmt.Fprintf(stderr, "reprolog submit: registering %s: %v\n", *keyFile, err)
			return 1
		}
	}
	status := 0
	for _, file := range fs.Args() {
		record, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(stderr, "reprolog submit:", err)
			status = 1
			continue
		}
		var res struct {
			Index      *uint64
			Statement  string
			Checkpoint string
		}
		if err := c.post(ctx, "/add", record, &res); err != nil {
			fmt.Fprintf(stderr, "%s: rejected: %v\n", file, err)
			status = 1
			continue
		}
		if err := checkAck(record, res.Index, res.Statement, res.Checkpoint); err != nil {
			fmt.Fprintf(stderr, "%s: not acknowledged: %v\n", file, err)
			status = 1
			continue
		}
		fmt.Fprintf(stdout, "%d %s\n", *res.Index, file)
	}
	return status
}

// logClient talks to a log's write API.
type logClient struct {
	base string
	http *http.Client
}

// post sends body and decodes the JSON answer into v. It follows
// Retry-After on 503 and 429 a few times before giving up.
func (c *logClient) post(ctx context.Context, path string, body []byte, v any) error {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "text/plain")
		resp, err := c.http.Do(req)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return err
		}
		switch {
		case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusCreated:
			if err := json.Unmarshal(b, v); err != nil {
				return fmt.Errorf("the log's answer (%s) is not the JSON of an acknowledgement", resp.Status)
			}
			return nil
		case (resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests) && attempt < 5:
			wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(max(wait, 1)) * time.Second):
			}
			continue
		}
		var e struct{ Error string }
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			return errors.New(resp.Status)
		}
		return fmt.Errorf("%s (%s)", e.Error, resp.Status)
	}
}

// checkAck checks that a log's answer to POST /add acknowledges this
// record: it names an index, a checkpoint, and a statement of the record.
func checkAck(record []byte, index *uint64, entry, checkpoint string) error {
	if index == nil || entry == "" || checkpoint == "" {
		return errors.New("the log's answer lacks the index, statement or checkpoint of an acknowledgement")
	}
	st, err := statement.Parse([]byte(entry))
	if err != nil {
		return fmt.Errorf("the log acknowledged with a malformed statement: %w", err)
	}
	sum := sha256.Sum256(record)
	if st.Record != hex.EncodeToString(sum[:]) {
		return errors.New("the log acknowledged a statement of another record")
	}
	return nil
}
