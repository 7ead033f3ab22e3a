package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/reprolog/reprolog/internal/testbin"
	"github.com/reprolog/reprolog/pgp/pgptest"
)

// clientFrom is an HTTP client whose connections come from the loopback
// address ip: another client address, as the server sees it.
func clientFrom(t *testing.T, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c, err := d.Dial("tcp", "127.0.0.1:1")
	if c != nil {
		c.Close()
	}
	if err != nil && strings.Contains(err.Error(), "assign requested address") {
		t.Skipf("cannot send from %s here: %v", ip, err)
	}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

func postFrom(t *testing.T, c *http.Client, url string, body []byte) (int, string, string) {
	t.Helper()
	resp, err := c.Post(url, "text/plain", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("Retry-After")
}

// TestJunkFlood: a client address that keeps sending what the log refuses
// is pushed back with 429 and Retry-After after --failure-burst refusals,
// for submissions and key registrations alike, while a rebuilder at
// another address registers and submits as usual.
func TestJunkFlood(t *testing.T) {
	srv := testbin.StartServer(t, t.TempDir(), "--failure-burst", "5", "--failure-rate", "0.001")
	flooder := clientFrom(t, "127.0.0.2")
	text := rbtestText(t)
	stranger := pgptest.NewSigner(t, "stranger")
	junk := [][]byte{
		text,                        // unsigned
		stranger.ClearSign(t, text), // unknown key
		bytes.Repeat([]byte{0xff}, 1000),
		[]byte("-----BEGIN PGP SIGNED MESSAGE-----\n"),
	}
	refused, limited := 0, 0
	for i := range 20 {
		code, body, retry := postFrom(t, flooder, srv.URL+"/add", junk[i%len(junk)])
		switch code {
		case http.StatusBadRequest, http.StatusForbidden:
			refused++
			if limited > 0 {
				t.Errorf("submission %d was checked after the address was pushed back: %d %s", i, code, body)
			}
		case http.StatusTooManyRequests:
			limited++
			if retry == "" || !strings.Contains(body, "too many refused requests") {
				t.Errorf("429 without Retry-After or reason: %q %s", retry, body)
			}
		default:
			t.Fatalf("junk submission %d: %d %s", i, code, body)
		}
	}
	if refused != 5 || limited != 15 {
		t.Errorf("%d junk submissions refused and %d pushed back, want 5 and 15", refused, limited)
	}
	if code, body, _ := postFrom(t, flooder, srv.URL+"/keys", []byte("not a key\n")); code != http.StatusTooManyRequests {
		t.Errorf("a key registration from the flooding address: %d %s", code, body)
	}

	// A rebuilder at another address is not affected.
	good := pgptest.NewSigner(t, "rebuilder")
	if code, body := postTo(srv.URL+"/keys", good.PublicArmored()); code != http.StatusCreated {
		t.Fatalf("registering from another address: %d %s", code, body)
	}
	if code, body := postTo(srv.URL+"/add", good.ClearSign(t, text)); code != http.StatusCreated {
		t.Fatalf("submitting from another address: %d %s", code, body)
	}
}
