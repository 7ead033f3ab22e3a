// Package witness is reprolog's transparency-log witness and the client-side
// check of witness cosignatures.
//
// The server side, Witness, implements C2SP tlog-witness
// (https://c2sp.org/tlog-witness): logs POST each new checkpoint to
// /add-checkpoint with a consistency proof from the last checkpoint the
// witness cosigned, and the witness answers with a timestamped
// tlog-cosignature/v1 (https://c2sp.org/tlog-cosignature) only if the
// checkpoint is signed by the log and consistent with what it holds. Its
// state, one checkpoint per log, lives in an embedded SQLite database and is
// updated with a compare-and-swap, so concurrent requests never roll it
// back. Checkpoints that contradict the held one are kept as Evidence.
// Monitors read the latest cosigned checkpoint of each log from
// /<origin hash>/checkpoint.
//
// The client side, Policy, reads a C2SP tlog-policy file
// (https://c2sp.org/tlog-policy) and verifies that a checkpoint carries the
// log's signature and a quorum of witness cosignatures, reporting how old
// the quorum's view is (Witnessed.Oldest) so that callers can refuse stale
// checkpoints.
package witness
