package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprolog/reprolog/internal/testbin"
	"github.com/reprolog/reprolog/pgp/pgptest"
)

// TestSlowClients opens slowloris connections to the real server, some
// trickling their headers and some their body, a byte at a time: the
// server cuts each off once its read timeout passes, and while they hang
// on it goes on serving others, which submit and read the log.
func TestSlowClients(t *testing.T) {
	if testing.Short() {
		t.Skip("holds slow connections for seconds")
	}
	srv := testbin.StartServer(t, t.TempDir(), "--read-header-timeout", "1s", "--read-timeout", "2s")
	host := strings.TrimPrefix(srv.URL, "http://")
	signer := pgptest.NewSigner(t, "rebuilder")
	if code, body := postTo(srv.URL+"/keys", signer.PublicArmored()); code != http.StatusCreated {
		t.Fatalf("registering: %d %s", code, body)
	}
	text, err := os.ReadFile("../../buildinfo/testdata/gen_local_rbtest_0.1_amd64.build1.buildinfo")
	if err != nil {
		t.Fatal(err)
	}
	slowRecord := signer.ClearSign(t, bytes.Replace(text, []byte("Version: 0.1"), []byte("Version: 0.1+slow"), 1))

	// trickle writes head at once, then rest a byte every 100ms, and
	// returns what the server answered and how long until it hung up.
	trickle := func(head, rest string) (answer string, held time.Duration, err error) {
		c, err := net.Dial("tcp", host)
		if err != nil {
			return "", 0, err
		}
		defer c.Close()
		start := time.Now()
		if _, err := c.Write([]byte(head)); err != nil {
			return "", 0, err
		}
		cut := make(chan struct{})
		var got bytes.Buffer
		go func() {
			defer close(cut)
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			got.ReadFrom(c) // until the server closes the connection
		}()
		for i := 0; i < len(rest); i++ {
			select {
			case <-cut:
				return got.String(), time.Since(start), nil
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := c.Write([]byte{rest[i]}); err != nil {
				break
			}
		}
		<-cut
		return got.String(), time.Since(start), nil
	}

	type result struct {
		kind   string
		answer string
		held   time.Duration
		err    error
	}
	results := make(chan result, 60)
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			a, d, err := trickle("", "GET /checkpoint HTTP/1.1\r\nHost: "+host+"\r\nX-Slow: "+strings.Repeat("a", 200)+"\r\n\r\n")
			results <- result{"headers", a, d, err}
		})
		wg.Go(func() {
			head := fmt.Sprintf("POST /add HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n", host, len(slowRecord))
			a, d, err := trickle(head, string(slowRecord))
			results <- result{"body", a, d, err}
		})
	}

	// Meanwhile the server serves everyone else.
	time.Sleep(300 * time.Millisecond)
	for i := range 5 {
		rec := signer.ClearSign(t, bytes.Replace(text, []byte("Version: 0.1"), fmt.Appendf(nil, "Version: 0.1+fast%d", i), 1))
		if code, body := postTo(srv.URL+"/add", rec); code != http.StatusCreated {
			t.Errorf("a submission while slow clients hang on: %d %s", code, body)
		}
		if code, _ := getFrom(srv.URL + "/checkpoint"); code != http.StatusOK {
			t.Errorf("GET /checkpoint while slow clients hang on: %d", code)
		}
	}
	wg.Wait()
	close(results)
	longest := map[string]time.Duration{}
	defer func() { t.Logf("longest held: %v", longest) }()
	for r := range results {
		longest[r.kind] = max(longest[r.kind], r.held)
		switch {
		case r.err != nil:
			t.Errorf("%s: %v", r.kind, r.err)
		case r.held > 10*time.Second:
			t.Errorf("a client trickling its %s was held %v", r.kind, r.held)
		case r.kind == "body" && r.answer != "" && !strings.Contains(r.answer, "400 Bad Request"):
			t.Errorf("a client trickling its body was answered %q", r.answer)
		}
	}
	// Nothing of the slow submissions reached the log.
	if code, _ := getFrom(srv.URL + "/record/" + sha256Hex(slowRecord)); code != http.StatusNotFound {
		t.Errorf("the slow record is in the log: %d", code)
	}
	if code, body := getFrom(srv.URL + "/lookup?source=rbtest&version=" + url.QueryEscape("0.1+slow")); code != http.StatusOK || !bytes.Contains(body, []byte(`"indices":[]`)) {
		t.Errorf("lookup of the slow record: %d %s", code, body)
	}
}
