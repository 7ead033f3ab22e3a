package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/reprolog/reprolog/internal/testbin"
	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/pgp/pgptest"
)

// TestMaxPending floods a server started with --max-pending 2 and a slow
// checkpoint: it pushes back with 503 and Retry-After, and a refused
// record leaves nothing behind: the log holds exactly the acknowledged
// entries, each at its index, and no refused record is served.
func TestMaxPending(t *testing.T) {
	srv := testbin.StartServer(t, t.TempDir(), "--max-pending", "2", "--rate-limit", "0", "--checkpoint-interval", "1s")
	v, err := note.NewVerifier(srv.VKey)
	if err != nil {
		t.Fatal(err)
	}
	signer := pgptest.NewSigner(t, "rebuilder")
	if code, body := postTo(srv.URL+"/keys", signer.PublicArmored()); code != http.StatusCreated {
		t.Fatalf("registering: %d %s", code, body)
	}
	text, err := os.ReadFile("../../buildinfo/testdata/gen_local_rbtest_0.1_amd64.build1.buildinfo")
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		record []byte
		code   int
		body   []byte
		retry  string
	}
	var outcomes []outcome
	refused := 0
	// Waves of 16 submissions at once, until the log has pushed back.
	for wave := 0; wave < 20 && refused == 0; wave++ {
		batch := make([]outcome, 16)
		var wg sync.WaitGroup
		for i := range batch {
			batch[i].record = signer.ClearSign(t, bytes.Replace(text, []byte("Version: 0.1"), []byte(fmt.Sprintf("Version: 0.1+w%dn%d", wave, i)), 1))
			wg.Go(func() {
				resp, err := http.Post(srv.URL+"/add", "text/plain", bytes.NewReader(batch[i].record))
				if err != nil {
					t.Error(err)
					return
				}
				defer resp.Body.Close()
				var b bytes.Buffer
				b.ReadFrom(resp.Body)
				batch[i].code, batch[i].body, batch[i].retry = resp.StatusCode, b.Bytes(), resp.Header.Get("Retry-After")
			})
		}
		wg.Wait()
		for _, o := range batch {
			switch o.code {
			case http.StatusCreated:
			case http.StatusServiceUnavailable:
				refused++
				if o.retry == "" || !strings.Contains(string(o.body), "busy") {
					t.Errorf("503 without Retry-After or reason: %q %s", o.retry, o.body)
				}
			default:
				t.Fatalf("%d %s", o.code, o.body)
			}
		}
		outcomes = append(outcomes, batch...)
	}
	if refused == 0 {
		t.Fatalf("%d submissions at once, 16 at a time, with --max-pending 2: never pushed back", len(outcomes))
	}

	// One more, alone: its checkpoint covers everything sequenced before.
	last := signer.ClearSign(t, bytes.Replace(text, []byte("Version: 0.1"), []byte("Version: 0.1+last"), 1))
	if code, body := postTo(srv.URL+"/add", last); code != http.StatusCreated {
		t.Fatalf("after the flood: %d %s", code, body)
	}
	_, entries := logtest.ReadAll(t, srv.URL, v)
	if want := len(outcomes) - refused + 1; len(entries) != want {
		t.Errorf("the log holds %d entries; %d were acknowledged", len(entries), want)
	}
	for _, o := range outcomes {
		sha := sha256Hex(o.record)
		code, _ := getFrom(srv.URL + "/record/" + sha)
		if o.code != http.StatusCreated {
			if code != http.StatusNotFound {
				t.Errorf("refused record %s is served (%d)", sha, code)
			}
			continue
		}
		var res struct {
			Index     uint64
			Statement string
		}
		if err := json.Unmarshal(o.body, &res); err != nil {
			t.Fatal(err)
		}
		if res.Index >= uint64(len(entries)) || string(entries[res.Index]) != res.Statement || code != http.StatusOK {
			t.Errorf("acknowledged record %s is not at its index %d (record served: %d)", sha, res.Index, code)
		}
	}
	t.Logf("%d submissions, %d refused with 503", len(outcomes), refused)
}
