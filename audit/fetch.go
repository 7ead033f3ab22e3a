package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Size caps on what the log answers.
const (
	maxCheckpointSize = 1 << 20
	maxKeySize        = 1 << 20
	maxLookupSize     = 16 << 20
	// maxTileSize bounds a tile or an entry bundle: 256 entries of at most
	// 65,535 bytes, each with its 2-byte length.
	maxTileSize = 256 * (2 + 65535)
)

// Errors of fetcher.get about the log's answer (anything else is a failure
// to get one).
var (
	errNotFound = errors.New("not found")        // 404
	errRefused  = errors.New("refused")          // another 4xx
	errTooLarge = errors.New("answer too large") // more than asked for
)

// fetcher reads the log's HTTP API (everything but tiles).
type fetcher struct {
	base     string
	hc       *http.Client
	attempts int
	pause    time.Duration
}

// get fetches base+path, a body of at most max bytes. It retries network
// errors, 429 and 5xx answers a few times, following Retry-After.
func (f *fetcher) get(ctx context.Context, path string, max int64) ([]byte, error) {
	var last error
	for attempt := 0; attempt < f.attempts; attempt++ {
		if attempt > 0 {
			wait := f.pause << (attempt - 1)
			var se *statusError
			if errors.As(last, &se) && se.after > 0 {
				wait = min(se.after, 30*time.Second)
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(wait):
			}
		}
		body, retry, err := f.once(ctx, path, max)
		if err == nil || !retry {
			return body, err
		}
		last = err
	}
	return nil, last
}

// statusError is an answer of the log worth trying again: 429 or 5xx.
type statusError struct {
	path   string
	code   int
	status string
	after  time.Duration // Retry-After
}

func (e *statusError) Error() string { return e.status }

// serverFailed returns the path the log answered with a server error
// (5xx), when that is what err is.
func serverFailed(err error) (string, bool) {
	var se *statusError
	if errors.As(err, &se) && se.code >= 500 {
		return se.path, true
	}
	return "", false
}

func (f *fetcher) once(ctx context.Context, path string, max int64) (body []byte, retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.base+path, nil)
	if err != nil {
		return nil, false, err
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		return nil, ctx.Err() == nil, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, false, fmt.Errorf("GET %s: %w", path, errNotFound)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return nil, true, fmt.Errorf("GET %s: %w", path, &statusError{path, resp.StatusCode, resp.Status, time.Duration(secs) * time.Second})
	case resp.StatusCode != http.StatusOK:
		return nil, false, fmt.Errorf("GET %s: %w: %s", path, errRefused, resp.Status)
	}
	body, err = readBody(resp, max)
	if err != nil {
		return nil, true, fmt.Errorf("GET %s: %w", path, err)
	}
	if int64(len(body)) > max {
		return nil, false, fmt.Errorf("GET %s: %w: more than %d bytes", path, errTooLarge, max)
	}
	return body, false, nil
}

// readBody reads up to max+1 bytes of resp's body into a buffer sized
// for the body announced, or for max when it is small (a record, whose
// size the statement gives), so that it is read without growing.
func readBody(resp *http.Response, max int64) ([]byte, error) {
	size := min(max, 64<<10)
	if n := resp.ContentLength; n >= 0 && n <= max {
		size = n
	}
	buf := make([]byte, 0, size+1)
	r := io.LimitReader(resp.Body, max+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// capTransport refuses response bodies larger than max: torchwood's
// TileFetcher reads whatever it is sent.
type capTransport struct {
	rt  http.RoundTripper
	max int64
}

func (t capTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &cappedBody{ReadCloser: resp.Body, left: t.max}
	return resp, nil
}

type cappedBody struct {
	io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		if n, _ := b.ReadCloser.Read(one[:]); n > 0 {
			return 0, errors.New("audit: answer too large")
		}
		return b.ReadCloser.Read(p)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}
