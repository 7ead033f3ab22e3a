// Package pgptest creates OpenPGP rebuilder keys and clear-signed records
// for tests, with real keys and signatures made by
// github.com/ProtonMail/go-crypto.
//
//	s := pgptest.NewSigner(t, "rebuilder-a")
//	record := s.ClearSign(t, buildinfo)
//	key, err := pgp.ParseKey(s.PublicArmored(), time.Now())
package pgptest

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// Signer is a rebuilder's key pair. Its methods are safe for concurrent
// use (go-crypto's entities are not).
type Signer struct {
	mu     sync.Mutex
	entity *openpgp.Entity
}

type options struct {
	rsaBits int
	life    time.Duration
	created time.Time
	subkey  bool
	v6      bool
	ecdsa   bool
}

// Option changes the key NewSigner makes.
type Option func(*options)

// RSA makes an RSA key of the given size instead of Ed25519.
func RSA(bits int) Option { return func(o *options) { o.rsaBits = bits } }

// Lifetime makes the key expire d after its creation.
func Lifetime(d time.Duration) Option { return func(o *options) { o.life = d } }

// CreatedAt sets the key's creation time (default: now).
func CreatedAt(t time.Time) Option { return func(o *options) { o.created = t } }

// SigningSubkey adds a signing subkey, created with the key; signatures are
// then made by the subkey.
func SigningSubkey() Option { return func(o *options) { o.subkey = true } }

// V6 makes an RFC 9580 version 6 Ed25519 key.
func V6() Option { return func(o *options) { o.v6 = true } }

// ECDSA makes an ECDSA key on NIST P-256 instead of Ed25519.
func ECDSA() Option { return func(o *options) { o.ecdsa = true } }

// NewSigner makes a key with the user ID name: a v4 Ed25519 (EdDSA) primary
// key that can sign and certify, and an encryption subkey, as `gpg
// --quick-generate-key` does.
func NewSigner(t testing.TB, name string, opts ...Option) *Signer {
	t.Helper()
	o := options{created: time.Now()}
	for _, opt := range opts {
		opt(&o)
	}
	cfg := &packet.Config{
		Algorithm:       packet.PubKeyAlgoEdDSA,
		Curve:           packet.Curve25519,
		DefaultHash:     crypto.SHA512,
		Time:            func() time.Time { return o.created },
		KeyLifetimeSecs: uint32(o.life / time.Second),
	}
	switch {
	case o.rsaBits != 0:
		cfg.Algorithm, cfg.RSABits = packet.PubKeyAlgoRSA, o.rsaBits
	case o.v6:
		cfg.Algorithm, cfg.V6Keys = packet.PubKeyAlgoEd25519, true
	case o.ecdsa:
		cfg.Algorithm, cfg.Curve = packet.PubKeyAlgoECDSA, packet.CurveNistP256
	}
	e, err := openpgp.NewEntity(name, "", "", cfg)
	if err != nil {
		t.Fatalf("pgptest: generating key %q: %v", name, err)
	}
	if o.subkey {
		if err := e.AddSigningSubkey(cfg); err != nil {
			t.Fatalf("pgptest: adding signing subkey to %q: %v", name, err)
		}
	}
	return &Signer{entity: e}
}

// Entity returns the underlying go-crypto entity, for tests that change the
// key (revoke it, add subkeys). PublicArmored reflects such changes.
func (s *Signer) Entity() *openpgp.Entity { return s.entity }

// PublicArmored returns the ASCII-armored public key.
func (s *Signer) PublicArmored() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err != nil {
		panic(err)
	}
	if err := s.entity.Serialize(w); err != nil {
		panic("pgptest: serializing public key: " + err.Error())
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// Fingerprint returns the primary key's fingerprint in uppercase hex.
func (s *Signer) Fingerprint() string {
	return strings.ToUpper(hex.EncodeToString(s.entity.PrimaryKey.Fingerprint))
}

// Revoke adds a revocation of the whole key ("no reason given").
func (s *Signer) Revoke(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.entity.Revoke(packet.NoReason, "", nil); err != nil {
		t.Fatalf("pgptest: revoking: %v", err)
	}
}

// ClearSign clear-signs text now with a SHA-512 signature, as `gpg
// --clearsign --digest-algo SHA512` would: the text's final newline is
// not part of the signed text, and a text without one reads back with one.
func (s *Signer) ClearSign(t testing.TB, text []byte) []byte {
	t.Helper()
	return s.ClearSignAt(t, text, time.Now())
}

// ClearSignAt is ClearSign with the signature made at time when, by the
// newest signing key valid then.
func (s *Signer) ClearSignAt(t testing.TB, text []byte, when time.Time) []byte {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	deterministic := false
	cfg := &packet.Config{
		DefaultHash:                           crypto.SHA512,
		Time:                                  func() time.Time { return when },
		NonDeterministicSignaturesViaNotation: &deterministic,
	}
	key, ok := s.entity.SigningKey(when, cfg)
	if !ok {
		t.Fatalf("pgptest: no key of %s can sign at %v", s.Fingerprint(), when)
	}
	var b bytes.Buffer
	w, err := clearsign.Encode(&b, key.PrivateKey, cfg)
	if err != nil {
		t.Fatalf("pgptest: clear-signing: %v", err)
	}
	if _, err := w.Write(bytes.TrimSuffix(text, []byte("\n"))); err != nil {
		t.Fatalf("pgptest: clear-signing: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("pgptest: clear-signing: %v", err)
	}
	b.WriteByte('\n')
	return b.Bytes()
}
