package installed

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/reprolog/reprolog/client"
)

// journalName is the journal's file in State-Dir.
const journalName = "decisions.jsonl"

// maxJournalLine bounds one journal line when reading.
const maxJournalLine = 1 << 20

// Undecided is the verdict the journal records for a file the apt hook
// refused without a decision: the log could not be reached or failed
// verification, or the file could not be read (then the record names only
// the file). Its Reason says why.
const Undecided client.Verdict = "undecided"

// Record is one decision the apt hook made, as its journal keeps it.
type Record struct {
	Time time.Time `json:"time"`
	client.Target
	File    string         `json:"file,omitempty"`
	Verdict client.Verdict `json:"verdict"`
	// Evaluated is what the log said when the policy allowed the package.
	Evaluated  client.Verdict `json:"evaluated,omitempty"`
	RebuildDue bool           `json:"rebuild_due,omitempty"`
	Reason     string         `json:"reason"`
	Checkpoint CheckpointRef  `json:"checkpoint,omitzero"` // none when Undecided
	// Offline is set when the decision came from a proof bundle.
	Offline bool `json:"offline,omitempty"`
}

// Key returns the package version the record is about.
func (r Record) Key() Key { return Key{Package: r.Package, Version: r.Version, Arch: r.Arch} }

// Health returns the health the decision gives the package.
func (r Record) Health() Health { return healthOf(r.Verdict, r.RebuildDue) }

// CheckpointRef names the checkpoint a decision was made against.
type CheckpointRef struct {
	Origin string `json:"origin"`
	Size   int64  `json:"size"`
	Hash   string `json:"hash"`
}

func refOf(c client.Checkpoint) CheckpointRef {
	return CheckpointRef{Origin: c.Origin, Size: c.Size, Hash: c.Hash}
}

// RecordOf turns a decision into a journal record.
func RecordOf(d *client.Decision, now time.Time, offline bool) Record {
	return Record{Time: now.UTC(), Target: d.Target, File: d.File, Verdict: d.Verdict, Evaluated: d.Evaluated,
		RebuildDue: d.RebuildDue, Reason: Reason(d), Checkpoint: refOf(d.Checkpoint), Offline: offline}
}

// Journal is the append-only list of the apt hook's decisions, one JSON
// object a line, in State-Dir.
type Journal struct {
	path string
}

// OpenJournal returns the journal kept in stateDir.
func OpenJournal(stateDir string) *Journal {
	return &Journal{path: filepath.Join(stateDir, journalName)}
}

// Append adds records durably: one write, then fsync. A line left
// unfinished by a crash is closed first, so that it stays a line of its
// own, which Read skips.
func (j *Journal) Append(recs ...Record) error {
	var data []byte
	for _, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		data = append(append(data, b...), '\n')
	}
	if err := os.MkdirAll(filepath.Dir(j.path), 0o755); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	f, err := os.OpenFile(j.path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			data = append([]byte{'\n'}, data...)
		}
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// Read returns the records from byte offset on, and the offset after the
// last complete line. A line that is not a valid record (left by a crash)
// is skipped and counted in bad.
func (j *Journal) Read(offset int64) (recs []Record, next int64, bad int, err error) {
	f, err := os.Open(j.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, 0, nil
	}
	if err != nil {
		return nil, offset, 0, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, offset, 0, fmt.Errorf("journal: %w", err)
	}
	if offset > st.Size() {
		offset = 0 // the journal was replaced: read it again
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, offset, 0, fmt.Errorf("journal: %w", err)
	}
	br := bufio.NewReaderSize(f, 64<<10)
	next = offset
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			next += int64(len(line))
			var r Record
			if len(line) > maxJournalLine || json.Unmarshal(line, &r) != nil || (r.Package == "" && r.File == "") {
				bad++
			} else {
				recs = append(recs, r)
			}
		}
		if err == io.EOF {
			return recs, next, bad, nil
		}
		if err != nil {
			return recs, next, bad, fmt.Errorf("journal: %w", err)
		}
	}
}
