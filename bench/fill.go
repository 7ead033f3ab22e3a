package bench

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Fill grows the log at url to entries [from, to) of w: records are
// signed on all cores as they are needed and submitted over HTTP by
// `workers` concurrent submitters, each a real signed record verified by
// the log. progress, when not nil, is called every few seconds with the
// entries submitted so far.
func Fill(ctx context.Context, url string, w *World, rebs []*Rebuilder, from, to, workers int, progress func(done int)) (Rate, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	records := make(chan []byte, 4*workers)
	errs := make(chan error, workers+runtime.GOMAXPROCS(0))
	var next atomic.Int64
	next.Store(int64(from))
	var signers sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		signers.Go(func() {
			for {
				e := int(next.Add(1) - 1)
				if e >= to {
					return
				}
				rec, err := rebs[e%len(rebs)].ClearSign(w.Build(e / len(rebs)).Text())
				if err != nil {
					errs <- err
					cancel()
					return
				}
				select {
				case records <- rec:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	go func() { signers.Wait(); close(records) }()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}}
	defer client.CloseIdleConnections()
	var done atomic.Int64
	var submitters sync.WaitGroup
	start := time.Now()
	for range workers {
		submitters.Go(func() {
			for rec := range records {
				if _, err := submitOne(ctx, client, url, rec); err != nil {
					if ctx.Err() == nil {
						errs <- err
					}
					cancel()
					return
				}
				done.Add(1)
			}
		})
	}
	finished := make(chan struct{})
	go func() { submitters.Wait(); close(finished) }()
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for waiting := true; waiting; {
		select {
		case <-finished:
			waiting = false
		case <-tick.C:
			if progress != nil {
				progress(int(done.Load()))
			}
		}
	}
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return Rate{}, fmt.Errorf("filling the log: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return Rate{}, err
	}
	return Rate{N: int(done.Load()), Elapsed: elapsed}, nil
}
