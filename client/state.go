package client

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/reprolog/reprolog/internal/atomicfile"
)

// State is what a machine remembers in its State-Dir: the newest
// checkpoint it verified (file "checkpoint"), and the evidence of any
// inconsistency it found (directory "evidence").
type State struct {
	dir string
}

// ForkError reports two validly signed checkpoints of the log that are not
// consistent with each other: evidence that the log showed different
// histories. Both are kept in State-Dir. It wraps ErrLog.
type ForkError struct {
	Old, New []byte   // the signed checkpoints
	Files    []string // where they were kept
	Err      error    // why they are inconsistent
}

func (e *ForkError) Error() string {
	return fmt.Sprintf("%v: the log's checkpoint is not consistent with the one this machine saw before (%v); both are kept as evidence in %v",
		ErrLog, e.Err, e.Files)
}

func (e *ForkError) Unwrap() []error { return []error{ErrLog, e.Err} }

// OpenState opens (creating if needed) a state directory.
func OpenState(dir string) (*State, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	return &State{dir: dir}, nil
}

// Lock takes the state's exclusive lock, so that concurrent runs never
// store an older checkpoint over a newer one. It waits for other holders.
func (s *State) Lock() (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(s.dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("state: locking: %w", err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// Checkpoint returns the stored signed checkpoint, or nil when there is
// none.
func (s *State) Checkpoint() ([]byte, error) {
	data, err := readFile(filepath.Join(s.dir, "checkpoint"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	return data, nil
}

// Store replaces the stored checkpoint, atomically and durably.
func (s *State) Store(signed []byte) error {
	if err := atomicfile.Write(filepath.Join(s.dir, "checkpoint"), signed, 0o644); err != nil {
		return fmt.Errorf("state: storing the checkpoint: %w", err)
	}
	return nil
}

// Fork keeps both checkpoints as evidence and returns the ForkError that
// names them.
func (s *State) Fork(old, new []byte, why error) error {
	dir := filepath.Join(s.dir, "evidence")
	stamp := strconv.FormatInt(time.Now().UnixNano(), 10)
	e := &ForkError{Old: old, New: new, Err: why}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return errors.Join(e, fmt.Errorf("state: keeping evidence: %w", err))
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"fork-" + stamp + "-seen.checkpoint", old}, {"fork-" + stamp + "-new.checkpoint", new}} {
		if err := atomicfile.Write(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			return errors.Join(e, fmt.Errorf("state: keeping evidence: %w", err))
		}
		e.Files = append(e.Files, filepath.Join(dir, f.name))
	}
	return e
}
