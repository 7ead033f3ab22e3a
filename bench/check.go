package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// System writes, in dir, the dpkg status file and an apt Packages list of
// a system on which the binary packages of w's builds 0, 1, ... are
// installed, n of them, with the hashes the builds list. It returns their
// paths, and the build of each package.
func System(dir string, w *World, n int) (status, lists string, builds []int, err error) {
	var st, pk strings.Builder
	count := 0
	for b := 0; count < n; b++ {
		build := w.Build(b)
		for _, f := range build.Files {
			if count == n {
				break
			}
			pkg := strings.SplitN(f.Name, "_", 2)[0]
			fmt.Fprintf(&st, "Package: %s\nStatus: install ok installed\nPriority: optional\nSection: misc\n"+
				"Installed-Size: 10\nMaintainer: Bench <bench@example.org>\nArchitecture: amd64\nVersion: %s\n"+
				"Description: a benchmark package\n\n", pkg, build.Version)
			fmt.Fprintf(&pk, "Package: %s\nVersion: %s\nArchitecture: amd64\nFilename: pool/%s\nSize: %d\nSHA256: %s\n\n",
				pkg, build.Version, f.Name, f.Size, f.SHA256)
			count++
			builds = append(builds, b)
		}
	}
	status = filepath.Join(dir, "status")
	lists = filepath.Join(dir, "lists")
	if err := os.MkdirAll(lists, 0o755); err != nil {
		return "", "", nil, err
	}
	if err := os.WriteFile(status, []byte(st.String()), 0o644); err != nil {
		return "", "", nil, err
	}
	err = os.WriteFile(filepath.Join(lists, "bench_dists_stable_main_binary-amd64_Packages"), []byte(pk.String()), 0o644)
	return status, lists, builds, err
}

// CheckResult is what `reprolog check --json` reported.
type CheckResult struct {
	Total   int            `json:"total"`
	Decided int            `json:"decided"`
	Counts  map[string]int `json:"counts"`
}

// CheckCommand runs `reprolog check` runs times on the system of status
// and lists. Cold runs start without the state of the previous check
// (health.json in the policy's state directory, stateDir).
func CheckCommand(reprolog, policy, stateDir, status, lists string, cold bool, runs int) (Latency, CheckResult, error) {
	var times []time.Duration
	var res CheckResult
	for range runs {
		if cold {
			if err := os.Remove(filepath.Join(stateDir, "health.json")); err != nil && !os.IsNotExist(err) {
				return Latency{}, res, err
			}
		}
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(reprolog, "check", "--policy", policy, "--status", status, "--lists", lists, "--json")
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		t0 := time.Now()
		err := cmd.Run()
		times = append(times, time.Since(t0))
		if err != nil {
			return Latency{}, res, fmt.Errorf("reprolog check: %v: %s", err, stderr.Bytes())
		}
		if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
			return Latency{}, res, fmt.Errorf("reprolog check --json: %v", err)
		}
	}
	slices.Sort(times)
	return Latency{Runs: runs, P50: percentile(times, 50), Max: times[len(times)-1]}, res, nil
}
