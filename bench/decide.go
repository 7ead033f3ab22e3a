package bench

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Debs builds, with dpkg-deb, the .deb of the first binary package of each
// of the given builds in dir, and makes w list their real hashes and sizes
// for those builds. It returns their paths, in the order of builds.
func Debs(dir string, w *World, builds []int) ([]string, error) {
	if w.Override == nil {
		w.Override = map[int][]File{}
	}
	paths := make([]string, len(builds))
	for i, b := range builds {
		build := w.Build(b)
		pkg := build.Source
		tree := filepath.Join(dir, "tree", pkg+"_"+build.Version)
		doc := filepath.Join(tree, "usr", "share", "doc", pkg)
		for _, d := range []string{filepath.Join(tree, "DEBIAN"), doc} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return nil, err
			}
		}
		control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: Bench <bench@example.org>\n"+
			"Description: a benchmark package\n", pkg, build.Version)
		if err := os.WriteFile(filepath.Join(tree, "DEBIAN", "control"), []byte(control), 0o644); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(doc, "README"), []byte(pkg+" "+build.Version+"\n"), 0o644); err != nil {
			return nil, err
		}
		name := fmt.Sprintf("%s_%s_amd64.deb", pkg, build.Version)
		path := filepath.Join(dir, name)
		if out, err := exec.Command("dpkg-deb", "--root-owner-group", "-Zgzip", "--build", tree, path).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("dpkg-deb: %v: %s", err, out)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(data)
		w.Override[b] = []File{{Name: name, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))}}
		paths[i] = path
	}
	return paths, os.RemoveAll(filepath.Join(dir, "tree"))
}

// Policy writes, in dir, a policy for the log at url that trusts rebs with
// threshold k, and returns its path.
func Policy(dir, url, vkey string, rebs []*Rebuilder, k int) (string, error) {
	var s strings.Builder
	fmt.Fprintf(&s, "Log-URL: %s\nLog-Key: %s\nThreshold: %d\nState-Dir: state\nTimeout: 60s\n", url, vkey, k)
	for _, r := range rebs {
		keyFile := r.Name + ".asc"
		if err := os.WriteFile(filepath.Join(dir, keyFile), r.PublicArmored(), 0o644); err != nil {
			return "", err
		}
		fmt.Fprintf(&s, "\nBuilder: %s\nKey-File: %s\n", r.Name, keyFile)
	}
	path := filepath.Join(dir, "policy")
	return path, os.WriteFile(path, []byte(s.String()), 0o644)
}

// Latency is the distribution of repeated runs.
type Latency struct {
	Runs     int
	P50, Max time.Duration
}

// VerifyCommand runs `reprolog verify --policy POLICY DEBS...` runs times
// and returns how long each took. Every run must pass (exit 0): the files
// are reproducible under the policy.
func VerifyCommand(reprolog, policy string, debs []string, runs int) (Latency, error) {
	l, err := VerifyCommands([]string{reprolog}, policy, debs, runs)
	if err != nil {
		return Latency{}, err
	}
	return l[0], nil
}

// VerifyCommands is VerifyCommand for several reprolog binaries, e.g. two
// builds to compare: they take turns, run by run, so that other work on
// the machine weighs on each alike.
func VerifyCommands(programs []string, policy string, debs []string, runs int) ([]Latency, error) {
	times := make([][]time.Duration, len(programs))
	for range runs {
		for i, reprolog := range programs {
			var stderr bytes.Buffer
			cmd := exec.Command(reprolog, append([]string{"verify", "--policy", policy}, debs...)...)
			cmd.Stderr = &stderr
			t0 := time.Now()
			err := cmd.Run()
			times[i] = append(times[i], time.Since(t0))
			if err != nil {
				return nil, fmt.Errorf("%s verify: %v: %s", reprolog, err, stderr.Bytes())
			}
		}
	}
	out := make([]Latency, len(programs))
	for i, t := range times {
		slices.Sort(t)
		out[i] = Latency{Runs: runs, P50: percentile(t, 50), Max: t[len(t)-1]}
	}
	return out, nil
}

// Lookups asks the log at url, one request after another as `reprolog
// verify` does, for the statements of the first binary package of each
// build, and returns how long they took together. Each answer must name
// at least one entry.
func Lookups(url string, w *World, builds []int) (time.Duration, error) {
	client := &http.Client{}
	start := time.Now()
	for _, b := range builds {
		build := w.Build(b)
		q := neturl.Values{"package": {build.Source}, "version": {build.Version}, "arch": {"amd64"}}
		resp, err := client.Get(url + "/lookup?" + q.Encode())
		if err != nil {
			return 0, err
		}
		var res struct{ Indices []uint64 }
		err = json.NewDecoder(resp.Body).Decode(&res)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || len(res.Indices) == 0 {
			return 0, fmt.Errorf("lookup %s: %s, %d entries (%v)", q.Encode(), resp.Status, len(res.Indices), err)
		}
	}
	return time.Since(start), nil
}

// ProcessStart runs `PROGRAM help` runs times: for reprolog, the floor of
// any reprolog command (it exits 2 after printing its usage).
func ProcessStart(program string, runs int) Latency {
	var times []time.Duration
	for range runs {
		t0 := time.Now()
		exec.Command(program, "help").Run()
		times = append(times, time.Since(t0))
	}
	slices.Sort(times)
	return Latency{Runs: runs, P50: percentile(times, 50), Max: times[len(times)-1]}
}
