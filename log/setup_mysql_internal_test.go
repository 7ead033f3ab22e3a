package log

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestTesseraMySQLSchema compares the schema the server applies with the
// schema.sql of the Tessera module in go.mod: an upgrade of Tessera that
// changes its schema fails here.
func TestTesseraMySQLSchema(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/transparency-dev/tessera").Output()
	if err != nil {
		t.Fatalf("finding the Tessera module: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		t.Fatal("the Tessera module is not downloaded (go mod download)")
	}
	raw, err := os.ReadFile(filepath.Join(dir, "storage", "mysql", "schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	want := normaliseSQL(string(raw))
	got := normaliseSQL(strings.Join(tesseraMySQLSchema, ";\n"))
	if len(want) == 0 {
		t.Fatal("Tessera's schema.sql holds no statements")
	}
	if len(got) != len(want) {
		t.Fatalf("%d statements applied, Tessera's schema.sql has %d:\n%s", len(got), len(want), strings.Join(want, "\n"))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("statement %d differs from Tessera's schema.sql:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}

var (
	sqlComment = regexp.MustCompile(`--[^\n]*`)
	sqlSpace   = regexp.MustCompile(`\s+`)
	sqlPunct   = regexp.MustCompile(`\s*([(),])\s*`)
)

// normaliseSQL splits SQL text into statements without comments,
// backquotes, case or layout.
func normaliseSQL(s string) []string {
	s = sqlComment.ReplaceAllString(s, "")
	s = strings.ToLower(strings.ReplaceAll(s, "`", ""))
	var out []string
	for _, q := range strings.Split(s, ";") {
		q = sqlSpace.ReplaceAllString(q, " ")
		q = strings.TrimSpace(sqlPunct.ReplaceAllString(q, "$1"))
		if q != "" {
			out = append(out, q)
		}
	}
	return out
}

func TestNormaliseSQL(t *testing.T) {
	a := normaliseSQL("-- c\nCREATE TABLE `T` (\n  `a` INT, -- x\n  PRIMARY KEY(`a`)\n);\n\nINSERT IGNORE INTO T (a) VALUES (0);")
	b := normaliseSQL("create table T (a int, primary key (a)); insert ignore into t(a) values(0)")
	if len(a) != 2 || strings.Join(a, ";") != strings.Join(b, ";") {
		t.Errorf("%q\n%q", a, b)
	}
	if c := normaliseSQL("create table T (a bigint, primary key (a))"); c[0] == a[0] {
		t.Errorf("a changed type normalises to the same statement")
	}
}
