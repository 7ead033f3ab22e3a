package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"filippo.io/torchwood"

	"github.com/reprolog/reprolog/buildinfo"
	"github.com/reprolog/reprolog/pgp"
)

// Size limits of what the log sends.
const (
	maxCheckpointSize = 1_000_000
	maxLookupSize     = 8 << 20
	maxHashTileSize   = 32 << torchwood.TileHeight
	maxEntryTileSize  = (2 + 65535) << torchwood.TileHeight
)

// logClient reads the log's HTTP API. Every request is bounded by the
// policy's Timeout and every body by a size limit.
type logClient struct {
	base    string
	http    *http.Client
	tiles   *torchwood.TileFetcher
	timeout time.Duration
}

func newLogClient(p *Policy) (*logClient, error) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 16
	hc := &http.Client{Transport: limitTransport{transport}, Timeout: p.Timeout}
	tiles, err := torchwood.NewTileFetcher(p.LogURL, torchwood.WithHTTPClient(hc),
		torchwood.WithUserAgent("reprolog"), torchwood.WithConcurrencyLimit(8))
	if err != nil {
		return nil, err
	}
	return &logClient{base: p.LogURL, http: hc, tiles: tiles, timeout: p.Timeout}, nil
}

// NewTileFetcher returns a tlog-tiles reader of the policy's log: every
// request bounded by the policy's Timeout, every tile body by the largest
// a tile can be.
func NewTileFetcher(p *Policy) (*torchwood.TileFetcher, error) {
	lc, err := newLogClient(p)
	if err != nil {
		return nil, err
	}
	return lc.tiles, nil
}

// limitTransport caps the bodies of tile responses, which torchwood reads
// whole.
type limitTransport struct{ rt http.RoundTripper }

func (t limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	limit := int64(-1)
	switch p := req.URL.Path; {
	case strings.Contains(p, "/tile/entries/"):
		limit = maxEntryTileSize
	case strings.Contains(p, "/tile/"):
		limit = maxHashTileSize
	}
	if limit >= 0 {
		resp.Body = &limitedBody{rc: resp.Body, left: limit}
	}
	return resp, nil
}

// limitedBody cuts a body after left bytes, the most a tile can be. It ends
// with EOF, not an error, because torchwood retries a failed read until its
// context expires; an oversized tile cut at that size fails torchwood's
// length check, or its check against the tree, at once.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// get fetches path below the log URL; it fails on any status but 200 and
// on bodies larger than max.
func (l *logClient) get(ctx context.Context, path string, max int64) ([]byte, *http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", l.base+"/"+path, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("User-Agent", "reprolog")
	resp, err := l.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, resp, fmt.Errorf("GET /%s: %s", path, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, resp, fmt.Errorf("GET /%s: %w", path, err)
	}
	if int64(len(data)) > max {
		return nil, resp, fmt.Errorf("GET /%s: response larger than %d bytes", path, max)
	}
	return data, resp, nil
}

func (l *logClient) checkpoint(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	data, _, err := l.get(ctx, "checkpoint", maxCheckpointSize)
	return data, err
}

// lookup returns the indices of the statements naming a binary package
// and the tree size the log answered as of. A size above 0 asks the log
// to answer as of at least size, and waits as the log's Retry-After asks
// while the timeout allows; with size 0, the log answers as of the size
// its index has reached.
func (l *logClient) lookup(ctx context.Context, pkg, version, arch string, size int64) (lookupAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	q := url.Values{"package": {pkg}, "version": {buildinfo.StripEpoch(version)}, "arch": {arch}}
	if size > 0 {
		q.Set("tree_size", strconv.FormatInt(size, 10))
	}
	for {
		data, resp, err := l.get(ctx, "lookup?"+q.Encode(), maxLookupSize)
		if resp != nil && resp.StatusCode == http.StatusServiceUnavailable {
			wait := time.Second
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
				wait = time.Duration(s) * time.Second
			}
			select {
			case <-ctx.Done():
				return lookupAnswer{}, fmt.Errorf("lookup of %s %s %s: the log's index did not reach size %d in time: %w",
					pkg, version, arch, size, err)
			case <-time.After(wait):
				continue
			}
		}
		if err != nil {
			return lookupAnswer{}, fmt.Errorf("lookup of %s %s %s: %w", pkg, version, arch, err)
		}
		a, err := parseLookup(data, size)
		if err != nil {
			return lookupAnswer{}, fmt.Errorf("lookup of %s %s %s: %w", pkg, version, arch, err)
		}
		return a, nil
	}
}

// parseLookup reads the log's answer to a lookup asked as of size:
// {"tree_size": N, "indices": [...]} with N at least size and every index
// in the first N entries.
func parseLookup(data []byte, size int64) (lookupAnswer, error) {
	var res struct {
		TreeSize *int64  `json:"tree_size"`
		Indices  []int64 `json:"indices"`
	}
	if err := json.Unmarshal(data, &res); err != nil || res.TreeSize == nil || res.Indices == nil || *res.TreeSize < 0 {
		return lookupAnswer{}, errors.New("malformed answer")
	}
	if *res.TreeSize < size {
		return lookupAnswer{}, fmt.Errorf("answered as of size %d, not %d", *res.TreeSize, size)
	}
	for _, i := range res.Indices {
		if i < 0 {
			return lookupAnswer{}, errors.New("negative index")
		}
		if i >= *res.TreeSize {
			return lookupAnswer{}, fmt.Errorf("index %d outside the tree of size %d it answered for", i, *res.TreeSize)
		}
	}
	return lookupAnswer{size: *res.TreeSize, indices: res.Indices}, nil
}

// lookupAnswer is the log's answer to a lookup.
type lookupAnswer struct {
	size    int64 // the tree size it answered as of
	indices []int64
}

// below returns the indices below size.
func (a lookupAnswer) below(size int64) []int64 {
	var out []int64
	for _, i := range a.indices {
		if i < size {
			out = append(out, i)
		}
	}
	return out
}

// record fetches a record by its SHA-256; the caller checks it.
func (l *logClient) record(ctx context.Context, sha256hex string, size int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	if !buildinfo.ValidSHA256(sha256hex) {
		return nil, fmt.Errorf("bad record hash")
	}
	data, _, err := l.get(ctx, "record/"+sha256hex, min(size, pgp.MaxRecordSize))
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", sha256hex, err)
	}
	return data, nil
}
