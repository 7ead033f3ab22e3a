package audit_test

import (
	"database/sql"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reprolog/reprolog/audit"
	rlog "github.com/reprolog/reprolog/log"
	"github.com/reprolog/reprolog/log/logtest"
)

// logDB opens the real log's embedded database, to make the log lose
// what it should keep.
func logDB(t *testing.T, l *logtest.Log) *sql.DB {
	t.Helper()
	if logtest.Current() != logtest.Embedded {
		t.Skip("changes the log's embedded database")
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(l.Dir, rlog.DatabaseFile)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// A lookup answer for a smaller tree than asked is a finding: the entries
// it leaves out, or, when it leaves out none, that it is stale. An
// answer as of no entries at all can no longer dodge the check.
func TestLookupSmallerTree(t *testing.T) {
	s := startSmall(t)
	s.add(t, s.b["D"].ClearSign(t, readTestdata(t, pairs[0].a)))
	p := newProxy(t, s.log.URL)
	p.answer("/lookup", []byte(`{"tree_size":0,"indices":[]}`))
	var c collector
	a := openAuditor(t, p.URL, s.log.VKey, t.TempDir(), &c)
	sync1(t, a)
	omitted := map[string][]int64{}
	for _, f := range c.all() {
		if f.Kind != audit.LogMisbehaviour || f.Problem != audit.ProblemLookupOmission || f.Lookup == nil ||
			!strings.Contains(f.Detail, "asked as of 4 entries, the log answered as of 0") {
			t.Errorf("finding %+v", f)
			continue
		}
		name := f.Package + " " + f.Version
		if f.Source != "" {
			name = "source " + f.Source + " " + f.SourceVersion
		}
		omitted[name] = f.Lookup.Omitted
		checkEvidence(t, s.log, f)
	}
	if len(omitted) < 4 || len(omitted["rbtest 0.1"]) != 3 || len(omitted["source rbtest 0.1"]) != 3 {
		t.Errorf("omissions: %v", omitted)
	}

	// Answers that leave out nothing, but as of fewer entries than asked.
	p.forget("/lookup")
	p.change("/lookup", func(b []byte) []byte {
		var ans rlog.LookupResult
		if err := json.Unmarshal(b, &ans); err != nil {
			t.Error(err)
		}
		ans.TreeSize = slices.Max(ans.Indices) + 1
		b, _ = json.Marshal(ans)
		return b
	})
	c = collector{}
	a = openAuditor(t, p.URL, s.log.VKey, t.TempDir(), &c)
	sync1(t, a)
	f := onlyMisbehaviour(t, &c, audit.ProblemLookupStale)
	if f.Lookup == nil || !strings.Contains(f.Lookup.Answer, `"tree_size":3`) || !strings.Contains(f.Lookup.Query, "tree_size=4") {
		t.Errorf("evidence: %+v", f.Lookup)
	}
}

// The honest log answers 503 while its index catches up: that is no
// finding. A lookup it never answers is one, after Attempts Syncs, and
// the audit goes on meanwhile.
func TestLookupUnanswered(t *testing.T) {
	s := startSmall(t)
	p := newProxy(t, s.log.URL)
	open := func(c *collector) *audit.Auditor {
		a := openAuditor(t, p.URL, s.log.VKey, t.TempDir(), c, func(cfg *audit.Config) { cfg.Attempts = 3 })
		audit.SetRetryPause(a, time.Millisecond)
		return a
	}

	// Unanswered through a whole Sync (the fetcher tries 4 times), then
	// answered at the next.
	p.refuse("/lookup", http.StatusServiceUnavailable, 4)
	var c collector
	a := open(&c)
	for range 4 {
		if res := sync1(t, a); res.Position != 3 {
			t.Fatalf("the audit waits for the lookup: %+v", res)
		}
	}
	if len(c.all()) != 0 {
		t.Errorf("an index catching up is a finding: %+v", c.all())
	}

	p.refuse("/lookup", http.StatusServiceUnavailable, -1)
	c = collector{}
	a = open(&c)
	for i := range 2 {
		if res := sync1(t, a); res.Position != 3 || len(c.all()) != 0 {
			t.Fatalf("sync %d: %+v, %+v", i, res, c.all())
		}
	}
	sync1(t, a)
	f := onlyMisbehaviour(t, &c, audit.ProblemLookupStale)
	if !strings.Contains(f.Detail, "no answer in 3 attempts") || !strings.Contains(f.Detail, "503") || f.Lookup == nil ||
		!strings.Contains(f.Lookup.Query, "tree_size=3") {
		t.Errorf("finding %+v", f)
	}
	checkEvidence(t, s.log, f)
}

// An entry the log's index drops after it first named it is found by
// looking older packages up again.
func TestLookupDroppedLater(t *testing.T) {
	s := startSmall(t)
	var c collector
	a := openAuditor(t, s.log.URL, s.log.VKey, t.TempDir(), &c, func(cfg *audit.Config) { cfg.LookupRecheck = 1000 })
	sync1(t, a)
	if len(c.all()) != 0 {
		t.Fatalf("honest log: %+v", c.all())
	}
	if _, err := logDB(t, s.log).Exec(`DELETE FROM binaries WHERE package = 'rbtest' AND idx = 1`); err != nil {
		t.Fatal(err)
	}
	s.add(t, s.b["D"].ClearSign(t, readTestdata(t, pairs[0].a)))
	sync1(t, a)
	f := onlyMisbehaviour(t, &c, audit.ProblemLookupOmission)
	if f.Package != "rbtest" || !slices.Equal(f.Lookup.Omitted, []int64{1}) || len(f.Entries) != 1 || f.Entries[0].Index != 1 {
		t.Errorf("finding %+v", f)
	}
	checkEvidence(t, s.log, f)
}
