package installed

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reprolog/reprolog/internal/debtest"
)

// hookConfig is apt's hook input with the configuration lines given and
// no package.
func hookConfig(t *testing.T, lines ...string) *HookInput {
	t.Helper()
	h, err := ParseHookInput(strings.NewReader("VERSION 3\n" + strings.Join(lines, "\n") + "\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHookInputDir(t *testing.T) {
	for _, c := range []struct {
		config []string
		key    string
		want   string
	}{
		{[]string{"Dir=/srv/root/", "Dir::Cache=var/cache/apt", "Dir::Cache::archives=archives/"},
			ArchivesKey, "/srv/root/var/cache/apt/archives"},
		// apt compares keys without regard to case.
		{[]string{"Dir=/srv/root/", "dir::cache=var/cache/apt", "Dir::Cache::Archives=archives/"},
			ArchivesKey, "/srv/root/var/cache/apt/archives"},
		{[]string{"Dir=/", "Dir::Cache=/var/cache/other", "Dir::Cache::archives=archives/"},
			ArchivesKey, "/var/cache/other/archives"},
		{[]string{"Dir=/srv/root/", "Dir::Cache=var/cache/apt", "Dir::Cache::archives=/mnt/debs/"},
			ArchivesKey, "/mnt/debs"},
		// An empty parent is skipped.
		{[]string{"Dir=/srv/root/", "Dir::Cache=", "Dir::Cache::archives=archives/"},
			ArchivesKey, "/srv/root/archives"},
		{[]string{"RootDir=/chroot", "Dir=/", "Dir::Cache=var/cache/apt", "Dir::Cache::archives=archives/"},
			ArchivesKey, "/chroot/var/cache/apt/archives"},
		{[]string{"Dir=/srv%20root/", "Dir::Cache=var/cache/apt", "Dir::Cache::archives=archives/"},
			ArchivesKey, "/srv root/var/cache/apt/archives"},
		// Relative to where apt runs, or not given: unknown.
		{[]string{"Dir=/", "Dir::Cache=var/cache/apt", "Dir::Cache::archives=./archives/"}, ArchivesKey, ""},
		{[]string{"Dir::Cache=var/cache/apt", "Dir::Cache::archives=archives/"}, ArchivesKey, ""},
		{[]string{"Dir=/", "Dir::Cache=var/cache/apt"}, ArchivesKey, ""},
		{[]string{"Dir=/", "Dir::Cache=var/cache/apt", "Dir::Cache::archives=archives/", "dir::cache::archives=other/"},
			ArchivesKey, ""},
	} {
		if got := hookConfig(t, c.config...).Dir(c.key); got != c.want {
			t.Errorf("%q: Dir(%s) = %q, want %q", c.config, c.key, got, c.want)
		}
	}
}

// Dir finds the archive cache where apt itself does (apt-config), for
// configurations apt can load.
func TestHookInputDirLikeApt(t *testing.T) {
	debtest.Need(t, "apt-config")
	root := t.TempDir()
	for _, conf := range []string{
		`Dir "` + root + `/";`,
		`Dir "` + root + `/"; Dir::Cache "var/cache/other"; Dir::Cache::Archives "debs/";`,
		`Dir "` + root + `/"; Dir::Cache "` + root + `/cache"; Dir::Cache::archives "archives";`,
		`Dir "` + root + `/"; Dir::Cache ""; Dir::Cache::archives "archives/";`,
		`Dir "` + root + `/"; Dir::Cache::archives "` + root + `/mnt/debs/";`,
	} {
		path := filepath.Join(t.TempDir(), "apt.conf")
		if err := os.WriteFile(path, []byte(conf+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		env := append(os.Environ(), "APT_CONFIG="+path)
		cmd := exec.Command("apt-config", "shell", "A", ArchivesKey+"/d")
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("apt-config shell: %v", err)
		}
		want := filepath.Clean(strings.Trim(strings.TrimPrefix(strings.TrimSpace(string(out)), "A="), "'"))
		// The configuration as apt sends it to the hook.
		cmd = exec.Command("apt-config", "dump")
		cmd.Env = env
		dump, err := cmd.Output()
		if err != nil {
			t.Fatalf("apt-config dump: %v", err)
		}
		var lines []string
		for _, l := range strings.Split(string(dump), "\n") {
			key, value, ok := strings.Cut(l, " ")
			if ok && (strings.HasPrefix(key, "Dir") || key == "RootDir") && !strings.HasSuffix(key, "::") {
				lines = append(lines, key+"="+url.PathEscape(strings.TrimSuffix(strings.TrimPrefix(value, `"`), `";`)))
			}
		}
		if got := hookConfig(t, lines...).Dir(ArchivesKey); got != want {
			t.Errorf("%s: Dir = %q, apt says %q", conf, got, want)
		}
	}
}

// Refused files in apt's cache are removed; passing ones, files the log
// could not decide about, and refused files anywhere else are kept.
func TestDiscard(t *testing.T) {
	w := newWorld(t)
	cache := filepath.Join(w.dir, "root", "var", "cache", "apt", "archives")
	mk := func(dir, name, content string) debtest.Deb {
		return debtest.Build(t, dir, debtest.Package{Name: name, Version: "1.0-1", Content: content})
	}
	hello := mk(cache, "hello", "hello")
	lone := mk(cache, "lone", "lone")
	mine := mk(filepath.Join(w.dir, "mine"), "mine", "mine")
	for _, who := range []string{"alice", "bob"} {
		w.submit(t, who, build(hello.Name, hello.Version, "", hello))
	}
	w.submit(t, "alice", build(lone.Name, lone.Version, "", lone))
	w.submit(t, "alice", build(mine.Name, mine.Version, "", mine))
	// A link in the cache to a user's file is not removed either.
	link := filepath.Join(cache, "link_1.0-1_all.deb")
	if err := os.Symlink(mine.Path, link); err != nil {
		t.Fatal(err)
	}
	out, err := (&Gate{Policy: w.policy(t, w.log.URL)}).Decide(context.Background(), []string{hello.Path, lone.Path, mine.Path, link})
	if err != nil || len(out.Decisions) != 4 {
		t.Fatalf("%+v %v", out, err)
	}
	removed, err := Discard(out, cache)
	if err != nil || !slices.Equal(removed, []string{lone.Path}) {
		t.Errorf("removed %v, %v", removed, err)
	}
	for _, f := range []string{hello.Path, mine.Path, link} {
		if _, err := os.Lstat(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, err := os.Stat(lone.Path); !os.IsNotExist(err) {
		t.Errorf("the refused %s is still in the cache: %v", lone.Path, err)
	}
	if removed, err := Discard(out, ""); removed != nil || err != nil {
		t.Errorf("without a cache: removed %v, %v", removed, err)
	}
}
