package log_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	rlog "github.com/reprolog/reprolog/log"
	"github.com/reprolog/reprolog/pgp"
)

type rlogConfig = rlog.Config

func parseKey(t *testing.T, armored []byte) *pgp.Key {
	t.Helper()
	k, err := pgp.ParseKey(armored, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keys(k ...*pgp.Key) []*pgp.Key { return k }

func setupDir(dir, origin string) (rlog.Config, error) {
	return rlog.SetupDir(context.Background(), dir, origin)
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func sleep() { time.Sleep(200 * time.Millisecond) }
