package installed

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/reprolog/reprolog/client"
)

// Limit is how long the whole decision about n packages may take, from
// the first request to the log to the last: three times the policy's
// Timeout (the checkpoint, the proofs, the lookups and the records, each
// round of requests answering well within one Timeout from a working
// log), plus one Timeout for every 100 packages. Each request is also
// bounded by Timeout on its own.
func Limit(p *client.Policy, n int) time.Duration {
	return p.Timeout * time.Duration(3+n/100)
}

// SlowError is the error of a decision that did not finish within its
// Limit. It counts as Unreachable: the log did not answer in time.
type SlowError struct {
	Limit    time.Duration
	Packages int
}

func (e *SlowError) Error() string {
	return fmt.Sprintf("the log answered too slowly: no decision about %d packages within %s "+
		"(3 times the policy's Timeout, plus one Timeout per 100 packages)", e.Packages, e.Limit)
}

// Timeout reports true: the log did not answer in time.
func (e *SlowError) Timeout() bool { return true }

// withLimit bounds ctx by the Limit of deciding about n packages.
func withLimit(ctx context.Context, p *client.Policy, n int) (context.Context, context.CancelFunc) {
	d := Limit(p, n)
	return context.WithTimeoutCause(ctx, d, &SlowError{Limit: d, Packages: n})
}

// slow returns err, saying first that the decision ran out of its limit
// when that is why it failed.
func slow(ctx context.Context, err error) error {
	var se *SlowError
	if err != nil && ctx.Err() != nil && errors.As(context.Cause(ctx), &se) && !errors.As(err, &se) {
		return fmt.Errorf("%w: %w", se, err)
	}
	return err
}
