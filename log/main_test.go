package log_test

import (
	"os"
	"testing"

	"github.com/reprolog/reprolog/log/logtest"
)

// TestMain runs every test on the embedded default and, when
// REPROLOG_TEST_MYSQL_DSN names a server, again on MySQL.
func TestMain(m *testing.M) { os.Exit(logtest.RunBackends(m)) }
