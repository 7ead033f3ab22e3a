package witnesstest

import (
	"os"
	"testing"
)

// StrictEnv is the environment variable that turns skips into failures:
// with StrictEnv=1 (as scripts/test sets it), a test that cannot get what
// it needs from the machine (a module proxy, root, a database server)
// fails instead of passing without testing anything.
const StrictEnv = "REPROLOG_STRICT"

// Unavailable skips the test because something it needs from the machine
// is missing, or fails it when StrictEnv is 1.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv(StrictEnv) == "1" {
		t.Fatalf(format+" (failing, not skipping, because "+StrictEnv+"=1)", args...)
	}
	t.Skipf(format, args...)
}
