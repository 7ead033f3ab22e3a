package installed

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/reprolog/reprolog/client"

	"github.com/reprolog/reprolog/internal/atomicfile"
)

const (
	stateName   = "health.json"
	stateFormat = 1
	// recordGrace is how long a journal record for a version that is not
	// installed is kept: the hook decides before dpkg installs.
	recordGrace = 24 * time.Hour
)

// checkState is what Check remembers between runs, in State-Dir.
type checkState struct {
	Format int `json:"format"`
	// Policy digests what the results depend on in the policy.
	Policy string `json:"policy"`
	// Checkpoint is the log's size through which the results account for
	// every entry.
	Checkpoint CheckpointRef `json:"checkpoint"`
	// Journal is the offset in the hook's journal read so far.
	Journal int64 `json:"journal"`
	// Lists fingerprints apt's lists when they were last read.
	Lists string `json:"lists"`
	// Recorded holds, by key, the newest passing decision of the hook.
	Recorded map[string]recorded `json:"recorded"`
	Results  []Result            `json:"results"`
}

type recorded struct {
	SHA256 string    `json:"sha256"`
	Health Health    `json:"health"`
	Time   time.Time `json:"time"`
}

func keyString(k Key) string { return k.Package + " " + k.Version + " " + k.Arch }

// policyDigest covers what decisions depend on: the log's key, K, the
// builders and how they vote, and the allow-list.
func policyDigest(p *client.Policy) string {
	h := sha256.New()
	fmt.Fprintf(h, "log %s %08x\nthreshold %d\n", p.Log.Name(), p.Log.KeyHash(), p.Threshold)
	for _, b := range p.Builders {
		fmt.Fprintf(h, "builder %s %s\n", b.Fingerprint, b.Voter())
	}
	allow := slices.Sorted(slices.Values(p.Allow))
	fmt.Fprintf(h, "allow %s\n", strings.Join(allow, ","))
	return hex.EncodeToString(h.Sum(nil))
}

// loadState reads the state and returns it with the bytes it was read
// from.
func loadState(dir string) (*checkState, []byte, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateName))
	if errors.Is(err, fs.ErrNotExist) {
		return &checkState{Format: stateFormat, Recorded: map[string]recorded{}}, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("state: %w", err)
	}
	var st checkState
	if err := json.Unmarshal(data, &st); err != nil || st.Format != stateFormat {
		// A damaged or foreign state only costs a full check.
		return &checkState{Format: stateFormat, Recorded: map[string]recorded{}}, nil, nil
	}
	if st.Recorded == nil {
		st.Recorded = map[string]recorded{}
	}
	return &st, data, nil
}

// saveState writes the state unless it is what was read.
func saveState(dir string, st *checkState, read []byte) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if bytes.Equal(data, read) {
		return nil
	}
	if err := writeState(dir, data); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}

// lockFile takes an exclusive lock on name in dir, waiting for other
// holders, so that two checks do not interleave their state.
func lockFile(dir, name string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// writeState replaces the state file, creating its directory if needed.
func writeState(dir string, data []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, stateName), data, 0o644)
}
