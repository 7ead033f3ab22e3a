package witness

import (
	"context"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Kinds of Evidence.
const (
	// EvidenceFork is a log-signed checkpoint of the size the witness held
	// with another root hash. With the held checkpoint, also signed by the
	// log, it proves that the log forked.
	EvidenceFork = "fork"
	// EvidenceInconsistent is a log-signed checkpoint, larger than the held
	// one, that came with a consistency proof that does not verify. It
	// proves nothing: requests are not authenticated, and anyone holding a
	// newer genuine checkpoint can send it with a garbage proof. It is kept
	// as a lead for an investigation.
	EvidenceInconsistent = "inconsistent"
)

// Evidence is a log-signed checkpoint that the witness refused because it
// conflicts with the one it held. Only a fork (see Proves) is proof of
// misbehaviour that stands even if the log disappears.
type Evidence struct {
	Origin string
	// Kind is EvidenceFork or EvidenceInconsistent.
	Kind string
	// Held is the signed checkpoint the witness held (empty at size 0).
	Held []byte
	// Received is the refused checkpoint with only the signatures of the
	// log that verified, so that unknown signatures added to one
	// checkpoint do not make it a new report.
	Received []byte
	// Request is the whole add-checkpoint request, with its proof.
	Request  []byte
	Observed time.Time
}

// Proves reports whether e on its own proves that the log misbehaved: Held
// and Received both carry the log's signature, have one size and different
// root hashes. Only forks do; an inconsistent report can be made by anyone.
func (e Evidence) Proves() bool { return e.Kind == EvidenceFork }

// Reports are capped per log and per kind, so that a log signing endless
// forks cannot fill the witness's disk, and so that unproven reports, which
// anyone can send, can never crowd out a fork.
const maxEvidencePerKind = 1000

// report records a log-signed checkpoint n, received in req, that conflicts
// with the held state.
func (w *Witness) report(ctx context.Context, kind, origin string, held LogState, n *note.Note, body []byte) {
	received, err := note.Sign(&note.Note{Text: n.Text, Sigs: n.Sigs})
	if err != nil {
		w.log.ErrorContext(ctx, "recording evidence", "origin", origin, "error", err)
		return
	}
	attrs := []any{"kind", kind, "origin", origin, "held_size", held.Size,
		"held_checkpoint", string(held.Checkpoint), "received_checkpoint", string(received)}
	if kind == EvidenceFork {
		w.log.ErrorContext(ctx, "log misbehaviour: the log signed two checkpoints of one size with different root hashes", attrs...)
	} else {
		w.log.WarnContext(ctx, "unproven: a log-signed checkpoint came with a consistency proof from the held one that does not verify", attrs...)
	}
	// Keep the evidence even if the log hangs up.
	err = w.store.addEvidence(context.WithoutCancel(ctx), Evidence{
		Origin: origin, Kind: kind, Held: held.Checkpoint, Received: received,
		Request: body, Observed: time.Now(),
	})
	if err != nil {
		w.log.ErrorContext(ctx, "recording evidence", "origin", origin, "error", err)
	}
}
