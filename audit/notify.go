package audit

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// A Notifier passes each finding, once Config.Deliver has taken it, on to
// a second consumer that may be slow or fail, such as an alerting command,
// without holding the audit up. It passes findings on in order; one that
// fails is tried again after a pause that doubles from Backoff up to
// MaxBackoff, and the findings after it wait. What it has passed on is
// recorded in the state under its name, so that a restart neither misses
// nor repeats a finding (but for one being passed on when the process was
// killed: it is passed on again, with the same ID).
type Notifier struct {
	Backoff, MaxBackoff time.Duration

	a      *Auditor
	name   string
	fn     func(context.Context, Finding) error
	wake   chan struct{}
	finish chan struct{}
	tries  int
}

// Notifier returns the notifier of that name, which passes findings on to
// fn. The first time a name is used, it starts after the findings already
// delivered. Call it before Sync and run it (Run) next to Sync.
func (a *Auditor) Notifier(ctx context.Context, name string, fn func(context.Context, Finding) error) (*Notifier, error) {
	n := &Notifier{Backoff: time.Second, MaxBackoff: 5 * time.Minute,
		a: a, name: "notified " + name, fn: fn, wake: make(chan struct{}, 1), finish: make(chan struct{})}
	v, err := a.st.meta(ctx, a.st.db, n.name)
	if err != nil {
		return nil, err
	}
	if v == "" {
		last, err := a.st.delivered(ctx)
		if err != nil {
			return nil, err
		}
		if err := a.st.setMeta(ctx, n.name, last); err != nil {
			return nil, err
		}
	}
	a.notifiers = append(a.notifiers, n)
	return n, nil
}

// Run passes findings on as they are delivered, until ctx is done, or,
// after Finish, until it has passed on every finding delivered or failed
// as many times in a row as Finish says; it returns the last failure
// then.
func (n *Notifier) Run(ctx context.Context) error {
	pause, failures := n.Backoff, 0
	for {
		finishing := false
		select {
		case <-n.finish:
			finishing = true
		default:
		}
		err := n.flush(ctx)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil && finishing:
			return nil
		case err == nil:
			pause, failures = n.Backoff, 0
			select {
			case <-ctx.Done():
			case <-n.wake:
			case <-n.finish:
			}
			continue
		}
		failures++
		if finishing && failures >= n.tries {
			return err
		}
		n.a.log.Warn("passing a finding on failed: trying again", "notifier", n.name, "in", pause, "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
		pause = min(2*pause, n.MaxBackoff)
	}
}

// Finish makes Run return once it has passed on every finding delivered
// so far, or failed tries times in a row.
func (n *Notifier) Finish(tries int) {
	n.tries = tries
	close(n.finish)
}

// flush passes on the findings delivered and not passed on yet, in order,
// until one fails.
func (n *Notifier) flush(ctx context.Context) error {
	v, err := n.a.st.meta(ctx, n.a.st.db, n.name)
	if err != nil {
		return err
	}
	last, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return fmt.Errorf("audit: %s in the state: %w", n.name, err)
	}
	delivered, err := n.a.st.delivered(ctx)
	if err != nil {
		return err
	}
	fs, err := n.a.st.findings(ctx, last)
	if err != nil {
		return err
	}
	for _, f := range fs {
		if f.ID > delivered {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := n.fn(ctx, f); err != nil {
			return fmt.Errorf("finding %d: %w", f.ID, err)
		}
		if err := n.a.st.setMeta(context.WithoutCancel(ctx), n.name, f.ID); err != nil {
			return err
		}
	}
	return nil
}

// notify wakes the notifiers: findings were delivered.
func (a *Auditor) notify() {
	for _, n := range a.notifiers {
		select {
		case n.wake <- struct{}{}:
		default:
		}
	}
}
