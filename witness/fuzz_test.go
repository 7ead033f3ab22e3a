package witness

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func FuzzParseAddRequest(f *testing.F) {
	f.Add([]byte("old 0\n\nexample.com/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— example.com/log AAAA\n"))
	f.Add([]byte("old 20852014\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\njrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n\nx\n"))
	f.Add([]byte("old 01\n\nx"))
	f.Add([]byte("old 5\nAAAA\n\nx"))
	f.Add([]byte("\n\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := parseAddRequest(body)
		if err != nil {
			if r != nil {
				t.Fatal("result with an error")
			}
			return
		}
		// Whatever parses re-encodes to the same bytes: the format has one
		// canonical spelling.
		var b bytes.Buffer
		fmt.Fprintf(&b, "old %d\n", r.oldSize)
		for _, h := range r.proof {
			b.WriteString(h.String() + "\n")
		}
		b.WriteString("\n")
		b.Write(r.checkpoint)
		if !bytes.Equal(b.Bytes(), body) {
			t.Fatalf("parsed %q as old=%d proof=%v checkpoint=%q, which re-encodes differently", body, r.oldSize, r.proof, r.checkpoint)
		}
		if r.oldSize < 0 || len(r.proof) > maxProofLines || len(r.checkpoint) == 0 {
			t.Fatalf("out of range: %+v", r)
		}
		for _, h := range r.proof {
			if _, err := tlog.ParseHash(h.String()); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte("quorum none\n"))
	_, logKey, err := note.GenerateKey(rand.Reader, "example.com/log")
	if err != nil {
		f.Fatal(err)
	}
	var wkeys []string
	for _, name := range []string{"w1.example", "w2.example"} {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			f.Fatal(err)
		}
		s, err := torchwood.NewCosignatureSigner(name, k)
		if err != nil {
			f.Fatal(err)
		}
		wkeys = append(wkeys, s.Verifier().String())
	}
	valid := "log " + logKey + " https://l.example/\n" +
		"witness A " + wkeys[0] + "\nwitness B " + wkeys[1] + " http://w2.example/\n" +
		"group G all A B\ngroup H any G\nquorum H\n"
	if _, err := ParsePolicy([]byte(valid)); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(valid))
	f.Add([]byte("# comment\n\tgroup G 2 A B\nquorum G\r\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		p, err := ParsePolicy(text)
		if err != nil {
			if p != nil {
				t.Fatal("policy with an error")
			}
			if !strings.HasPrefix(err.Error(), "policy") {
				t.Fatalf("error %q does not say it is about the policy", err)
			}
			return
		}
		// A parsed policy can be evaluated without panicking.
		if _, err := p.Verify(text, nil); err == nil {
			t.Fatalf("policy text verified as a checkpoint")
		}
		for _, l := range p.Logs() {
			if l.Verifier.Name() != l.Origin {
				t.Fatalf("log %q has verifier %q", l.Origin, l.Verifier.Name())
			}
		}
	})
}
