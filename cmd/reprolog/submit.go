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

	"github.com/reprolog/reprolog/buildinfo"
	"github.com/reprolog/reprolog/pgp"
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
		logged, err := c.checkAck(ctx, record, res.Index, res.Statement, res.Checkpoint)
		if err != nil {
			fmt.Fprintf(stderr, "%s: not acknowledged: %v\n", file, err)
			status = 1
			continue
		}
		if logged != recordSHA256(record) {
			fmt.Fprintf(stderr, "%s: logged before as record %s, the same signature encoded differently\n", file, logged)
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

// get fetches a record the log serves.
func (c *logClient) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New(resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, pgp.MaxRecordSize+1))
}

// checkAck checks that a log's answer to POST /add acknowledges this
// record: it names an index, a checkpoint, and a statement of the record.
// A log that holds the same signature of the same text in another
// encoding (other armor, whitespace or unhashed data) answers with the
// statement of the record it holds: that record, fetched from the log,
// must then carry the same signature and derive that statement. It
// returns the SHA-256 of the logged record.
func (c *logClient) checkAck(ctx context.Context, record []byte, index *uint64, entry, checkpoint string) (string, error) {
	if index == nil || entry == "" || checkpoint == "" {
		return "", errors.New("the log's answer lacks the index, statement or checkpoint of an acknowledgement")
	}
	st, err := statement.Parse([]byte(entry))
	if err != nil {
		return "", fmt.Errorf("the log acknowledged with a malformed statement: %w", err)
	}
	if st.Record == recordSHA256(record) {
		return st.Record, nil
	}
	other, err := c.get(ctx, "/record/"+st.Record)
	if err != nil || recordSHA256(other) != st.Record || !sameSignature(record, other, st.Builder, entry) {
		return "", errors.New("the log acknowledged a statement of another record")
	}
	return st.Record, nil
}

// sameSignature reports whether two records carry the same signature of
// the same text, and other derives entry with builder.
func sameSignature(record, other []byte, builder, entry string) bool {
	a, err := pgp.ParseClearsigned(record)
	if err != nil {
		return false
	}
	b, err := pgp.ParseClearsigned(other)
	if err != nil {
		return false
	}
	da, errA := a.Digest()
	db, errB := b.Digest()
	if errA != nil || errB != nil || a.Hash != b.Hash || a.IssuerKeyID != b.IssuerKeyID || !bytes.Equal(da, db) {
		return false
	}
	bi, err := buildinfo.Parse(b.Text)
	if err != nil {
		return false
	}
	st, err := statement.Derive(bi, builder, other)
	return err == nil && string(st.Marshal()) == entry
}

func recordSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
