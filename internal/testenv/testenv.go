// Package testenv says what tests do when the machine lacks something they
// need (a database server, a Debian tool, root, the module proxy): skip
// where a developer runs them by hand, fail where scripts/test runs them,
// so that CI never passes a test that tested nothing.
package testenv

import (
	"os"
	"testing"
)

// StrictEnv is the environment variable that turns skips into failures:
// with StrictEnv=1 (as scripts/test sets it), a test that cannot get what
// it needs from the machine fails instead of passing without testing
// anything.
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
