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
// proven consistent with each other: evidence that the log showed
// different histories. Both are kept in State-Dir, with a note saying what
// was proven. It wraps ErrLog.
type ForkError struct {
	Old, New []byte   // the signed checkpoints: the one kept, the one presented
	Files    []string // where they and the note were kept
	// Proven is set when a proof, from tiles that hash to the larger tree,
	// shows the smaller tree is not its prefix (or both have one size and
	// two roots). When it is not set, the log failed to prove them
	// consistent: its tiles were missing, or did not hash to the tree they
	// had to, and an auditor holding the log's tiles can tell which.
	Proven bool
	Err    error // why they are not (proven) consistent
}

func (e *ForkError) Error() string {
	what := "is not consistent with"
	if !e.Proven {
		what = "could not be proven consistent with"
	}
	return fmt.Sprintf("%v: the log's checkpoint %s the one this machine saw before (%v); both are kept as evidence in %v",
		ErrLog, what, e.Err, e.Files)
}

func (e *ForkError) Unwrap() []error { return []error{ErrLog, e.Err} }

// note explains the evidence files.
func (e *ForkError) note(seen, presented string) string {
	proof := "proven: they are not consistent: " + e.Err.Error()
	if !e.Proven {
		proof = "not proven: that they are consistent, or that they are not; the log did not prove it: " + e.Err.Error() +
			"\n(an auditor who reads the log's tiles can tell whether the smaller tree is a prefix of the larger)"
	}
	return "reprolog: two checkpoints of one log that this machine could not reconcile\n" +
		"seen: " + seen + ", the checkpoint it had verified and kept\n" +
		"presented: " + presented + ", the checkpoint the log (or an offline proof) presented next\n" +
		"proven: both are validly signed by the log's key\n" + proof + "\n"
}

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

// Fork keeps both checkpoints of e as evidence, with a note saying what
// was and was not proven, and returns e with the files named.
func (s *State) Fork(e *ForkError) error {
	dir := filepath.Join(s.dir, "evidence")
	prefix := "fork-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	seen, presented := prefix+"-seen.checkpoint", prefix+"-new.checkpoint"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return errors.Join(e, fmt.Errorf("state: keeping evidence: %w", err))
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{seen, e.Old}, {presented, e.New}, {prefix + "-note.txt", []byte(e.note(seen, presented))}} {
		if err := atomicfile.Write(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			return errors.Join(e, fmt.Errorf("state: keeping evidence: %w", err))
		}
		e.Files = append(e.Files, filepath.Join(dir, f.name))
	}
	return e
}
