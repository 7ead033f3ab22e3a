package witness_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"filippo.io/torchwood"
	"github.com/reprolog/reprolog/witness"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// A log gets a checkpoint cosigned by a witness, and a client checks it
// against its policy.
func ExamplePolicy_Verify() {
	check := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	dir, err := os.MkdirTemp("", "witness-example")
	check(err)
	defer os.RemoveAll(dir)

	// The log's key, and the witness's key and server.
	logSKey, logVKey, err := note.GenerateKey(rand.Reader, "example.com/log")
	check(err)
	cosigner, err := witness.GenerateKey(filepath.Join(dir, "witness.key"), "example.com/witness")
	check(err)
	policy, err := witness.ParsePolicy([]byte(
		"log " + logVKey + "\n" +
			"witness w1 " + cosigner.Verifier().String() + "\n" +
			"quorum w1\n"))
	check(err)
	w, err := witness.New(witness.Config{Signer: cosigner, Logs: policy.Logs(), DB: filepath.Join(dir, "witness.db")})
	check(err)
	defer w.Close()
	srv := httptest.NewServer(w)
	defer srv.Close()

	// The log signs a checkpoint of its one-entry tree and asks the witness
	// to cosign it (old size 0: the witness has seen nothing yet).
	logSigner, err := note.NewSigner(logSKey)
	check(err)
	text := torchwood.Checkpoint{Origin: "example.com/log", Tree: tlog.Tree{N: 1, Hash: tlog.RecordHash([]byte("hello"))}}.String()
	checkpoint, err := note.Sign(&note.Note{Text: text}, logSigner)
	check(err)
	resp, err := http.Post(srv.URL+"/add-checkpoint", "text/plain", bytes.NewReader(append([]byte("old 0\n\n"), checkpoint...)))
	check(err)
	cosignature, err := io.ReadAll(resp.Body)
	check(err)
	resp.Body.Close()

	// A client verifies the cosigned checkpoint against its policy.
	witnessed, err := policy.Verify(append(checkpoint, cosignature...), nil)
	check(err)
	fmt.Println(resp.StatusCode, witnessed.Checkpoint.N, witnessed.Cosignatures[0].Witness, time.Since(witnessed.Oldest) < time.Hour)
	// Output: 200 1 w1 true
}
