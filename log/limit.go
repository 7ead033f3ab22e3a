package log

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter bounds how fast each key (a builder, or a client address) may
// do something, so that one flood cannot crowd out the others. Idle, full
// buckets are forgotten.
type limiter struct {
	rate  rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	l    *rate.Limiter
	used time.Time
}

func newLimiter(perSecond float64, burst int) *limiter {
	if perSecond <= 0 {
		return nil
	}
	return &limiter{rate: rate.Limit(perSecond), burst: max(burst, 1), buckets: map[string]*bucket{}}
}

// allow reports whether key may submit now, and if not, how long to wait.
func (l *limiter) allow(key string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.bucket(key, now).l.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// empty reports whether key has used up its bucket, and if so, how long
// until it may come back; it takes nothing from the bucket.
func (l *limiter) empty(key string) (bool, time.Duration) {
	if l == nil {
		return false, 0
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		return false, 0
	}
	if tokens := b.l.TokensAt(now); tokens < 1 {
		return true, time.Duration((1 - tokens) / float64(l.rate) * float64(time.Second))
	}
	return false, 0
}

// take takes one from key's bucket, if it holds any.
func (l *limiter) take(key string) {
	if l == nil {
		return
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bucket(key, now).l.AllowN(now, 1)
}

// bucket returns key's bucket, forgetting idle ones; l.mu is held.
func (l *limiter) bucket(key string, now time.Time) *bucket {
	if now.Sub(l.swept) > time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.used) > time.Minute && b.l.TokensAt(now) >= float64(l.burst) {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{l: rate.NewLimiter(l.rate, l.burst)}
		l.buckets[key] = b
	}
	b.used = now
	return b
}

// clientKey names the client of a request for the limit on failed
// submissions: its IPv4 address, or the /64 network of its IPv6 address
// (one host usually holds a whole /64).
func clientKey(remoteAddr string) string {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	a := ap.Addr().Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}
