package log_test

import (
	"database/sql"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	rlog "github.com/reprolog/reprolog/log"
	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/pgp/pgptest"
)

// submitResult posts a record and decodes the answer.
func submitResult(t *testing.T, l *logtest.Log, record []byte) (int, rlog.Result) {
	t.Helper()
	code, body, _ := post(t, l.URL+"/add", "text/plain", record)
	var res rlog.Result
	if code == http.StatusOK || code == http.StatusCreated {
		mustJSON(t, body, &res)
	} else {
		t.Logf("%d %s", code, body)
	}
	return code, res
}

// TestEncodingVariants: another encoding of a logged record (other armor,
// whitespace, unhashed data, ECDSA's s and n-s), which anyone can make
// from a published record, is answered with the logged record's index and
// statement; it is not stored, does not grow the log, and does not count
// against the rebuilder's rate, also after a restart and for a log that an
// earlier version started.
func TestEncodingVariants(t *testing.T) {
	l := logtest.Start(t, func(c *rlogConfig) { c.RatePerBuilder, c.BurstPerBuilder = 0.001, 3 })
	rebuilders := []*pgptest.Signer{pgptest.NewSigner(t, "ed25519"), pgptest.NewSigner(t, "ecdsa", pgptest.ECDSA())}
	type logged struct {
		record []byte
		res    rlog.Result
	}
	var first []logged
	for _, s := range rebuilders {
		l.Register(t, s.PublicArmored())
		record := s.ClearSign(t, rbtest(t))
		code, res := submitResult(t, l, record)
		if code != http.StatusCreated {
			t.Fatalf("first submission: %d", code)
		}
		first = append(first, logged{record, res})
	}
	check := func(t *testing.T, l *logtest.Log) {
		t.Helper()
		for _, f := range first {
			variants := pgptest.Variants(t, f.record)
			for name, v := range variants {
				for range 2 {
					code, res := submitResult(t, l, v)
					if code != http.StatusOK || !res.Duplicate || res.Index != f.res.Index || res.Statement != f.res.Statement {
						t.Fatalf("%s: %d, index %d (duplicate %v), want 200 and the index %d and statement of the logged record",
							name, code, res.Index, res.Duplicate, f.res.Index)
					}
				}
				if code, _ := get(t, l.URL+"/record/"+sha(v)); code != http.StatusNotFound {
					t.Errorf("%s: the variant is served (%d)", name, code)
				}
			}
		}
	}
	if _, ok := pgptest.Variants(t, first[1].record)["ECDSA s and n-s"]; !ok {
		t.Fatal("no ECDSA variant")
	}
	check(t, l)
	l.Stop()
	l = logtest.StartDir(t, l.Dir)
	check(t, l)

	// A log started by an earlier version, which did not record identities,
	// records them at start.
	l.Stop()
	forgetIdentities(t, l)
	l = logtest.StartDir(t, l.Dir)
	check(t, l)

	// The variants used none of the rebuilders' burst of 3.
	for i, s := range rebuilders {
		for _, v := range []string{"0.2", "0.3"} {
			if code, _ := submitResult(t, l, s.ClearSign(t, version(t, v))); code != http.StatusCreated {
				t.Errorf("rebuilder %d, new record %s: %d", i, v, code)
			}
		}
	}
	if n := checkpointSize(t, l); n != 6 {
		t.Errorf("the log holds %d entries, want 6", n)
	}
}

// forgetIdentities makes the stopped log's database look like one an
// earlier version wrote.
func forgetIdentities(t *testing.T, l *logtest.Log) {
	t.Helper()
	driver, dsn := "sqlite", filepath.Join(l.Dir, rlog.DatabaseFile)
	if l.DSN != "" {
		driver, dsn = "mysql", l.DSN
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`DELETE FROM record_identities`, `DELETE FROM meta WHERE name = 'record_identities'`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
}

// TestConcurrentVariants: a record and its variants sent at once are
// logged once; every answer names that one entry.
func TestConcurrentVariants(t *testing.T) {
	l := logtest.Start(t)
	s := pgptest.NewSigner(t, "rebuilder", pgptest.ECDSA())
	l.Register(t, s.PublicArmored())
	record := s.ClearSign(t, rbtest(t))
	all := [][]byte{record}
	for _, v := range pgptest.Variants(t, record) {
		all = append(all, v)
	}
	results := make([]rlog.Result, len(all))
	codes := make([]int, len(all))
	var wg sync.WaitGroup
	for i, r := range all {
		wg.Go(func() { codes[i], results[i] = submitResult(t, l, r) })
	}
	wg.Wait()
	var logged string
	for i := range all {
		if codes[i] == http.StatusCreated {
			if logged != "" {
				t.Errorf("two encodings of one record logged")
			}
			logged = results[i].Statement
		}
	}
	for i := range all {
		if (codes[i] != http.StatusCreated && codes[i] != http.StatusOK) || results[i].Index != 0 || results[i].Statement != logged {
			t.Errorf("submission %d: %d, index %d, another statement: %v", i, codes[i], results[i].Index, results[i].Statement != logged)
		}
	}
	if n := checkpointSize(t, l); n != 1 {
		t.Errorf("the log holds %d entries, want 1", n)
	}
}
