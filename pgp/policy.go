package pgp

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// policy holds the tunable part of what this package accepts. Only tests
// use anything but defaultPolicy, to check real-world material made with
// keys weaker than reprolog allows.
type policy struct {
	minRSABits int
}

var defaultPolicy = policy{minRSABits: 2048}

// config returns the go-crypto configuration for checks at time now.
func (p policy) config(now time.Time) *packet.Config {
	return &packet.Config{
		Time:       func() time.Time { return now },
		MinRSABits: uint16(p.minRSABits),
	}
}

var strongCurves = map[packet.Curve]bool{
	packet.Curve25519:         true,
	packet.Curve448:           true,
	packet.CurveNistP256:      true,
	packet.CurveNistP384:      true,
	packet.CurveNistP521:      true,
	packet.CurveBrainpoolP256: true,
	packet.CurveBrainpoolP384: true,
	packet.CurveBrainpoolP512: true,
}

// checkAlgorithm refuses signing keys with weak or unsupported algorithms.
func (p policy) checkAlgorithm(pk *packet.PublicKey) error {
	switch pk.PubKeyAlgo {
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSASignOnly:
		bits, err := pk.BitLength()
		if err != nil || int(bits) < p.minRSABits {
			return fmt.Errorf("RSA-%d is too weak (at least %d bits are needed)", bits, p.minRSABits)
		}
	case packet.PubKeyAlgoECDSA, packet.PubKeyAlgoEdDSA:
		curve, err := pk.Curve()
		if err != nil || !strongCurves[curve] {
			return fmt.Errorf("elliptic curve %q is not accepted", curve)
		}
	case packet.PubKeyAlgoEd25519, packet.PubKeyAlgoEd448,
		packet.PubKeyAlgoMldsa65Ed25519, packet.PubKeyAlgoMldsa87Ed448,
		packet.PubKeyAlgoSlhdsaShake128s, packet.PubKeyAlgoSlhdsaShake128f, packet.PubKeyAlgoSlhdsaShake256s:
	case packet.PubKeyAlgoDSA:
		return errors.New("DSA keys are not accepted")
	default:
		return fmt.Errorf("public key algorithm %d cannot sign or is not accepted", pk.PubKeyAlgo)
	}
	return nil
}

// newKey checks e at now and builds its Key.
func newKey(e *openpgp.Entity, now time.Time, pol policy) (*Key, error) {
	fpr := fingerprintString(e.PrimaryKey.Fingerprint)
	bad := func(kind error, format string, args ...any) error {
		msg := fmt.Sprintf("key %s: %s", fpr, fmt.Sprintf(format, args...))
		if kind != nil {
			return fmt.Errorf("pgp: %w: %s", kind, msg)
		}
		return fmt.Errorf("pgp: %s", msg)
	}
	if e.PrivateKey != nil {
		return nil, bad(nil, "holds secret key material")
	}
	if err := pol.checkAlgorithm(e.PrimaryKey); err != nil {
		return nil, bad(nil, "primary key: %v", err)
	}
	raw, err := canonical(e)
	if err != nil {
		return nil, bad(nil, "cannot serialize: %v", err)
	}
	armored, err := armorKey(raw)
	if err != nil {
		return nil, bad(nil, "cannot armor: %v", err)
	}
	k := &Key{fingerprint: fpr, raw: raw, armored: armored, pol: pol, validity: &validityCache{}}
	if e, err = readCanonical(raw); err != nil {
		return nil, bad(nil, "does not parse once serialized: %v", err)
	}

	if revoked(e, nil) {
		return nil, bad(ErrKeyRevoked, "revoked")
	}
	if e.PrimaryKey.CreationTime.Unix() > now.Unix() {
		return nil, bad(nil, "created in the future (%s)", stamp(e.PrimaryKey.CreationTime))
	}
	self, err := e.VerifyPrimaryKey(now, pol.config(now))
	switch {
	case errors.Is(err, pgperrors.ErrKeyExpired):
		return nil, bad(ErrKeyExpired, "expired%s", expiry(e.PrimaryKey, self))
	case errors.Is(err, pgperrors.ErrKeyRevoked):
		return nil, bad(ErrKeyRevoked, "revoked")
	case err != nil:
		return nil, bad(nil, "no valid self-signature on the primary key and a user ID at %s", stamp(now))
	}
	canSign := false
	if self.FlagsValid && self.FlagSign {
		k.signing = append(k.signing, e.PrimaryKey)
		canSign = true
	}
	for i := range e.Subkeys {
		sub := &e.Subkeys[i]
		binding, err := sub.LatestValidBindingSignature(time.Time{}, pol.config(now))
		if err != nil || !binding.FlagsValid || !binding.FlagSign {
			continue
		}
		if err := pol.checkAlgorithm(sub.PublicKey); err != nil {
			return nil, bad(nil, "signing subkey %s: %v", fingerprintString(sub.PublicKey.Fingerprint), err)
		}
		k.signing = append(k.signing, sub.PublicKey)
		if canSign || revoked(e, sub) {
			continue
		}
		if b, err := sub.Verify(now, pol.config(now)); err == nil && b.FlagSign {
			canSign = true
		}
	}
	if !canSign {
		return nil, bad(nil, "no key able to sign at %s", stamp(now))
	}
	return k, nil
}

// revoked reports whether e (sub == nil) or its subkey sub carries a valid
// revocation signature, whatever its date or reason.
func revoked(e *openpgp.Entity, sub *openpgp.Subkey) bool {
	if sub == nil {
		for _, r := range e.Revocations {
			if e.PrimaryKey.VerifyRevocationSignature(r.Packet) == nil {
				return true
			}
		}
		return false
	}
	for _, r := range sub.Revocations {
		if e.PrimaryKey.VerifySubkeyRevocationSignature(r.Packet, sub.PublicKey) == nil {
			return true
		}
	}
	return false
}

// usableAt checks that the key with fingerprint fp, the primary key of k or
// one of its subkeys, could sign at t.
func (k *Key) usableAt(fp []byte, t time.Time) error {
	return k.validity.get(string(fp), t.Unix(), func() error { return k.checkUsableAt(fp, t) })
}

// checkUsableAt is usableAt without the cache.
func (k *Key) checkUsableAt(fp []byte, t time.Time) error {
	e := k.entity()
	cfg := k.pol.config(t)
	if e.PrimaryKey.CreationTime.Unix() > t.Unix() {
		return fail(ErrBadSignature, "key %s did not exist at %s", k.fingerprint, stamp(t))
	}
	self, err := e.VerifyPrimaryKey(t, cfg)
	switch {
	case errors.Is(err, pgperrors.ErrKeyExpired):
		return fail(ErrKeyExpired, "key %s expired%s", k.fingerprint, expiry(e.PrimaryKey, self))
	case errors.Is(err, pgperrors.ErrKeyRevoked):
		return fail(ErrKeyRevoked, "key %s is revoked", k.fingerprint)
	case err != nil:
		return fail(ErrBadSignature, "key %s has no valid self-signature at %s", k.fingerprint, stamp(t))
	}
	if bytes.Equal(fp, e.PrimaryKey.Fingerprint) {
		if !self.FlagsValid || !self.FlagSign {
			return fail(ErrBadSignature, "primary key %s may not sign at %s", k.fingerprint, stamp(t))
		}
		return nil
	}
	for i := range e.Subkeys {
		sub := &e.Subkeys[i]
		if !bytes.Equal(fp, sub.PublicKey.Fingerprint) {
			continue
		}
		name := fingerprintString(fp)
		binding, err := sub.Verify(t, cfg)
		switch {
		case errors.Is(err, pgperrors.ErrKeyExpired):
			last, _ := sub.LatestValidBindingSignature(t, cfg)
			return fail(ErrKeyExpired, "subkey %s of %s expired%s", name, k.fingerprint, expiry(sub.PublicKey, last))
		case errors.Is(err, pgperrors.ErrKeyRevoked):
			return fail(ErrKeyRevoked, "subkey %s of %s is revoked", name, k.fingerprint)
		case err != nil:
			return fail(ErrBadSignature, "subkey %s of %s is not bound at %s", name, k.fingerprint, stamp(t))
		}
		if !binding.FlagsValid || !binding.FlagSign {
			return fail(ErrBadSignature, "subkey %s of %s may not sign at %s", name, k.fingerprint, stamp(t))
		}
		return nil
	}
	return fail(ErrUnknownKey, "%s is not part of key %s", fingerprintString(fp), k.fingerprint)
}

// expiry describes when pk expired according to its self-signature.
func expiry(pk *packet.PublicKey, self *packet.Signature) string {
	if self == nil {
		return ""
	}
	if self.KeyLifetimeSecs != nil && *self.KeyLifetimeSecs != 0 {
		return " at " + stamp(pk.CreationTime.Add(time.Duration(*self.KeyLifetimeSecs)*time.Second))
	}
	if self.SigLifetimeSecs != nil && *self.SigLifetimeSecs != 0 {
		return " at " + stamp(self.CreationTime.Add(time.Duration(*self.SigLifetimeSecs)*time.Second))
	}
	return ""
}

func stamp(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}
