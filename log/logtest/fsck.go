package logtest

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	tclient "github.com/transparency-dev/tessera/client"
	"github.com/transparency-dev/tessera/fsck"
	"golang.org/x/mod/sumdb/note"
)

// Fsck re-verifies the whole log at base from scratch with Tessera's fsck:
// every entry bundle and tile is fetched over HTTP and the tree is derived
// again up to the checkpoint, which v must have signed.
func Fsck(t testing.TB, base string, v note.Verifier) {
	t.Helper()
	u, err := url.Parse(strings.TrimSuffix(base, "/") + "/")
	if err != nil {
		t.Fatal(err)
	}
	fetcher, err := tclient.NewHTTPFetcher(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := fsck.New(v.Name(), v, fetcher, leafHashes, fsck.Opts{N: 2}).Check(context.Background()); err != nil {
		t.Fatalf("fsck: %v", err)
	}
}

// leafHashes is fsck's view of an entry bundle: the Merkle leaf hash of
// each entry.
func leafHashes(bundle []byte) ([][]byte, error) {
	var b api.EntryBundle
	if err := b.UnmarshalText(bundle); err != nil {
		return nil, err
	}
	out := make([][]byte, len(b.Entries))
	for i, e := range b.Entries {
		out[i] = rfc6962.DefaultHasher.HashLeaf(e)
	}
	return out, nil
}
