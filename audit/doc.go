// Package audit follows a reprolog log and reports what it finds: builders
// that disagree, builders that contradict themselves, toolchain drift, a
// source version built from two different .dsc files, and a log that
// breaks its promises.
//
// An Auditor reads the log as any tlog-tiles client does. For every new
// checkpoint it checks the log's signature and that the tree is consistent
// with the last one it verified (an inconsistency the log signed is a
// finding), then, optionally, a witness quorum before it moves on to it;
// it reads every entry through torchwood's Client, which authenticates the
// tiles against the checkpoint; it checks that each entry is a statement,
// fetches the record the statement names, checks its hash, its signature
// by the builder's key and that it derives the statement; and it compares
// the verified statements with everything seen before, grouped by binary
// package (name, version, architecture) and build inputs digest. It also
// looks up a sample of packages and sources (of each batch of entries, and
// of earlier ones) in the log's index and checks that the answers, as of
// the size asked for, name every entry it has seen.
//
// What it learns is kept in an SQLite database in a state directory, and
// each batch of entries is committed with the findings it produced and the
// new position in one transaction, so that a restart goes on where the
// last run stopped without losing or repeating a finding. The records of
// the batches ahead are fetched and checked on every core (Config.Workers
// at a time) while a batch commits, but batches commit one after another
// in log order, so findings come in the same order however the work is
// spread:
//
//	a, err := audit.Open(ctx, audit.Config{
//		Log: "https://log.example", LogKey: vkey, StateDir: dir,
//		Deliver: func(f audit.Finding) error { return json.NewEncoder(os.Stdout).Encode(f) },
//	})
//	...
//	res, err := a.Sync(ctx) // to the log's current checkpoint
//
// Every finding carries its evidence: the entries (index, statement,
// record hash) and the signed checkpoint they were read against, or the
// two signed checkpoints that conflict, so that anyone can check it
// against the log without trusting the auditor. Config.Deliver takes each
// finding first (printing it); a Notifier passes findings on to a consumer
// that may fail for a while, such as an alerting command, without holding
// the audit up. ReadReport summarizes the state per binary package.
// FINDINGS.md, next to this file, describes the findings' JSON and the
// state directory.
package audit
