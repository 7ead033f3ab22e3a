package pgp_test

import (
	"errors"
	"testing"
	"time"

	"github.com/reprolog/reprolog/pgp"
	"github.com/reprolog/reprolog/pgp/pgptest"
)

func TestParseExpiredKey(t *testing.T) {
	created := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
	s := pgptest.NewSigner(t, "old", pgptest.CreatedAt(created), pgptest.Lifetime(24*time.Hour))
	signedWhileValid := s.ClearSignAt(t, []byte("Hello: world\n"), created.Add(time.Hour))

	if _, err := pgp.ParseKey(s.PublicArmored(), time.Now()); !errors.Is(err, pgp.ErrKeyExpired) {
		t.Fatalf("ParseKey = %v, want ErrKeyExpired", err)
	}
	k, last, err := pgp.ParseExpiredKey(s.PublicArmored(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if want := created.Add(24*time.Hour - time.Second); !last.Equal(want) {
		t.Errorf("last valid at %v, want %v", last, want)
	}
	m, err := pgp.ParseClearsigned(signedWhileValid)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Verify(k, m.Created); err != nil {
		t.Errorf("a record signed while the key was valid: %v", err)
	}
	if err := m.Verify(k, time.Now()); !errors.Is(err, pgp.ErrKeyExpired) {
		t.Errorf("verifying now = %v, want ErrKeyExpired", err)
	}
	// The key's validity is remembered per second: asking again, in any
	// order, gives the same answers.
	for range 2 {
		if err := m.Verify(k, m.Created); err != nil {
			t.Errorf("again at its own time: %v", err)
		}
		if err := m.Verify(k, time.Now()); !errors.Is(err, pgp.ErrKeyExpired) {
			t.Errorf("again now: %v, want ErrKeyExpired", err)
		}
	}

	fresh := pgptest.NewSigner(t, "fresh")
	if _, _, err := pgp.ParseExpiredKey(fresh.PublicArmored(), time.Now()); err == nil {
		t.Error("ParseExpiredKey accepted a key that has not expired")
	}
	revoked := pgptest.NewSigner(t, "revoked", pgptest.CreatedAt(created), pgptest.Lifetime(time.Hour))
	revoked.Revoke(t)
	if _, _, err := pgp.ParseExpiredKey(revoked.PublicArmored(), time.Now()); !errors.Is(err, pgp.ErrKeyRevoked) {
		t.Errorf("a revoked, expired key: %v, want ErrKeyRevoked", err)
	}
}
