package log_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprolog/reprolog/buildinfo"
	rlog "github.com/reprolog/reprolog/log"
	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/pgp"
	"github.com/reprolog/reprolog/pgp/pgptest"
	"github.com/reprolog/reprolog/statement"
)

// corpusVerdicts is what the log does with each buildinfo of the shared
// corpus (buildinfo's TestCorpus gives the same verdicts): "" for one it
// logs, else the reason it gives for refusing it.
var corpusVerdicts = map[string]string{
	"arch_alpm_INVALID_v2-with-format1.BUILDINFO":                                   "an Arch Linux BUILDINFO, not a Debian buildinfo",
	"arch_alpm_snapshot_case_1_buildinfov1_all_fields_via_cli.BUILDINFO":            "an Arch Linux BUILDINFO, not a Debian buildinfo",
	"arch_alpm_snapshot_case_3_buildinfov2_all_fields_via_cli.BUILDINFO":            "an Arch Linux BUILDINFO, not a Debian buildinfo",
	"arch_alpm_snapshot_case_4_buildinfov2_optional_fields_via_cli.BUILDINFO":       "an Arch Linux BUILDINFO, not a Debian buildinfo",
	"arch_repro-threshold_filesystem-2025.10.12-1-any.BUILDINFO":                    "an Arch Linux BUILDINFO, not a Debian buildinfo",
	"deb_diffoscope_test1.buildinfo":                                                "pre-release draft format",
	"deb_diffoscope_test2.buildinfo":                                                "pre-release draft format",
	"deb_deb-rs_hello_2.10-3_amd64.buildinfo":                                       "",
	"deb_devscripts_sphinx_1.7.2-1_amd64.buildinfo":                                 "",
	"deb_python-debian_lxml_4.5.2-1+b1_amd64.buildinfo.asc":                         "",
	"deb_rebuilderd-crawler_courier_1.0.16-3+b1_amd64.buildinfo.asc":                "",
	"deb_rebuilderd-crawler_rust-sniffglue_0.14.0-2_amd64.buildinfo.asc":            "",
	"deb_uli-heller_cowsql_1.15.4-1ubuntu3~uh~jammy1_amd64.build-A.buildinfo":       "",
	"deb_uli-heller_cowsql_1.15.4-1ubuntu3~uh~jammy1_amd64.build-B.buildinfo":       "",
	"deb_uli-heller_golang-defaults_1.22~2build1~uh~jammy1_amd64.build-A.buildinfo": "",
	"deb_uli-heller_golang-defaults_1.22~2build1~uh~jammy1_amd64.build-B.buildinfo": "",
	"deb_uli-heller_golang-golang-x-sys_0.17.0-1~uh~focal1_amd64.build-A.buildinfo": "",
	"deb_uli-heller_golang-golang-x-sys_0.17.0-1~uh~focal1_amd64.build-B.buildinfo": "",
	"deb_uli-heller_virtualbox_7.0.24-2ubuntu1.1~uh~jammy1_amd64.buildinfo":         "",
	"gen_local_rbtest_0.1_amd64.build1.buildinfo":                                   "",
	"gen_local_rbtest_0.1_amd64.build2.buildinfo":                                   "",
	"gen_local_rbtest_0.1_amd64.build3-otherpath-tz-nocheck.buildinfo":              "",
	"gen_local_rbtest_0.1_amd64.build4-with-path-kernel.buildinfo":                  "",
	"gen_local_rbtest_0.1_amd64.build6-under-slash-build.buildinfo":                 "",
	"gen_local_rbtest_0.1_source.buildinfo":                                         "",
}

// corpusTexts returns the text of every buildinfo of the shared corpus, to
// be signed: the signed text of the files that are signed already. Every
// file must have a verdict in corpusVerdicts, and every verdict a file.
func corpusTexts(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob("../buildinfo/testdata/*")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if s, ok := bytes.CutPrefix(raw, []byte("-----BEGIN PGP SIGNED MESSAGE-----\n")); ok {
			_, body, _ := bytes.Cut(s, []byte("\n\n"))
			raw, _, _ = bytes.Cut(body, []byte("-----BEGIN PGP SIGNATURE-----"))
		}
		name := filepath.Base(f)
		if _, ok := corpusVerdicts[name]; !ok {
			t.Fatalf("corpus file %s has no verdict in corpusVerdicts", name)
		}
		out[name] = raw
	}
	if len(out) != len(corpusVerdicts) {
		t.Fatalf("the corpus has %d files, corpusVerdicts %d", len(out), len(corpusVerdicts))
	}
	return out
}

// corpus returns the corpus buildinfos that the log must accept.
func corpus(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for name, text := range corpusTexts(t) {
		if corpusVerdicts[name] == "" {
			out[name] = text
		}
	}
	return out
}

func post(t *testing.T, url, ctype string, body []byte) (int, []byte, http.Header) {
	t.Helper()
	resp, err := http.Post(url, ctype, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestCorpusConcurrently submits the whole corpus re-signed by three
// rebuilders at once: the 18 Debian buildinfos are logged, the 7 others
// refused, each for its reason. It then reads the whole log back with
// torchwood's tlog-tiles client and checks every entry against the
// checkpoint and its record.
func TestCorpusConcurrently(t *testing.T) {
	l := logtest.Start(t)
	signers := []*pgptest.Signer{
		pgptest.NewSigner(t, "rebuilder-a"),
		pgptest.NewSigner(t, "rebuilder-b", pgptest.RSA(3072)),
		pgptest.NewSigner(t, "rebuilder-c", pgptest.SigningSubkey()),
	}
	for _, s := range signers {
		if got := l.Register(t, s.PublicArmored()); got != s.Fingerprint() {
			t.Fatalf("registered %s, want %s", got, s.Fingerprint())
		}
	}
	type sub struct {
		name   string
		record []byte
		reason string // why the log refuses it, "" if it logs it
	}
	var subs, refused []sub
	for name, text := range corpusTexts(t) {
		for _, s := range signers {
			sb := sub{name + " by " + s.Fingerprint()[:8], s.ClearSign(t, text), corpusVerdicts[name]}
			if sb.reason == "" {
				subs = append(subs, sb)
			} else {
				refused = append(refused, sb)
			}
		}
	}
	if len(subs) != 3*18 || len(refused) != 3*7 {
		t.Fatalf("%d submissions to accept and %d to refuse, want %d and %d", len(subs), len(refused), 3*18, 3*7)
	}
	indices := make([]uint64, len(subs))
	results := make([]rlog.Result, len(subs))
	var wg sync.WaitGroup
	errs := make(chan error, len(subs)+len(refused))
	send := func(s sub, want int) ([]byte, error) {
		resp, err := http.Post(l.URL+"/add", "text/plain", bytes.NewReader(s.record))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			return nil, fmt.Errorf("%s: %s %s, want %d", s.name, resp.Status, b, want)
		}
		return b, nil
	}
	for i, s := range subs {
		wg.Go(func() {
			b, err := send(s, http.StatusCreated)
			if err == nil {
				err = json.Unmarshal(b, &results[i])
			}
			if err != nil {
				errs <- err
				return
			}
			indices[i] = results[i].Index
		})
	}
	// The files the log refuses, sent at the same time: each is refused
	// for its reason, and leaves nothing behind.
	for _, s := range refused {
		wg.Go(func() {
			b, err := send(s, http.StatusBadRequest)
			if err != nil {
				errs <- err
				return
			}
			var e struct{ Error string }
			if json.Unmarshal(b, &e) != nil || !strings.Contains(e.Error, s.reason) {
				errs <- fmt.Errorf("%s: refused with %s, want %q", s.name, b, s.reason)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, s := range refused {
		if code, _ := get(t, l.URL+"/record/"+sha(s.record)); code != http.StatusNotFound {
			t.Errorf("%s: refused, and served (%d)", s.name, code)
		}
	}

	// Each answer's checkpoint is signed by the log and covers its index.
	v, err := note.NewVerifier(l.VKey)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for i, r := range results {
		n, err := note.Open([]byte(r.Checkpoint), note.VerifierList(v))
		if err != nil {
			t.Fatalf("%s: checkpoint: %v", subs[i].name, err)
		}
		cp, err := torchwood.ParseCheckpoint(n.Text)
		if err != nil || uint64(cp.N) <= r.Index || seen[r.Index] {
			t.Fatalf("%s: index %d, checkpoint size %d (%v), seen %v", subs[i].name, r.Index, cp.N, err, seen[r.Index])
		}
		seen[r.Index] = true
	}

	// Read everything back with an independent tlog-tiles client.
	entries := readLog(t, l, v)
	if len(entries) != len(subs) {
		t.Fatalf("log holds %d entries, submitted %d", len(entries), len(subs))
	}
	for i, s := range subs {
		entry := entries[indices[i]]
		if string(entry) != results[i].Statement {
			t.Errorf("%s: entry %d differs from the statement answered", s.name, indices[i])
		}
		// Re-derive the statement from the record the log serves.
		st, err := statement.Parse(entry)
		if err != nil {
			t.Fatal(err)
		}
		code, rec := get(t, l.URL+"/record/"+st.Record)
		if code != http.StatusOK || !bytes.Equal(rec, s.record) {
			t.Fatalf("%s: /record answered %d and %d bytes", s.name, code, len(rec))
		}
		code, armored := get(t, l.URL+"/keys/"+st.Builder)
		if code != http.StatusOK {
			t.Fatalf("/keys/%s: %d", st.Builder, code)
		}
		if again := derive(t, rec, armored); !bytes.Equal(again, entry) {
			t.Errorf("%s: the record derives\n%s\nnot\n%s", s.name, again, entry)
		}
	}
}

// readLog reads every entry with torchwood's client, which checks each
// tile against the checkpoint's tree hash.
func readLog(t *testing.T, l *logtest.Log, v note.Verifier) [][]byte {
	t.Helper()
	ctx := context.Background()
	cp, entries := logtest.ReadAll(t, l.URL, v)
	if cp.Origin != l.Origin {
		t.Fatalf("origin %q, want %q", cp.Origin, l.Origin)
	}
	fetcher, err := torchwood.NewTileFetcher(l.URL)
	if err != nil {
		t.Fatal(err)
	}
	client, err := torchwood.NewClient(fetcher)
	if err != nil {
		t.Fatal(err)
	}
	// Spot-check inclusion proofs too.
	for _, i := range []int64{0, cp.N / 2, cp.N - 1} {
		e, proof, err := client.Entry(ctx, cp.Tree, i)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckRecord(proof, cp.N, cp.Hash, i, tlog.RecordHash(e)); err != nil {
			t.Fatalf("inclusion of %d: %v", i, err)
		}
	}
	return entries
}

// derive is what any reader does: verify the record with the registered
// key as of its signature, parse, derive.
func derive(t *testing.T, record, armored []byte) []byte {
	t.Helper()
	signed, err := pgp.ParseClearsigned(record)
	if err != nil {
		t.Fatal(err)
	}
	key, err := pgp.ParseKey(armored, signed.Created)
	if err != nil {
		t.Fatal(err)
	}
	if err := signed.Verify(key, signed.Created); err != nil {
		t.Fatal(err)
	}
	b, err := buildinfo.Parse(signed.Text)
	if err != nil {
		t.Fatal(err)
	}
	st, err := statement.Derive(b, key.Fingerprint(), record)
	if err != nil {
		t.Fatal(err)
	}
	return st.Marshal()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
