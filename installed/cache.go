package installed

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ArchivesKey names apt's archive cache, where it keeps the .deb files it
// downloads, in the configuration it sends the hook.
const ArchivesKey = "Dir::Cache::archives"

// Discard removes the refused .deb files that lie in apt's archive cache
// directory (HookInput.Dir(ArchivesKey)): apt downloaded them and checked
// them against its lists, and left there they look verified (apt would
// install one without downloading it again, other tools take files from
// there). Files the log could not decide about are kept for the next try,
// and a .deb anywhere else, such as one a user passed with
// `apt install ./x.deb`, is never touched. It returns the files removed.
func Discard(out *Outcome, cache string) (removed []string, err error) {
	if cache == "" {
		return nil, nil
	}
	var errs []error
	for _, d := range out.Decisions {
		f := d.File
		if d.Verdict.Pass() || f == "" || filepath.Dir(filepath.Clean(f)) != filepath.Clean(cache) ||
			!strings.HasSuffix(f, ".deb") {
			continue
		}
		st, err := os.Lstat(f)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		if err := os.Remove(f); err != nil {
			errs = append(errs, fmt.Errorf("removing the refused %s: %w", f, err))
			continue
		}
		removed = append(removed, f)
	}
	return removed, errors.Join(errs...)
}
