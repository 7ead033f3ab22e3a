package audit

import "time"

// Kind is the kind of a Finding.
type Kind string

// The kinds of findings.
const (
	// Disagreement: two builders report different hashes for one binary
	// package built from the same inputs.
	Disagreement Kind = "disagreement"
	// SelfContradiction: one builder reports two different hashes for one
	// binary package built from the same inputs.
	SelfContradiction Kind = "self-contradiction"
	// Drift: builds of one binary package from different inputs (another
	// toolchain, another environment) gave different files.
	Drift Kind = "drift"
	// SourceChanged: one source version was built from two different .dsc
	// files, which Debian never allows.
	SourceChanged Kind = "source-changed"
	// LogMisbehaviour: the log broke a promise; Problem says which.
	LogMisbehaviour Kind = "log-misbehaviour"
)

// Kinds lists every kind, in the order reports show them.
var Kinds = []Kind{Disagreement, SelfContradiction, Drift, SourceChanged, LogMisbehaviour}

// The problems of a LogMisbehaviour finding.
const (
	ProblemCheckpointSignature    = "checkpoint-signature"    // not a checkpoint validly signed by the log's key
	ProblemCheckpointInconsistent = "checkpoint-inconsistent" // not consistent with a checkpoint seen before
	ProblemCheckpointBackwards    = "checkpoint-backwards"    // a smaller tree than one seen before
	ProblemTilesMismatch          = "tiles-mismatch"          // tiles that do not hash to the signed checkpoint
	ProblemBadEntry               = "bad-entry"               // an entry that is not a valid statement
	ProblemRecordMissing          = "record-missing"          // the log does not serve a logged record
	ProblemRecordMismatch         = "record-mismatch"         // the record served is not the one the statement names
	ProblemRecordInvalid          = "record-invalid"          // the record is not a clear-signed buildinfo
	ProblemRecordSignature        = "record-signature"        // the record's signature does not verify with the builder's key
	ProblemStatementMismatch      = "statement-mismatch"      // the record derives another statement
	ProblemKeyMissing             = "key-missing"             // the log does not serve the builder's key
	ProblemKeyInvalid             = "key-invalid"             // the key served is not a valid key with that fingerprint
	ProblemLookupOmission         = "lookup-omission"         // a lookup answer leaves out entries naming the package
	ProblemLookupStale            = "lookup-stale"            // a lookup answer for fewer entries than asked, or none after Config.Attempts Syncs
	ProblemLookupInvalid          = "lookup-invalid"          // a lookup answer that is not one
)

// A Finding is something the auditor found, with the evidence that lets
// anyone check it against the log. Findings are printed as JSON lines.
type Finding struct {
	// ID numbers the findings of one state directory from 1, in the order
	// they were found. A finding printed twice (after a crash between
	// printing it and recording that it was) has the same ID.
	ID    int64     `json:"id"`
	Kind  Kind      `json:"kind"`
	Found time.Time `json:"found"`
	// Log is the log's origin.
	Log string `json:"log"`
	// Summary says what was found in one line.
	Summary string `json:"summary"`
	// Problem is set for LogMisbehaviour.
	Problem string `json:"problem,omitempty"`

	// The binary package, for Disagreement, SelfContradiction and Drift
	// about one binary package.
	Package string `json:"package,omitempty"`
	Version string `json:"version,omitempty"`
	Arch    string `json:"arch,omitempty"`
	// The source version, for SourceChanged, and of the new entry for
	// Disagreement, SelfContradiction and Drift.
	Source        string `json:"source,omitempty"`
	SourceVersion string `json:"source_version,omitempty"`
	// Binaries are the binary packages of a Disagreement,
	// SelfContradiction or Drift: one finding per new entry and kind lists
	// every binary package of the entry in that conflict, with the hash
	// each entry of the finding gives it.
	Binaries []Binary `json:"binaries,omitempty"`

	// Entries are the log entries involved, the newest first. Every index
	// is covered by Checkpoint.
	Entries []Entry `json:"entries,omitempty"`
	// Checkpoint is the signed checkpoint the entries were read against.
	Checkpoint string `json:"checkpoint,omitempty"`
	// Checkpoints are the two signed checkpoints that conflict, the one the
	// auditor held first; with Proof, the consistency proof between them
	// that failed (base64 hashes), when the log served one.
	Checkpoints []string `json:"checkpoints,omitempty"`
	Proof       []string `json:"proof,omitempty"`
	// Lookup is the lookup answer that omits entries.
	Lookup *LookupEvidence `json:"lookup,omitempty"`
	// Detail explains a LogMisbehaviour finding further.
	Detail string `json:"detail,omitempty"`
}

// A Binary is a binary package a finding is about.
type Binary struct {
	Package string `json:"package"`
	Version string `json:"version"`
	Arch    string `json:"arch"`
	// Hashes are the SHA-256s the entries list for it, the new entry
	// first: each is in the statement of the entry with that index.
	Hashes []EntryHash `json:"hashes"`
}

// EntryHash is the SHA-256 an entry lists for a file.
type EntryHash struct {
	Index  int64  `json:"index"`
	SHA256 string `json:"sha256"`
}

// An Entry is a log entry named by a finding.
type Entry struct {
	Index int64 `json:"index"`
	// Builder, SHA256 and Inputs are copied from the statement for the
	// reader: SHA256 is the hash of the file the finding is about (the
	// binary package, or the .dsc), when it is about one file.
	Builder string `json:"builder,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
	Inputs  string `json:"inputs,omitempty"`
	// Statement is the entry itself, as the log holds it.
	Statement string `json:"statement,omitempty"`
	// Record is the record's SHA-256, to fetch it at /record/<sha256>.
	Record string `json:"record,omitempty"`
	// Raw is an entry that is not a statement, byte for byte (base64).
	Raw []byte `json:"raw,omitempty"`
}

// LookupEvidence is a lookup query and the log's answer.
type LookupEvidence struct {
	Query   string  `json:"query"` // the path and query, e.g. /lookup?package=...
	Answer  string  `json:"answer"`
	Omitted []int64 `json:"omitted"`
}
