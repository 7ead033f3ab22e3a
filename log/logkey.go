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

// pendingKeyFile holds a new signer key until its verifier key is
// written: a crash while creating the key leaves it, and the next start
// completes or discards it.
const pendingKeyFile = ".log.key.new"

// LoadOrCreateKey returns the log's checkpoint signer, stored in dir. On
// first use it creates an Ed25519 key named origin. An empty origin means
// "whatever the directory holds", or defaultOrigin for a new directory. It
// refuses a directory whose key has another origin than the one asked for,
// or whose verifier key file does not match its signer key. It never
// creates a key where a log already is: when log.key is missing but
// log.pub, tiles/ or reprolog.db exists, it fails naming that file, and it
// never replaces log.pub.
func LoadOrCreateKey(dir, origin, defaultOrigin string) (note.Signer, string, error) {
	return loadOrCreateKey(dir, origin, defaultOrigin, nil)
}

// loadOrCreateKey is LoadOrCreateKey; before creating a key it also asks
// existingLog (when not nil) whether a log is kept elsewhere, which it
// names.
func loadOrCreateKey(dir, origin, defaultOrigin string, existingLog func() (string, error)) (note.Signer, string, error) {
	skeyPath := filepath.Join(dir, SignerKeyFile)
	vkeyPath := filepath.Join(dir, VerifierKeyFile)
	skey, err := os.ReadFile(skeyPath)
	if errors.Is(err, os.ErrNotExist) {
		if done, err := completeKey(dir); err != nil || done {
			if err != nil {
				return nil, "", err
			}
			return loadOrCreateKey(dir, origin, defaultOrigin, existingLog)
		}
		if err := noLogWithoutKey(dir, existingLog); err != nil {
			return nil, "", err
		}
		if origin == "" {
			origin = defaultOrigin
		}
		return createKey(dir, origin)
	}
	if err != nil {
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

// noLogWithoutKey refuses to create a key in dir when a log is there (or,
// per existingLog, elsewhere): its key is missing, and a new one would
// sign another log.
func noLogWithoutKey(dir string, existingLog func() (string, error)) error {
	missing := filepath.Join(dir, SignerKeyFile)
	for _, name := range []string{VerifierKeyFile, TilesDir, DatabaseFile} {
		p := filepath.Join(dir, name)
		_, err := os.Lstat(p)
		if err == nil {
			return fmt.Errorf("%s exists but %s does not: %s holds a log whose checkpoint key is missing; restore %s (and %s) from a backup: a new key would start another log",
				p, missing, dir, SignerKeyFile, VerifierKeyFile)
		}
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if existingLog == nil {
		return nil
	}
	where, err := existingLog()
	if err != nil || where == "" {
		return err
	}
	return fmt.Errorf("%s holds a log but %s does not exist: restore %s and %s from a backup: a new key would start another log",
		where, missing, SignerKeyFile, VerifierKeyFile)
}

// completeKey finishes a key creation that a crash interrupted, once the
// verifier key was written, or discards it when it was not. It reports
// whether dir now holds the key.
func completeKey(dir string) (bool, error) {
	pending := filepath.Join(dir, pendingKeyFile)
	skey, err := os.ReadFile(pending)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	vkey, err := os.ReadFile(filepath.Join(dir, VerifierKeyFile))
	if errors.Is(err, os.ErrNotExist) {
		return false, os.Remove(pending) // never published: start again
	} else if err != nil {
		return false, err
	}
	signer, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil || matchKeys(signer, strings.TrimSpace(string(vkey))) != nil {
		return false, fmt.Errorf("%s does not match %s: remove it, and restore the log's %s", pending, filepath.Join(dir, VerifierKeyFile), SignerKeyFile)
	}
	if err := os.Rename(pending, filepath.Join(dir, SignerKeyFile)); err != nil {
		return false, err
	}
	return true, atomicfile.SyncDir(dir)
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

// createKey creates the key in three steps, so that a crash at any point
// leaves either no key, a key that completeKey finishes, or the whole key:
// the signer key under a temporary name, then the verifier key (never
// replacing one), then the signer key under its name.
func createKey(dir, origin string) (note.Signer, string, error) {
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return nil, "", fmt.Errorf("log origin %q: %v", origin, err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, "", err
	}
	pending := filepath.Join(dir, pendingKeyFile)
	if err := atomicfile.Write(pending, []byte(skey+"\n"), 0o600); err != nil {
		return nil, "", err
	}
	if err := atomicfile.WriteNew(filepath.Join(dir, VerifierKeyFile), []byte(vkey+"\n"), 0o644); err != nil {
		os.Remove(pending)
		return nil, "", err
	}
	if err := os.Rename(pending, filepath.Join(dir, SignerKeyFile)); err != nil {
		return nil, "", err
	}
	return signer, vkey, atomicfile.SyncDir(dir)
}
