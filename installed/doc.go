// Package installed is reprolog on an installed Debian system: the apt
// hook's gate, which decides about every .deb apt is about to unpack and
// journals each decision, and the health check, which re-evaluates every
// installed package against the newest checkpoint of the log.
//
// It reads what apt and dpkg keep: the input apt sends a
// DPkg::Pre-Install-Pkgs command (ParseHookInput, protocol version 3),
// dpkg's status file (ReadStatus) and apt's package lists (ReadLists).
// Decisions are the client package's: one batch per apt run, from the log,
// or from offline proof bundles when the log cannot be reached.
//
//	p, err := client.LoadPolicy("/etc/reprolog/policy")
//	...
//	in, err := installed.ParseHookInput(os.Stdin)
//	...
//	out, err := (&installed.Gate{Policy: p}).Decide(ctx, in.Debs())
//	...
//	report, err := (&installed.Checker{Policy: p}).Check(ctx)
//
// The check keeps its state in State-Dir (health.json): when the log has
// not grown since the last check, one checkpoint request and the state
// answer; when it has, only the packages the new entries name are decided
// again.
package installed
