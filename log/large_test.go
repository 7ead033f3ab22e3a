package log_test

import (
	"net/http"
	"testing"

	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/pgp/pgptest"
)

// TestLargeRecord: a record of more than 1 MiB (a build with a huge
// dependency closure) is logged, served byte for byte and found.
func TestLargeRecord(t *testing.T) {
	l := logtest.Start(t)
	s := pgptest.NewSigner(t, "rebuilder")
	l.Register(t, s.PublicArmored())
	record := s.ClearSign(t, logtest.LargeBuildinfo(rbtest(t), 1100<<10))
	if len(record) < 1100<<10 {
		t.Fatalf("the record has only %d bytes", len(record))
	}
	code, res := submitResult(t, l, record)
	if code != http.StatusCreated || res.Index != 0 {
		t.Fatalf("POST /add: %d, index %d", code, res.Index)
	}
	if code, served := get(t, l.URL+"/record/"+sha(record)); code != http.StatusOK || string(served) != string(record) {
		t.Errorf("GET /record: %d, %d bytes of %d", code, len(served), len(record))
	}
	if _, got := lookup(t, l.URL+"/lookup?source=rbtest&version=0.1"); len(got) != 1 {
		t.Errorf("lookup: %v", got)
	}
}
