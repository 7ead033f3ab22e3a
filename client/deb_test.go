package client

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/reprolog/reprolog/internal/testenv"
)

func TestReadDeb(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		testenv.Unavailable(t, "dpkg-deb is not installed (scripts/test-deps.sh installs it)")
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(filepath.Join(root, "DEBIAN"), 0o755); err != nil {
		t.Fatal(err)
	}
	control := "Package: greet\nVersion: 1:1.0-1+b2\nArchitecture: arm64\nMaintainer: T <t@example.org>\nDescription: d\n"
	if err := os.WriteFile(filepath.Join(root, "DEBIAN", "control"), []byte(control), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "greet.deb")
	if out, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", root, path).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v: %s", err, out)
	}
	d, err := ReadDeb(path)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	sum := sha256.Sum256(data)
	want := Target{Package: "greet", Version: "1:1.0-1+b2", Arch: "arm64", SHA256: hex.EncodeToString(sum[:])}
	if d.Target != want || d.Path != path {
		t.Errorf("ReadDeb = %+v, want %+v", d, want)
	}
	for name, data := range map[string][]byte{"empty": nil, "text": []byte("hello\n"), "truncated": data[:len(data)/2]} {
		bad := filepath.Join(dir, name)
		os.WriteFile(bad, data, 0o644)
		if _, err := ReadDeb(bad); err == nil {
			t.Errorf("ReadDeb accepted a %s file", name)
		}
	}
	if _, err := ReadDeb(filepath.Join(dir, "missing.deb")); err == nil {
		t.Error("ReadDeb of a missing file succeeded")
	}
}
