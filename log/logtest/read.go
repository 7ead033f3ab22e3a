package logtest

import (
	"context"
	"io"
	"net/http"
	"testing"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
)

// ReadAll reads the log at base as any tlog-tiles client would, with
// torchwood's client, which checks every tile against the checkpoint's
// tree hash. It returns the checkpoint (signed by v) and every entry.
func ReadAll(t testing.TB, base string, v note.Verifier) (torchwood.Checkpoint, [][]byte) {
	t.Helper()
	resp, err := http.Get(base + "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(raw, note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := torchwood.ParseCheckpoint(n.Text)
	if err != nil {
		t.Fatal(err)
	}
	f, err := torchwood.NewTileFetcher(base)
	if err != nil {
		t.Fatal(err)
	}
	c, err := torchwood.NewClient(f)
	if err != nil {
		t.Fatal(err)
	}
	// Entries may stop before a trailing partial tile: resume until done.
	var out [][]byte
	for int64(len(out)) < cp.N {
		before := len(out)
		for i, e := range c.Entries(context.Background(), cp.Tree, int64(len(out))) {
			if i != int64(len(out)) {
				t.Fatalf("entry %d out of order", i)
			}
			out = append(out, e)
		}
		if err := c.Err(); err != nil {
			t.Fatal(err)
		}
		if len(out) == before {
			t.Fatalf("the log's entries stop at %d of %d", before, cp.N)
		}
	}
	return cp, out
}
