package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Sign makes the signed records of entries [from, to) of w, on all cores:
// entry e is build e/len(rebs) signed by rebs[e%len(rebs)].
func Sign(w *World, rebs []*Rebuilder, from, to int) ([][]byte, error) {
	out := make([][]byte, to-from)
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	errs := make(chan error, runtime.GOMAXPROCS(0))
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				e := int(next.Add(1) - 1)
				if e >= to {
					return
				}
				rec, err := rebs[e%len(rebs)].ClearSign(w.Build(e / len(rebs)).Text())
				if err != nil {
					errs <- err
					return
				}
				out[e-from] = rec
			}
		})
	}
	wg.Wait()
	close(errs)
	return out, <-errs
}

// SignedBy lists who signs entries [from, to): entry e is signed by
// rebs[e%len(rebs)].
func SignedBy(rebs []*Rebuilder, from, to int) []*Rebuilder {
	out := make([]*Rebuilder, to-from)
	for e := from; e < to; e++ {
		out[e-from] = rebs[e%len(rebs)]
	}
	return out
}

// Register registers the rebuilders' keys with the log at url.
func Register(ctx context.Context, url string, rebs []*Rebuilder) error {
	for _, r := range rebs {
		req, _ := http.NewRequestWithContext(ctx, "POST", url+"/keys", bytes.NewReader(r.PublicArmored()))
		req.Header.Set("Content-Type", "application/pgp-keys")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
			return fmt.Errorf("registering %s: %s %s", r.Name, resp.Status, b)
		}
	}
	return nil
}

// Rate is a measured throughput.
type Rate struct {
	N        int
	Elapsed  time.Duration
	P50, P99 time.Duration // per operation, where measured
	Retries  int           // answers that asked to retry (503, 429)
}

// PerSecond is N per second of Elapsed.
func (r Rate) PerSecond() float64 { return float64(r.N) / r.Elapsed.Seconds() }

// Submit posts every record to url/add from `workers` concurrent
// submitters, each waiting for its answer (the entry's index under a
// published checkpoint) before its next record, and retrying when the log
// pushes back.
func Submit(ctx context.Context, url string, records [][]byte, workers int) (Rate, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}}
	defer client.CloseIdleConnections()
	lat := make([]time.Duration, len(records))
	var next atomic.Int64
	var retries atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(records) || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				n, err := submitOne(ctx, client, url, records[i])
				retries.Add(int64(n))
				if err != nil {
					errs <- fmt.Errorf("record %d: %w", i, err)
					return
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return Rate{}, err
	}
	slices.Sort(lat)
	return Rate{N: len(records), Elapsed: elapsed, P50: percentile(lat, 50), P99: percentile(lat, 99),
		Retries: int(retries.Load())}, nil
}

// submitOne posts one record until the log takes it; it returns how many
// times the log asked to retry.
func submitOne(ctx context.Context, client *http.Client, url string, record []byte) (int, error) {
	for retries := 0; ; retries++ {
		req, err := http.NewRequestWithContext(ctx, "POST", url+"/add", bytes.NewReader(record))
		if err != nil {
			return retries, err
		}
		req.Header.Set("Content-Type", "text/plain")
		resp, err := client.Do(req)
		if err != nil {
			return retries, err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusCreated, http.StatusOK:
			var res struct{ Index *uint64 }
			if err := json.Unmarshal(body, &res); err != nil || res.Index == nil {
				return retries, fmt.Errorf("answer without an index: %s", body)
			}
			return retries, nil
		case http.StatusServiceUnavailable, http.StatusTooManyRequests:
			wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			select {
			case <-ctx.Done():
				return retries, ctx.Err()
			case <-time.After(time.Duration(max(wait, 1)) * time.Second):
			}
		default:
			return retries, fmt.Errorf("%s: %s", resp.Status, body)
		}
	}
}

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, len(sorted)*p/100)]
}
