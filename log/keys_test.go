package log_test

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	rlog "github.com/reprolog/reprolog/log"
	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/pgp"
	"github.com/reprolog/reprolog/pgp/pgptest"
)

// version gives the rbtest buildinfo another version, so that each
// record is a new one.
func version(t *testing.T, v string) []byte {
	return bytes.Replace(rbtest(t), []byte("Version: 0.1"), []byte("Version: "+v), 1)
}

// registerKey posts a key and returns the status and answer.
func registerKey(t *testing.T, l *logtest.Log, armored []byte) (int, rlog.KeyResult) {
	t.Helper()
	code, body, _ := post(t, l.URL+"/keys", "application/pgp-keys", armored)
	var res rlog.KeyResult
	if code == http.StatusOK || code == http.StatusCreated {
		mustJSON(t, body, &res)
	}
	return code, res
}

// armoredWithoutSubkeys is s's public key with its subkeys left out.
func armoredWithoutSubkeys(t *testing.T, s *pgptest.Signer) []byte {
	t.Helper()
	e := *s.Entity()
	e.Subkeys = nil
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return b.Bytes()
}

func subkeyCount(t *testing.T, armored []byte) int {
	t.Helper()
	el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(armored))
	if err != nil || len(el) != 1 {
		t.Fatalf("served key: %v", err)
	}
	return len(el[0].Subkeys)
}

// TestRevokedStaysRevoked: once the log holds a key's revocation, posting
// an older, unrevoked copy of the key changes nothing, during this run or
// after a restart.
func TestRevokedStaysRevoked(t *testing.T) {
	l := logtest.Start(t)
	s := pgptest.NewSigner(t, "stolen")
	unrevoked := s.PublicArmored()
	l.Register(t, unrevoked)
	record := s.ClearSign(t, version(t, "0.2")) // signed before the revocation, never logged
	s.Revoke(t)
	if code, body, _ := post(t, l.URL+"/keys", "text/plain", s.PublicArmored()); code != http.StatusForbidden || !strings.Contains(string(body), "now refuses") {
		t.Fatalf("sending the revocation: %d %s", code, body)
	}
	_, revoked := get(t, l.URL+"/keys/"+s.Fingerprint())
	if _, err := pgp.ParseKey(revoked, time.Now()); !errors.Is(err, pgp.ErrKeyRevoked) {
		t.Fatalf("the log serves a key that is not revoked: %v", err)
	}

	code, res := registerKey(t, l, unrevoked)
	if code != http.StatusOK || res.New || res.Updated {
		t.Errorf("posting the old copy: %d %+v, want 200 and no change", code, res)
	}
	l.Stop()
	l = logtest.StartDir(t, l.Dir)
	code, body, _ := post(t, l.URL+"/add", "text/plain", record)
	if code != http.StatusForbidden || !strings.Contains(string(body), "revoked") {
		t.Errorf("a record of the revoked key after a restart: %d %s", code, body)
	}
	if code, served := get(t, l.URL+"/keys/"+s.Fingerprint()); code != http.StatusOK || !bytes.Equal(served, revoked) {
		t.Errorf("the log no longer serves the revoked copy (%d)", code)
	}
}

// TestKeyUpdates: a copy of a key that leaves out a subkey changes
// nothing, so the records that subkey signed can still be checked; a
// newer copy with one more subkey replaces the stored one; a revoked copy
// that leaves out the subkeys revokes the key and keeps them.
func TestKeyUpdates(t *testing.T) {
	l := logtest.Start(t)
	s := pgptest.NewSigner(t, "rebuilder", pgptest.SigningSubkey(), pgptest.CreatedAt(time.Now().Add(-time.Hour)))
	l.Register(t, s.PublicArmored())
	_, stored := get(t, l.URL+"/keys/"+s.Fingerprint())
	bySubkey := s.ClearSign(t, version(t, "0.2"))

	if code, res := registerKey(t, l, armoredWithoutSubkeys(t, s)); code != http.StatusOK || res.New || res.Updated {
		t.Errorf("a copy without subkeys: %d %+v, want 200 and no change", code, res)
	}
	l.Stop()
	l = logtest.StartDir(t, l.Dir)
	if _, served := get(t, l.URL+"/keys/"+s.Fingerprint()); !bytes.Equal(served, stored) {
		t.Errorf("the stored key changed: %d subkeys, want %d", subkeyCount(t, served), subkeyCount(t, stored))
	}
	l.Submit(t, bySubkey)

	// A newer copy, with one more signing subkey, replaces it.
	if err := s.Entity().AddSigningSubkey(&packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519}); err != nil {
		t.Fatal(err)
	}
	newSubkey := s.Entity().Subkeys[len(s.Entity().Subkeys)-1].PublicKey.KeyId
	if code, res := registerKey(t, l, s.PublicArmored()); code != http.StatusOK || res.New || !res.Updated {
		t.Errorf("a newer copy: %d %+v, want 200 and updated", code, res)
	}
	_, served := get(t, l.URL+"/keys/"+s.Fingerprint())
	if subkeyCount(t, served) != 3 {
		t.Errorf("the log serves %d subkeys, want 3", subkeyCount(t, served))
	}
	byNewSubkey := s.ClearSign(t, version(t, "0.3"))
	if signed, err := pgp.ParseClearsigned(byNewSubkey); err != nil || signed.IssuerKeyID != newSubkey {
		t.Fatalf("the record is not signed by the new subkey (%v)", err)
	}
	l.Submit(t, byNewSubkey)

	// A revoked copy without subkeys: revoked, subkeys kept.
	s.Revoke(t)
	if code, body, _ := post(t, l.URL+"/keys", "text/plain", armoredWithoutSubkeys(t, s)); code != http.StatusForbidden {
		t.Errorf("a stripped revocation: %d %s", code, body)
	}
	l.Stop()
	l = logtest.StartDir(t, l.Dir)
	_, served = get(t, l.URL+"/keys/"+s.Fingerprint())
	if _, err := pgp.ParseKey(served, time.Now()); !errors.Is(err, pgp.ErrKeyRevoked) || subkeyCount(t, served) != 3 {
		t.Errorf("after a stripped revocation the log serves a key with %d subkeys (%v)", subkeyCount(t, served), err)
	}
}
