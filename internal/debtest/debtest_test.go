package debtest

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

func TestInstallFromRepo(t *testing.T) {
	repo := NewRepo(t)
	d := repo.Add(t, Package{Name: "hello", Version: "1:2.10-3", Content: "hello"})
	repo.Index(t)
	if d.FileName() != "hello_2.10-3_"+Arch()+".deb" || d.Arch != Arch() || len(d.SHA256) != 64 || d.Size == 0 {
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

// recorder is a test that records how Need ends it. Like a real test's,
// its Skipf and Fatalf stop the goroutine that calls them.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Skipf(format string, a ...any) {
	r.skipped = fmt.Sprintf(format, a...)
	runtime.Goexit()
}
func (r *recorder) Fatalf(format string, a ...any) {
	r.failed = fmt.Sprintf(format, a...)
	runtime.Goexit()
}

// need runs Need in a goroutine of its own, as a test runs.
func (r *recorder) need(tools ...string) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		Need(r, tools...)
	}()
	<-done
}

func TestNeed(t *testing.T) {
	for _, c := range []struct {
		strict, tool string
		skips, fails bool
	}{
		{"", "sh", false, false},
		{"1", "sh", false, false},
		{"", "reprolog-no-such-tool", true, false},
		{"0", "reprolog-no-such-tool", true, false},
		{"1", "reprolog-no-such-tool", false, true},
	} {
		t.Setenv("REPROLOG_STRICT", c.strict)
		r := &recorder{TB: t}
		r.need(c.tool)
		if (r.skipped != "") != c.skips || (r.failed != "") != c.fails ||
			(r.failed != "" && !strings.Contains(r.failed, "REPROLOG_STRICT=1")) {
			t.Errorf("REPROLOG_STRICT=%q, %s: skipped %q, failed %q", c.strict, c.tool, r.skipped, r.failed)
		}
	}
}

func TestArch(t *testing.T) {
	Need(t, "dpkg")
	out, err := exec.Command("dpkg", "--print-architecture").Output()
	if err != nil || Arch() != strings.TrimSpace(string(out)) {
		t.Errorf("Arch() = %q; dpkg says %q (%v)", Arch(), out, err)
	}
	if p := (Package{Name: "x", Version: "1:1.0-1", Arch: "all"}); p.FileName() != "x_1.0-1_all.deb" {
		t.Errorf("FileName() = %q", p.FileName())
	}
}
