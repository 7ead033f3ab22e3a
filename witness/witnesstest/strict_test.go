package witnesstest_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/reprolog/reprolog/internal/testenv"
	"github.com/reprolog/reprolog/witness/witnesstest"
)

// TestInstallLitewitnessOffline runs InstallLitewitness in a child test
// process with no module proxy and an empty module cache: it skips, unless
// REPROLOG_STRICT=1, when it fails, so that an interop test cannot pass
// without running litewitness.
func TestInstallLitewitnessOffline(t *testing.T) {
	if os.Getenv("WITNESSTEST_OFFLINE_CHILD") == "1" {
		witnesstest.InstallLitewitness(t)
		t.Fatal("litewitness was installed with no module proxy and an empty module cache")
	}
	for _, tt := range []struct {
		strict string
		want   string
	}{
		{"", "--- SKIP"},
		{"0", "--- SKIP"},
		{"1", "--- FAIL"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestInstallLitewitnessOffline$", "-test.v")
		cmd.Env = append(os.Environ(), "WITNESSTEST_OFFLINE_CHILD=1", testenv.StrictEnv+"="+tt.strict,
			"GOPROXY=off", "GOMODCACHE="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if !strings.Contains(string(out), tt.want) || !strings.Contains(string(out), "offline") {
			t.Fatalf("%s=%q: want %s for a litewitness that cannot be installed offline, got (%v):\n%s", testenv.StrictEnv, tt.strict, tt.want, err, out)
		}
		if failed := err != nil; failed != (tt.want == "--- FAIL") {
			t.Fatalf("%s=%q: child test exit %v, want it to fail: %v", testenv.StrictEnv, tt.strict, err, !failed)
		}
	}
}
