package debtest

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Repo is a flat apt repository ("deb [trusted=yes] URL ./") served over
// HTTP on 127.0.0.1 until the test ends.
type Repo struct {
	Dir string
	URL string
}

// NewRepo starts an empty repository.
func NewRepo(t testing.TB) *Repo {
	t.Helper()
	r := &Repo{Dir: t.TempDir()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(r.Dir)), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	r.URL = "http://" + ln.Addr().String() + "/"
	r.Index(t)
	return r
}

// Add builds p into the repository; call Index afterwards.
func (r *Repo) Add(t testing.TB, p Package) Deb {
	t.Helper()
	return Build(t, r.Dir, p)
}

// Index writes the Packages index of the repository with
// dpkg-scanpackages.
func (r *Repo) Index(t testing.TB) {
	t.Helper()
	Need(t, "dpkg-scanpackages")
	cmd := exec.Command("dpkg-scanpackages", "--multiversion", ".", "/dev/null")
	cmd.Dir = r.Dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dpkg-scanpackages: %v", err)
	}
	if err := os.WriteFile(filepath.Join(r.Dir, "Packages"), out, 0o644); err != nil {
		t.Fatal(err)
	}
}
