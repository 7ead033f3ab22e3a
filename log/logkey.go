package log

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/reprolog/reprolog/internal/atomicfile"
)

// Key file names in the data directory.
const (
	SignerKeyFile   = "log.key" // note signer key, mode 0600
	VerifierKeyFile = "log.pub" // note verifier key (vkey), printed at start
)

// LoadOrCreateKey returns the log's checkpoint signer, stored in dir. On
// first use it creates an Ed25519 key named origin. An empty origin means
// "whatever the directory holds", or defaultOrigin for a new directory. It
// refuses a directory whose key has another origin than the one asked for,
// or whose verifier key file does not match its signer key.
func LoadOrCreateKey(dir, origin, defaultOrigin string) (note.Signer, string, error) {
	skeyPath := filepath.Join(dir, SignerKeyFile)
	vkeyPath := filepath.Join(dir, VerifierKeyFile)
	skey, err := os.ReadFile(skeyPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if origin == "" {
			origin = defaultOrigin
		}
		return createKey(skeyPath, vkeyPath, origin)
	case err != nil:
		return nil, "", err
	}
	signer, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		return nil, "", fmt.Errorf("%s: not a signer key: %v", skeyPath, err)
	}
	if origin != "" && origin != signer.Name() {
		return nil, "", fmt.Errorf("%s holds the log %q, not %q: use another data directory, or leave --origin out", dir, signer.Name(), origin)
	}
	vkey, err := os.ReadFile(vkeyPath)
	if err != nil {
		return nil, "", err
	}
	if err := matchKeys(signer, strings.TrimSpace(string(vkey))); err != nil {
		return nil, "", fmt.Errorf("%s does not match %s: %v", vkeyPath, skeyPath, err)
	}
	return signer, strings.TrimSpace(string(vkey)), nil
}

// matchKeys checks that vkey verifies what signer signs.
func matchKeys(signer note.Signer, vkey string) error {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return err
	}
	msg, err := note.Sign(&note.Note{Text: "reprolog key check\n"}, signer)
	if err != nil {
		return err
	}
	_, err = note.Open(msg, note.VerifierList(v))
	return err
}

func createKey(skeyPath, vkeyPath, origin string) (note.Signer, string, error) {
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return nil, "", fmt.Errorf("log origin %q: %v", origin, err)
	}
	if err := atomicfile.Write(vkeyPath, []byte(vkey+"\n"), 0o644); err != nil {
		return nil, "", err
	}
	// The signer key is written last: its presence marks a complete key.
	if err := atomicfile.Write(skeyPath, []byte(skey+"\n"), 0o600); err != nil {
		return nil, "", err
	}
	signer, err := note.NewSigner(skey)
	return signer, vkey, err
}
