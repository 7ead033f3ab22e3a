package audit_test

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"

	"github.com/reprolog/reprolog/audit"
	"github.com/reprolog/reprolog/buildinfo"
	rlog "github.com/reprolog/reprolog/log"
	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/pgp"
	"github.com/reprolog/reprolog/statement"
)

// forge appends entries to a small log with Tessera itself, under the
// log's key, as a broken log would, and starts the log again.
func forge(t *testing.T, s *small, entries ...[]byte) *logtest.Log {
	t.Helper()
	s.log.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	driver, err := posix.New(ctx, posix.Config{Path: filepath.Join(s.log.Dir, rlog.TilesDir)})
	if err != nil {
		t.Fatal(err)
	}
	appender, shutdown, reader, err := tessera.NewAppender(ctx, driver, tessera.NewAppendOptions().
		WithCheckpointSigner(logSigner(t, s.log)).WithCheckpointInterval(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	awaiter := tessera.NewPublicationAwaiter(ctx, reader.ReadCheckpoint, 25*time.Millisecond)
	for _, e := range entries {
		if _, _, err := awaiter.Await(ctx, appender.Add(ctx, tessera.NewEntry(e))); err != nil {
			t.Fatal(err)
		}
	}
	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	return logtest.StartDir(t, s.log.Dir)
}

// derive returns the statement of record as signed by signer, with the
// builder's fingerprint given.
func derive(t *testing.T, record []byte, builder string) *statement.Statement {
	t.Helper()
	signed, err := pgp.ParseClearsigned(record)
	if err != nil {
		t.Fatal(err)
	}
	b, err := buildinfo.Parse(signed.Text)
	if err != nil {
		t.Fatal(err)
	}
	st, err := statement.Derive(b, builder, record)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// A log that logged what no record backs: a statement naming another
// builder than the one that signed, a statement that lies about the
// record's contents, and an entry that is not a statement.
func TestForgedEntries(t *testing.T) {
	s := startSmall(t)
	rb1 := readTestdata(t, rbtest1)
	otherHash := replaceHash(t, rb1, rbDeb, strings.Repeat("99", 32))
	// Signed by A, logged as B's: B seems to disagree.
	byA := s.b["A"].ClearSign(t, otherHash)
	framed := derive(t, byA, s.b["B"].Fingerprint())
	// Signed by D with the agreed hash, logged with another one.
	byD := s.b["D"].ClearSign(t, rb1)
	lying := derive(t, byD, s.b["D"].Fingerprint())
	lying.Files[0].SHA256 = strings.Repeat("99", 32)
	bad := []byte("reprolog-statement v1\nsource rbtest 0.1\n")
	l := forge(t, s, framed.Marshal(), lying.Marshal(), bad)

	p := newProxy(t, l.URL)
	p.answer("/record/"+sha(byA), byA)
	p.answer("/record/"+sha(byD), byD)
	var c collector
	a := openAuditor(t, p.URL, l.VKey, t.TempDir(), &c, func(cfg *audit.Config) { cfg.LookupSample = 0 })
	res := sync1(t, a)
	fs := c.all()
	var problems []string
	for _, f := range fs {
		problems = append(problems, f.Problem)
	}
	want := []string{audit.ProblemRecordSignature, audit.ProblemStatementMismatch, audit.ProblemBadEntry}
	if !slices.Equal(problems, want) || res.Verified != 3 || res.Position != 6 {
		t.Fatalf("problems %q after %+v, want %q", problems, res, want)
	}
	for i, f := range fs {
		if f.Kind != audit.LogMisbehaviour || len(f.Entries) != 1 || f.Entries[0].Index != int64(3+i) {
			t.Errorf("finding %+v", f)
		}
		openTree(t, l.VKey, f.Checkpoint)
	}
	if !bytes.Equal(fs[2].Entries[0].Raw, bad) {
		t.Errorf("the bad entry is quoted as %q", fs[2].Entries[0].Raw)
	}
	if fs[0].Entries[0].Builder != s.b["B"].Fingerprint() {
		t.Errorf("framed entry names %s", fs[0].Entries[0].Builder)
	}
}
