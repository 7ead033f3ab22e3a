// Package log is the reprolog log personality on Tessera.
//
// A Server accepts clear-signed .buildinfo records from registered
// rebuilders, verifies them, stores each record byte for byte, appends the
// statement derived from it (package statement) to a Tessera log, and
// answers once a published checkpoint covers the new entry. It serves the
// log as C2SP tlog-tiles, the records by SHA-256, the rebuilders' keys, and
// a lookup index from binary packages and sources to leaf indices. The
// index is derived from the log and can be rebuilt from it.
//
// The write path, and what a crash at each step leaves behind:
//
//  1. The record is verified and its statement derived. Nothing is stored
//     yet: a rejected submission leaves no trace.
//  2. The record is stored in the database, marked pending, with its
//     identity: the builder and the digest its signature signs. A record
//     with a known identity (the same bytes, or another encoding of the
//     same signature) is answered with the logged record's index instead.
//     With Config.MaxPending submissions in progress already, the log
//     pushes back here (503) and stores nothing.
//     A crash here leaves a pending record that no client was told about;
//     it is removed once the log is known not to contain its statement.
//  3. The statement is appended to Tessera, which assigns its index
//     durably. A crash here is repaired by the indexer, which reads every
//     entry back from the log and records each record's index.
//  4. The submission waits until a published checkpoint covers the index,
//     and until the lookup index covers it, then answers. Only now has the
//     client been told, and everything it was told is durable.
package log
