package installed

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/reprolog/reprolog/client"
	"github.com/reprolog/reprolog/proofs"
)

// BundleSuffix is appended to a .deb's name to name its offline proof
// bundle.
const BundleSuffix = ".proof"

// Gate makes the apt hook's decisions: whether each .deb about to be
// unpacked may be installed.
type Gate struct {
	Policy *client.Policy
	// ProofDirs are searched, after the .deb's own directory, for offline
	// proof bundles named after the .deb with BundleSuffix.
	ProofDirs []string
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
}

// Outcome is what a Gate decided about a batch of files.
type Outcome struct {
	// Decisions holds one decision per file decided, in the order given.
	Decisions []*client.Decision
	// Offline[i] is set when Decisions[i] came from a proof bundle.
	Offline []bool
	// Failures are the files no decision could be made about.
	Failures []Failure
}

// Failure is a file the gate could not decide about.
type Failure struct {
	File   string
	Target client.Target // zero when the file could not be read
	Err    error
}

// Pass reports whether every file was decided and may be installed.
func (o *Outcome) Pass() bool {
	for _, d := range o.Decisions {
		if !d.Verdict.Pass() {
			return false
		}
	}
	return len(o.Failures) == 0
}

// Unreachable reports whether err means the log could not be reached (a
// refused connection, a timeout), rather than that it failed verification.
func Unreachable(err error) bool {
	var ne net.Error
	var se *SlowError
	return errors.As(err, &ne) || errors.As(err, &se) || errors.Is(err, context.DeadlineExceeded)
}

func (g *Gate) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

// Decide reads each file and decides about all of them together, from
// the log, within Limit. When the log cannot be reached (Unreachable, or
// too slow to decide within Limit), each file is
// decided from its offline bundle if there is one, and fails otherwise.
// When the log answers but fails verification (a bad signature or proof,
// a malformed answer, a fork), every file fails: offline bundles must not
// hide a misbehaving log. Every decision is added to the journal in
// State-Dir, and so is every file refused without one, as Undecided.
func (g *Gate) Decide(ctx context.Context, files []string) (*Outcome, error) {
	out := &Outcome{}
	debs, failures := readDebs(files)
	out.Failures = failures
	if len(debs) > 0 {
		v := &client.Verifier{Policy: g.Policy, Now: g.Now}
		lctx, cancel := withLimit(ctx, g.Policy, len(debs))
		decisions, err := v.Verify(lctx, debs)
		err = slow(lctx, err)
		cancel()
		switch {
		case err == nil:
			out.Decisions = decisions
			out.Offline = make([]bool, len(decisions))
		case !Unreachable(err):
			for _, d := range debs {
				out.Failures = append(out.Failures, Failure{File: d.Path, Target: d.Target, Err: err})
			}
		default:
			for _, d := range debs {
				dec, berr := g.offline(v, d)
				if dec == nil {
					if berr != nil {
						err = fmt.Errorf("%w; the offline proof %s: %w", err, d.Path+BundleSuffix, berr)
					}
					out.Failures = append(out.Failures, Failure{File: d.Path, Target: d.Target, Err: err})
					continue
				}
				out.Decisions = append(out.Decisions, dec)
				out.Offline = append(out.Offline, true)
			}
		}
	}
	if len(out.Decisions)+len(out.Failures) > 0 {
		now := g.now()
		var recs []Record
		for i, d := range out.Decisions {
			recs = append(recs, RecordOf(d, now, out.Offline[i]))
		}
		for _, f := range out.Failures {
			recs = append(recs, Record{Time: now.UTC(), Target: f.Target, File: f.File, Verdict: Undecided, Reason: f.Err.Error()})
		}
		if err := OpenJournal(g.Policy.StateDir).Append(recs...); err != nil {
			return out, err
		}
	}
	return out, nil
}

// readDebs reads the files in parallel; those that cannot be read fail.
func readDebs(files []string) ([]client.Deb, []Failure) {
	debs := make([]client.Deb, len(files))
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, f := range files {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			debs[i], errs[i] = client.ReadDeb(f)
		})
	}
	wg.Wait()
	var ok []client.Deb
	var failures []Failure
	for i, f := range files {
		if errs[i] != nil {
			failures = append(failures, Failure{File: f, Err: errs[i]})
		} else {
			ok = append(ok, debs[i])
		}
	}
	return ok, failures
}

// offline decides about d from its bundle. It returns nil and no error
// when there is no bundle.
func (g *Gate) offline(v *client.Verifier, d client.Deb) (*client.Decision, error) {
	name := filepath.Base(d.Path) + BundleSuffix
	var data []byte
	for _, dir := range append([]string{filepath.Dir(d.Path)}, g.ProofDirs...) {
		b, err := readBundleFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		data = b
		break
	}
	if data == nil {
		return nil, nil
	}
	b, err := proofs.ParseBundle(data)
	if err != nil {
		return nil, err
	}
	dec, err := v.VerifyOffline(b, d)
	if err != nil {
		return nil, err
	}
	return dec, nil
}

func readBundleFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Size() > proofs.MaxBundleSize {
		return nil, fmt.Errorf("%s: not a regular file of at most %d bytes", path, proofs.MaxBundleSize)
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil {
		return nil, err
	}
	return data, nil
}
