package debtest

import (
	"os"
	"strings"
	"testing"
)

func TestInstallFromRepo(t *testing.T) {
	repo := NewRepo(t)
	d := repo.Add(t, Package{Name: "hello", Version: "1:2.10-3", Content: "hello"})
	repo.Index(t)
	if d.FileName() != "hello_2.10-3_amd64.deb" || len(d.SHA256) != 64 || d.Size == 0 {
		t.Fatalf("built %+v", d)
	}
	r := NewRoot(t, repo)
	if out, code := r.AptGet(t, "update"); code != 0 {
		t.Fatalf("apt-get update: %d\n%s", code, out)
	}
	if out, code := r.AptGet(t, "install", "hello"); code != 0 {
		t.Fatalf("apt-get install: %d\n%s", code, out)
	}
	status, err := os.ReadFile(r.Status())
	if err != nil || !strings.Contains(string(status), "Package: hello\nStatus: install ok installed\n") {
		t.Fatalf("dpkg status after install: %s %v", status, err)
	}
	readme, err := os.ReadFile(r.Dir + "/usr/share/doc/hello/README")
	if err != nil || string(readme) != "hello\n" {
		t.Fatalf("installed file: %q %v", readme, err)
	}
	if out, code := r.AptGet(t, "install", "absent"); code == 0 {
		t.Fatalf("installing a package the repository lacks succeeded:\n%s", out)
	}
}
