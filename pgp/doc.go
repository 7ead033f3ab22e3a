// Package pgp verifies the OpenPGP material a rebuilder hands to reprolog:
// its public key and the clear-signed records (.buildinfo files) it submits.
//
// Everything here is strict. [ParseKey] accepts exactly one public key that
// is self-signed, neither revoked nor expired, uses strong algorithms and has
// a key able to sign. [ParseClearsigned] accepts exactly one clear-signed
// message with one canonical-text signature over a strong digest, and nothing
// before or after it. [Signed.Verify] then checks that signature against a
// key at a given time. The OpenPGP work itself (armor, packets, canonical
// text, signature verification) is done by github.com/ProtonMail/go-crypto.
//
// A log server verifies a submission with
//
//	s, err := pgp.ParseClearsigned(record)
//	...
//	err = s.Verify(key, time.Now())
//
// while a reader checking an old record asks whether the key was valid when
// it signed, by parsing the key and verifying at the signature's time:
//
//	key, err := pgp.ParseKey(armored, s.Created)
//	...
//	err = s.Verify(key, s.Created)
//
// A revocation always counts, whatever its date or reason.
//
// [Signed.Text] is the signed text exactly as OpenPGP defines it (dash
// escapes removed, trailing spaces and tabs of each line removed, lines
// joined by "\n"). It is not checked to be UTF-8: that is the caller's job.
package pgp
