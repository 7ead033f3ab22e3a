package witness

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"

	"github.com/reprolog/reprolog/internal/atomicfile"
)

// A witness key file holds one line: an Ed25519 signed-note signer key,
//
//	PRIVATE+KEY+<name>+<key hash>+<base64(0x01 || 32-byte seed)>
//
// as note.GenerateKey writes it. The witness signs tlog-cosignature/v1 with
// it, so its verifier key has signature type 0x04 (see VerifierKey).

// GenerateKey creates a new Ed25519 cosigning key named name (a schema-less
// URL such as "witness.example/w1"), writes it to path with mode 0600, and
// returns the signer. It fails if path exists.
func GenerateKey(path, name string) (*torchwood.CosignatureSigner, error) {
	skey, _, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return nil, fmt.Errorf("witness: generating key named %q: %w", name, err)
	}
	s, err := signerFromSKey(skey)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("witness: creating key file: %w", err)
	}
	_, err = f.WriteString(skey + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = atomicfile.SyncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("witness: writing key file: %w", err)
	}
	return s, nil
}

// LoadKey reads a key file written by GenerateKey. It refuses a file that
// others can read or write, and any content that is not exactly one valid
// Ed25519 signer key.
func LoadKey(path string) (*torchwood.CosignatureSigner, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("witness: reading key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("witness: key file %s has mode %04o: it must not be accessible to others (chmod 600)", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("witness: reading key: %w", err)
	}
	skey, ok := strings.CutSuffix(string(b), "\n")
	if !ok || strings.ContainsAny(skey, "\n\r") {
		return nil, fmt.Errorf("witness: key file %s is corrupt: want one line", path)
	}
	s, err := signerFromSKey(skey)
	if err != nil {
		return nil, fmt.Errorf("witness: key file %s is corrupt: %w", path, err)
	}
	return s, nil
}

func signerFromSKey(skey string) (*torchwood.CosignatureSigner, error) {
	// NewVerifierFromSigner checks the format, the algorithm, the key
	// length and that the key hash matches the name and key.
	if _, err := torchwood.NewVerifierFromSigner(skey); err != nil {
		return nil, err
	}
	parts := strings.SplitN(skey, "+", 5)
	key, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(key) != 1+ed25519.SeedSize {
		return nil, errors.New("malformed signer key")
	}
	return torchwood.NewCosignatureSigner(parts[2], ed25519.NewKeyFromSeed(key[1:]))
}
