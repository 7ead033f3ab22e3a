package audit

import (
	"crypto/rand"
	"encoding/json"
	"slices"
	"testing"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func FuzzParseLookup(f *testing.F) {
	for _, s := range []string{
		`{"tree_size": 3, "indices": [0, 2]}`,
		`{"tree_size":0,"indices":[]}`,
		`{"tree_size": 3, "indices": [3]}`,
		`{"tree_size": 3}`,
		`{"tree_size": -1, "indices": []}`,
		`{"tree_size": 3, "indices": [1]} {}`,
		`{"tree_size": 3, "indices": [1], "checkpoint": "x"}`,
		`[]`, ``, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ans, err := parseLookup(body)
		if err != nil {
			return
		}
		for _, i := range ans.Indices {
			if i < 0 || i >= ans.TreeSize {
				t.Fatalf("index %d accepted in a tree of %d", i, ans.TreeSize)
			}
		}
		// What was accepted reads back the same.
		again, err := json.Marshal(map[string]any{"tree_size": ans.TreeSize, "indices": ans.Indices})
		if err != nil {
			t.Fatal(err)
		}
		ans2, err := parseLookup(again)
		if err != nil || ans2.TreeSize != ans.TreeSize || !slices.Equal(ans2.Indices, ans.Indices) {
			t.Fatalf("%s reads back as %+v, %v", again, ans2, err)
		}
	})
}

func TestParseLookup(t *testing.T) {
	for body, ok := range map[string]bool{
		`{"tree_size": 3, "indices": [0, 2]}`:                 true,
		`{"tree_size": 0, "indices": []}`:                     true,
		`{"tree_size": 3, "indices": [1], "checkpoint": "x"}`: true,
		`{"tree_size": 3, "indices": [3]}`:                    false,
		`{"tree_size": 3}`:                                    false,
		`{"indices": []}`:                                     false,
		`{"tree_size": 3, "indices": null}`:                   false,
		`{"tree_size": -1, "indices": []}`:                    false,
		`{"tree_size": 3, "indices": [-1]}`:                   false,
		`{"tree_size": 3, "indices": [1.5]}`:                  false,
		`{"tree_size": 3, "indices": [1]} {}`:                 false,
		`{"tree_size": 99999999999999999999, "indices": []}`:  false,
		`{"tree_size": 3, "indices": [1]`:                     false,
		``:                                                    false,
	} {
		if _, err := parseLookup([]byte(body)); (err == nil) != ok {
			t.Errorf("parseLookup(%s): %v", body, err)
		}
	}
}

func FuzzOpenCheckpoint(f *testing.F) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "example.org/log")
	if err != nil {
		f.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	for _, text := range []string{
		torchwood.Checkpoint{Origin: "example.org/log", Tree: tlog.Tree{N: 5}}.String(),
		torchwood.Checkpoint{Origin: "example.org/other", Tree: tlog.Tree{N: 5}}.String(),
		"example.org/log\n5\n\n",
		"example.org/log\n05\nAAAA\n",
	} {
		signed, err := note.Sign(&note.Note{Text: text}, signer)
		if err == nil {
			f.Add(signed)
		}
	}
	f.Fuzz(func(t *testing.T, signed []byte) {
		tree, err := openCheckpoint(signed, v)
		if err != nil {
			return
		}
		n, err := note.Open(signed, note.VerifierList(v))
		if err != nil {
			t.Fatalf("accepted a note that does not verify: %v", err)
		}
		c, err := torchwood.ParseCheckpoint(n.Text)
		if err != nil || c.Tree != tree || c.Origin != v.Name() {
			t.Fatalf("accepted %q as %v", n.Text, tree)
		}
	})
}
