package bench

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// KeyType is the kind of OpenPGP key a rebuilder signs with.
type KeyType string

// The key types the benchmarks use: what Debian rebuilders use today.
const (
	Ed25519 KeyType = "Ed25519"
	RSA4096 KeyType = "RSA-4096"
)

// Rebuilder is a rebuilder's OpenPGP key pair, made by go-crypto as `gpg
// --quick-generate-key` would.
type Rebuilder struct {
	Name string
	Type KeyType

	entity *openpgp.Entity
	signer *packet.PrivateKey
	cfg    *packet.Config
}

// NewRebuilder makes a key of type kt.
func NewRebuilder(name string, kt KeyType) (*Rebuilder, error) {
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519, DefaultHash: crypto.SHA512}
	if kt == RSA4096 {
		cfg.Algorithm, cfg.RSABits = packet.PubKeyAlgoRSA, 4096
	}
	e, err := openpgp.NewEntity(name, "", "", cfg)
	if err != nil {
		return nil, fmt.Errorf("generating %s key %s: %v", kt, name, err)
	}
	deterministic := false
	signCfg := &packet.Config{DefaultHash: crypto.SHA512, NonDeterministicSignaturesViaNotation: &deterministic}
	key, ok := e.SigningKey(time.Now(), signCfg)
	if !ok {
		return nil, fmt.Errorf("key %s cannot sign", name)
	}
	return &Rebuilder{Name: name, Type: kt, entity: e, signer: key.PrivateKey, cfg: signCfg}, nil
}

// Fingerprint is the primary key's fingerprint, upper-case hex.
func (r *Rebuilder) Fingerprint() string {
	return strings.ToUpper(hex.EncodeToString(r.entity.PrimaryKey.Fingerprint))
}

// PublicArmored is the armored public key, as a rebuilder registers it.
func (r *Rebuilder) PublicArmored() []byte {
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err != nil {
		panic(err)
	}
	if err := r.entity.Serialize(w); err != nil {
		panic(err)
	}
	w.Close()
	b.WriteByte('\n')
	return b.Bytes()
}

// ClearSign clear-signs text (SHA-512), as `gpg --clearsign` or debsign
// would. It is safe for concurrent use.
func (r *Rebuilder) ClearSign(text []byte) ([]byte, error) {
	var b bytes.Buffer
	w, err := clearsign.Encode(&b, r.signer, r.cfg)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(bytes.TrimSuffix(text, []byte("\n"))); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}
