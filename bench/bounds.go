package bench

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/transparency-dev/tessera"
	"golang.org/x/mod/sumdb/note"

	"github.com/reprolog/reprolog/buildinfo"
	"github.com/reprolog/reprolog/pgp"
	"github.com/reprolog/reprolog/statement"
)

// Statements derives the statement of each record, record i signed by
// by[i], as the log does.
func Statements(records [][]byte, by []*Rebuilder) ([][]byte, error) {
	keys, err := parseKeys(by)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(records))
	for i, rec := range records {
		signed, err := pgp.ParseClearsigned(rec)
		if err != nil {
			return nil, err
		}
		key := keys[i]
		if err := signed.Verify(key, time.Now()); err != nil {
			return nil, fmt.Errorf("record %d: %v", i, err)
		}
		b, err := buildinfo.Parse(signed.Text)
		if err != nil {
			return nil, fmt.Errorf("record %d: %v", i, err)
		}
		st, err := statement.Derive(b, key.Fingerprint(), rec)
		if err != nil {
			return nil, err
		}
		out[i] = st.Marshal()
	}
	return out, nil
}

// parseKeys parses each rebuilder's public key once.
func parseKeys(by []*Rebuilder) ([]*pgp.Key, error) {
	parsed := map[*Rebuilder]*pgp.Key{}
	keys := make([]*pgp.Key, len(by))
	for i, r := range by {
		if parsed[r] == nil {
			k, err := pgp.ParseKey(r.PublicArmored(), time.Now())
			if err != nil {
				return nil, err
			}
			parsed[r] = k
		}
		keys[i] = parsed[r]
	}
	return keys, nil
}

// VerifyAlone verifies the OpenPGP signature of each record (parsing the
// clear-signed text and checking the signature with its rebuilder's key,
// record i signed by by[i]) on all cores, and nothing else.
func VerifyAlone(records [][]byte, by []*Rebuilder) (Rate, error) {
	keys, err := parseKeys(by)
	if err != nil {
		return Rate{}, err
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, runtime.GOMAXPROCS(0))
	start := time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(records) {
					return
				}
				signed, err := pgp.ParseClearsigned(records[i])
				if err == nil {
					err = signed.Verify(keys[i], time.Now())
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	return Rate{N: len(records), Elapsed: elapsed}, <-errs
}

// TesseraAlone appends the entries to a Tessera log on driver, from
// `workers` concurrent appenders that each wait, as the log server does,
// until a published checkpoint covers their entry; with the server's
// options (signer, checkpoint interval, in-memory antispam).
func TesseraAlone(ctx context.Context, driver tessera.Driver, signer note.Signer, interval time.Duration, entries [][]byte, workers int) (Rate, error) {
	opts := tessera.NewAppendOptions().
		WithCheckpointSigner(signer).
		WithCheckpointInterval(interval).
		WithAntispam(tessera.DefaultAntispamInMemorySize, nil)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	appender, shutdown, reader, err := tessera.NewAppender(runCtx, driver, opts)
	if err != nil {
		return Rate{}, err
	}
	awaiter := tessera.NewPublicationAwaiter(runCtx, reader.ReadCheckpoint, 25*time.Millisecond)
	lat := make([]time.Duration, len(entries))
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(entries) {
					return
				}
				t0 := time.Now()
				if _, _, err := awaiter.Await(ctx, appender.Add(ctx, tessera.NewEntry(entries[i]))); err != nil {
					errs <- err
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
	sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
	defer scancel()
	if err := shutdown(sctx); err != nil {
		return Rate{}, err
	}
	slices.Sort(lat)
	return Rate{N: len(entries), Elapsed: elapsed, P50: percentile(lat, 50), P99: percentile(lat, 99)}, nil
}
