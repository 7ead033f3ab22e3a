// Package bench measures a reprolog log: how fast it takes signed
// submissions, how fast installers decide and auditors follow, and how
// much memory the server needs, each beside what bounds it, measured in
// the same run. cmd/reprolog-bench runs it and prints the table; its
// README says how to read it.
//
// Everything measured is real: OpenPGP keys and clear-signed .buildinfo
// records made with go-crypto (Ed25519 and RSA-4096 keys), the log server
// (package log) in its own process on 127.0.0.1 with Tessera and SQLite or
// MySQL storage, .deb files built by dpkg-deb, and the reprolog command.
// A World generates as many distinct builds as a test needs from one real
// Debian build environment; every entry of a benchmark log is a signed
// record that the server verified.
//
//	w := &bench.World{Sources: 1000, Rebuilders: len(rebs)}
//	records, err := bench.Sign(w, rebs, 0, 10000)
//	rate, err := bench.Submit(ctx, url, records, 256)
package bench
