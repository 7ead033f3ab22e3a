package log

import "testing"

func TestClientKey(t *testing.T) {
	for _, tt := range []struct{ a, b string }{
		{"127.0.0.1:1000", "127.0.0.1:2000"},
		{"127.0.0.1:1000", "[::ffff:127.0.0.1]:3"},
		{"[2001:db8:1:2::1]:443", "[2001:db8:1:2:ffff::9]:80"}, // one /64
	} {
		if clientKey(tt.a) != clientKey(tt.b) {
			t.Errorf("%s and %s are different clients (%s, %s)", tt.a, tt.b, clientKey(tt.a), clientKey(tt.b))
		}
	}
	for _, tt := range []struct{ a, b string }{
		{"127.0.0.1:1000", "127.0.0.2:1000"},
		{"[2001:db8:1:2::1]:443", "[2001:db8:1:3::1]:443"},
	} {
		if clientKey(tt.a) == clientKey(tt.b) {
			t.Errorf("%s and %s are one client (%s)", tt.a, tt.b, clientKey(tt.a))
		}
	}
}

// TestFailureLimiter: empty takes nothing; take empties the bucket.
func TestFailureLimiter(t *testing.T) {
	l := newLimiter(0.001, 2)
	for range 3 {
		if blocked, _ := l.empty("a"); blocked {
			t.Fatal("blocked before any failure")
		}
	}
	l.take("a")
	l.take("a")
	if blocked, wait := l.empty("a"); !blocked || wait <= 0 {
		t.Errorf("not blocked after the burst (wait %v)", wait)
	}
	if blocked, _ := l.empty("b"); blocked {
		t.Error("another client is blocked")
	}
	var off *limiter
	off.take("a")
	if blocked, _ := off.empty("a"); blocked {
		t.Error("no limit blocks")
	}
}
