package log_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	rlog "github.com/reprolog/reprolog/log"
	"github.com/reprolog/reprolog/log/logtest"
)

// TestStorageKinds: a database keeps the tiles of its log in one place.
// One whose tiles are in MySQL is refused for a bucket; one whose tiles
// are in a bucket is refused for another bucket, and for MySQL before
// Tessera's MySQL tables are added to it.
func TestStorageKinds(t *testing.T) {
	if logtest.Current() != logtest.MySQL {
		t.Skip("once, on the MySQL pass")
	}
	ctx := context.Background()
	inMySQL := logtest.NewDatabase(t)
	cfg, err := rlog.SetupMySQL(ctx, t.TempDir(), inMySQL, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store.Close()
	bucket := logtest.NewBucket(t)
	if _, err := rlog.SetupAWS(ctx, t.TempDir(), inMySQL, bucket, ""); err == nil || !strings.Contains(err.Error(), `tiles "mysql"`) {
		t.Errorf("a MySQL log's database for a bucket: %v", err)
	}

	inBucket := logtest.NewDatabase(t)
	cfg, err = rlog.SetupAWS(ctx, t.TempDir(), inBucket, bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store.Close()
	other := logtest.NewBucket(t)
	if _, err := rlog.SetupAWS(ctx, t.TempDir(), inBucket, other, ""); err == nil || !strings.Contains(err.Error(), bucket.Name) {
		t.Errorf("another bucket: %v", err)
	}
	if _, err := rlog.SetupMySQL(ctx, t.TempDir(), inBucket, ""); err == nil || !strings.Contains(err.Error(), bucket.Name) {
		t.Errorf("a bucket log's database for MySQL: %v", err)
	}
	db, err := sql.Open("mysql", inBucket)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'Subtree'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("Tessera's MySQL tables were added: %d, %v", n, err)
	}
}
