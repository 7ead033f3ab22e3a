package audit_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/reprolog/reprolog/audit"
)

// A record deleted from the log's store: the log answers 404, and the
// audit says the record is missing.
func TestRecordDeletedFromStore(t *testing.T) {
	s := startSmall(t)
	idx, rec := s.disagree(t)
	if _, err := logDB(t, s.log).Exec(`DELETE FROM records WHERE sha256 = ?`, sha(rec)); err != nil {
		t.Fatal(err)
	}
	var c collector
	a := openAuditor(t, s.log.URL, s.log.VKey, t.TempDir(), &c)
	res := sync1(t, a)
	f := onlyMisbehaviour(t, &c, audit.ProblemRecordMissing)
	if f.Entries[0].Index != int64(idx) || f.Entries[0].Record != sha(rec) || !strings.Contains(f.Detail, "not found") ||
		res.Verified != 3 || res.Position != 4 {
		t.Errorf("finding %+v after %+v", f, res)
	}
	checkEvidence(t, s.log, f)
}

// A record the log answers with a server error holds the audit up for a
// few Syncs (the error may pass), across a restart, then is a finding
// with the status, and the audit goes on.
func TestRecordServerError(t *testing.T) {
	s := startSmall(t)
	idx, rec := s.disagree(t)
	// A row the log cannot read: it answers 500 for this record only.
	if _, err := logDB(t, s.log).Exec(`UPDATE records SET idx = 'broken' WHERE sha256 = ?`, sha(rec)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(s.log.URL + "/record/" + sha(rec))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("the broken record: %s", resp.Status)
	}

	dir := t.TempDir()
	var c collector
	open := func() *audit.Auditor {
		a := openAuditor(t, s.log.URL, s.log.VKey, dir, &c, func(cfg *audit.Config) { cfg.Attempts, cfg.BatchSize = 3, 1 })
		audit.SetRetryPause(a, time.Millisecond)
		return a
	}
	a := open()
	for i := 1; i <= 2; i++ {
		res, err := a.Sync(context.Background())
		if err == nil || !strings.Contains(err.Error(), "500 Internal Server Error") || res.Position != 3 || len(c.all()) != 0 {
			t.Fatalf("sync %d: %+v, %v, %+v", i, res, err, c.all())
		}
		// Counted across restarts too.
		a.Close()
		a = open()
	}
	res := sync1(t, a)
	f := onlyMisbehaviour(t, &c, audit.ProblemRecordMissing)
	if f.Entries[0].Index != int64(idx) || !strings.Contains(f.Detail, "500 Internal Server Error, in 3 syncs") ||
		res.Position != 4 || res.Verified != 0 {
		t.Errorf("finding %+v after %+v", f, res)
	}
	checkEvidence(t, s.log, f)
	// The audit goes on from there.
	s.add(t, s.b["D"].ClearSign(t, readTestdata(t, rbtest2)))
	if res := sync1(t, a); res.Position != 5 || res.Verified != 1 {
		t.Errorf("after the finding: %+v", res)
	}
}

// A record the log cannot be reached for stops the audit at its batch:
// the batches before it are committed, those after it are not, though
// their records were being checked at the same time; the next Sync goes
// on from there and finds what an audit in one go finds.
func TestRecordUnreachable(t *testing.T) {
	s := startSmall(t)
	s.disagree(t)
	var ref collector
	sync1(t, openAuditor(t, s.log.URL, s.log.VKey, t.TempDir(), &ref))

	p := newProxy(t, s.log.URL)
	p.hangUp("/record/"+sha(s.recs[1]), true)
	var c collector
	a := openAuditor(t, p.URL, s.log.VKey, t.TempDir(), &c, func(cfg *audit.Config) { cfg.BatchSize = 1 })
	audit.SetRetryPause(a, time.Millisecond)
	res, err := a.Sync(context.Background())
	if err == nil || !strings.Contains(err.Error(), "entry 1 with record "+sha(s.recs[1])) || res.Position != 1 || len(c.all()) != 0 {
		t.Fatalf("the record of entry 1 unreachable: %+v, %v, %+v", res, err, c.all())
	}
	p.hangUp("/record/"+sha(s.recs[1]), false)
	if res := sync1(t, a); res.Position != 4 || res.Processed != 3 || res.Verified != 3 {
		t.Fatalf("the record reachable again: %+v", res)
	}
	checkOnce(t, c.all(), ref.all())
}
