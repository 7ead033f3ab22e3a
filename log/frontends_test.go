package log_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"

	rlog "github.com/reprolog/reprolog/log"
	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/pgp/pgptest"
	"github.com/reprolog/reprolog/statement"
)

// TestFrontEnds runs two front ends of one log (one MySQL database, one
// key directory) and submits to both at once, some records to both: every
// record lands once, every answer's index holds that record's statement,
// and both front ends serve every entry, record and lookup.
func TestFrontEnds(t *testing.T) {
	if logtest.Current() == logtest.Embedded {
		t.Skip("several front ends share a database")
	}
	a := logtest.Start(t)
	b := logtest.StartDir(t, a.Dir)
	if a.VKey != b.VKey {
		t.Fatal("the front ends have different keys")
	}
	signers := []*pgptest.Signer{pgptest.NewSigner(t, "rebuilder-a"), pgptest.NewSigner(t, "rebuilder-b")}
	a.Register(t, signers[0].PublicArmored())
	b.Register(t, signers[1].PublicArmored())

	var records [][]byte
	for _, text := range corpus(t) {
		for _, s := range signers {
			records = append(records, s.ClearSign(t, text))
		}
	}
	fronts := []*logtest.Log{a, b}
	type answer struct {
		record int
		res    rlog.Result
	}
	answers := make(chan answer, 2*len(records))
	errs := make(chan error, 2*len(records))
	var wg sync.WaitGroup
	for i, rec := range records {
		targets := []*logtest.Log{fronts[i%2]}
		if i%3 == 0 {
			targets = fronts // the same record to both front ends at once
		}
		for _, f := range targets {
			wg.Go(func() {
				res, err := submit(f.URL, rec)
				if err != nil {
					errs <- fmt.Errorf("record %d to %s: %v", i, f.URL, err)
					return
				}
				answers <- answer{i, *res}
			})
		}
	}
	wg.Wait()
	close(answers)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// Each record has one index, and the answer's statement is its own.
	indexOf := map[int]uint64{}
	recordAt := map[uint64]int{}
	for ans := range answers {
		if prev, ok := indexOf[ans.record]; ok && prev != ans.res.Index {
			t.Fatalf("record %d answered at %d and at %d", ans.record, prev, ans.res.Index)
		}
		if prev, ok := recordAt[ans.res.Index]; ok && prev != ans.record {
			t.Fatalf("index %d answered for records %d and %d", ans.res.Index, prev, ans.record)
		}
		indexOf[ans.record], recordAt[ans.res.Index] = ans.res.Index, ans.record
		st, err := statement.Parse([]byte(ans.res.Statement))
		if err != nil || st.Record != sha(records[ans.record]) {
			t.Fatalf("record %d: the answer's statement is not its own (%v)", ans.record, err)
		}
	}
	if len(indexOf) != len(records) {
		t.Fatalf("%d of %d records answered", len(indexOf), len(records))
	}

	// Both front ends serve the same log of exactly these entries.
	v, err := note.NewVerifier(a.VKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fronts {
		entries := readLog(t, f, v)
		if len(entries) != len(records) {
			t.Fatalf("%s serves %d entries for %d records", f.URL, len(entries), len(records))
		}
		for i, rec := range records {
			st, err := statement.Parse(entries[indexOf[i]])
			if err != nil {
				t.Fatal(err)
			}
			if st.Record != sha(rec) {
				t.Fatalf("%s: entry %d is not record %d's statement", f.URL, indexOf[i], i)
			}
			if code, got := get(t, f.URL+"/record/"+st.Record); code != http.StatusOK || !bytes.Equal(got, rec) {
				t.Fatalf("%s: /record/%s: %d", f.URL, st.Record, code)
			}
			for _, file := range st.Files {
				if !file.IsBinary() {
					continue
				}
				q := url.Values{"package": {file.Package}, "version": {file.Version}, "arch": {file.Arch},
					"tree_size": {fmt.Sprint(len(records))}}
				if _, got := lookup(t, f.URL+"/lookup?"+q.Encode()); !contains(got, indexOf[i]) {
					t.Errorf("%s: lookup %s omits entry %d", f.URL, q.Encode(), indexOf[i])
				}
			}
		}
	}
}

func contains(s []uint64, v uint64) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func submit(base string, record []byte) (*rlog.Result, error) {
	resp, err := http.Post(base+"/add", "text/plain", bytes.NewReader(record))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return nil, fmt.Errorf("%s: %s", resp.Status, b)
	}
	var res rlog.Result
	return &res, json.Unmarshal(b, &res)
}

// TestKeysAcrossFrontEnds: a key registered through one front end signs a
// record the other accepts at once, however recently that one loaded its
// keys.
func TestKeysAcrossFrontEnds(t *testing.T) {
	if logtest.Current() == logtest.Embedded {
		t.Skip("several front ends share a database")
	}
	a := logtest.Start(t)
	b := logtest.StartDir(t, a.Dir)
	for i := range 3 {
		s := pgptest.NewSigner(t, fmt.Sprintf("rebuilder-%d", i))
		a.Register(t, s.PublicArmored())
		b.Submit(t, s.ClearSign(t, rbtest(t)))
	}
}

// TestMySQLAnotherLog starts a log on a database that holds another log:
// the server refuses it, whatever its key directory says. An empty key
// directory does not get a key.
func TestMySQLAnotherLog(t *testing.T) {
	if logtest.Current() != logtest.MySQL {
		t.Skip("MySQL only")
	}
	l := logtest.Start(t)
	s := pgptest.NewSigner(t, "a")
	l.Register(t, s.PublicArmored())
	l.Submit(t, s.ClearSign(t, rbtest(t)))
	ctx := context.Background()
	empty := t.TempDir()
	if _, err := rlog.SetupMySQL(ctx, empty, l.DSN, "another.example/log"); err == nil || !strings.Contains(err.Error(), "reprolog.test/log") {
		t.Errorf("a database of another log, and no key: %v", err)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Errorf("a key was created: %v", entries)
	}
	other := t.TempDir()
	if _, _, err := rlog.LoadOrCreateKey(other, "another.example/log", ""); err != nil {
		t.Fatal(err)
	}
	cfg, err := rlog.SetupMySQL(ctx, other, l.DSN, "another.example/log")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rlog.New(ctx, cfg); err == nil || !strings.Contains(err.Error(), "reprolog.test/log") {
		t.Errorf("a database of another log: %v", err)
	}
	cfg.Store.Close()
}

// TestSetupMySQLErrors: a DSN that names no database, or is malformed, is
// refused before anything is created.
func TestSetupMySQLErrors(t *testing.T) {
	for _, dsn := range []string{"user:pw@tcp(127.0.0.1:3306)/", "user:pw@tcp(127.0.0.1:3306", "not a dsn"} {
		dir := t.TempDir() + "/data"
		if _, err := rlog.SetupMySQL(context.Background(), dir, dsn, ""); err == nil {
			t.Errorf("%q: accepted", dsn)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%q: the data directory was created", dsn)
		}
	}
}

// TestLongNames logs a build whose source name and version are as long as
// buildinfo allows (255 bytes): the index takes it on every backend, the
// lookup finds it, and the log goes on; one byte more is refused.
func TestLongNames(t *testing.T) {
	l := logtest.Start(t)
	s := pgptest.NewSigner(t, "a")
	l.Register(t, s.PublicArmored())
	source, version := "rbtest"+strings.Repeat("x", 249), "0.1+"+strings.Repeat("9", 251)
	text := strings.Replace(string(rbtest(t)), "Source: rbtest\n", "Source: "+source+"\n", 1)
	text = strings.Replace(text, "Version: 0.1\n", "Version: "+version+"\n", 1)
	idx := l.Submit(t, s.ClearSign(t, []byte(text)))
	q := url.Values{"source": {source}, "version": {version}}
	if _, got := lookup(t, l.URL+"/lookup?"+q.Encode()); len(got) != 1 || got[0] != idx {
		t.Errorf("lookup of the long source: %v, want [%d]", got, idx)
	}
	tooLong := strings.Replace(string(rbtest(t)), "Source: rbtest\n", "Source: "+source+"x\n", 1)
	if code, body, _ := post(t, l.URL+"/add", "text/plain", s.ClearSign(t, []byte(tooLong))); code != http.StatusBadRequest {
		t.Errorf("a 256-byte source name: %d %s", code, body)
	}
	next := l.Submit(t, s.ClearSign(t, rbtest(t)))
	if next != idx+1 {
		t.Errorf("the next entry got %d, want %d", next, idx+1)
	}
}
