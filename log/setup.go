package log

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/transparency-dev/tessera/storage/posix"
)

// Layout of a data directory.
const (
	TilesDir     = "tiles"       // Tessera's POSIX storage
	DatabaseFile = "reprolog.db" // records, keys and the lookup index
)

// DefaultOrigin names a new log when the operator names none: the host
// name, then "/reprolog".
func DefaultOrigin() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return host + "/reprolog"
}

// SetupDir prepares the embedded default in dir: the checkpoint key, Tessera
// POSIX storage and the SQLite database. origin may be empty (see
// LoadOrCreateKey). The caller fills in the rest of the Config.
func SetupDir(ctx context.Context, dir, origin string) (Config, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Config{}, err
	}
	// A log that cannot write would answer every submission with an error,
	// or worse, fail halfway: refuse to start instead, and say why.
	for _, d := range []string{dir, filepath.Join(dir, TilesDir)} {
		if err := checkWritable(d); err != nil {
			return Config{}, err
		}
	}
	signer, vkey, err := LoadOrCreateKey(dir, origin, DefaultOrigin())
	if err != nil {
		return Config{}, err
	}
	driver, err := posix.New(ctx, posix.Config{Path: filepath.Join(dir, TilesDir)})
	if err != nil {
		return Config{}, fmt.Errorf("tile storage: %v", err)
	}
	store, err := OpenSQLite(ctx, filepath.Join(dir, DatabaseFile))
	if err != nil {
		return Config{}, err
	}
	return Config{Signer: signer, VerifierKey: vkey, Driver: driver, Store: store}, nil
}

// checkWritable makes sure files can be created in dir, if it exists.
func checkWritable(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil // created later, in a directory checked already
	}
	f, err := os.CreateTemp(dir, ".probe-*")
	if err == nil {
		f.Close()
		err = os.Remove(f.Name())
	}
	if err != nil {
		return fmt.Errorf("data directory %s is not writable: %w", dir, err)
	}
	return nil
}
