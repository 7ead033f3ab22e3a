// Package client is the installer's side of reprolog: the policy (which
// log, which witnesses, which rebuilders, how many must agree), the state
// a machine keeps (the newest checkpoint it verified), and the decision
// whether a binary package may be installed.
//
// A decision first verifies the log: a checkpoint signed by the log and
// cosigned by a fresh witness quorum, consistent with the one the machine
// saw last; every statement naming the package proven to be in that
// checkpoint; each trusted builder's record fetched, its signature checked
// and the statement derived from it again. Only then does Decide, a pure
// function, count: K agreeing voters make a file reproducible; fewer are
// insufficient, or a conflict when someone dissents.
//
//	p, err := client.LoadPolicy("/etc/reprolog/policy")
//	...
//	d, err := client.ReadDeb("hello_2.10-3_amd64.deb")
//	...
//	decisions, err := (&client.Verifier{Policy: p}).Verify(ctx, []client.Deb{d})
//
// A command that decides once and exits can open the policy with
// OpenPolicy instead: the Verifier then asks the log while the builders'
// keys are still being checked, and waits for them before it counts.
//
// The same decision can be made offline from a proofs.Bundle with
// Verifier.VerifyOffline.
package client
