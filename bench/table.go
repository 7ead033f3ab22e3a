package bench

import (
	"fmt"
	"io"
	"strings"
)

// Row is one line of the report: a measured figure beside what bounds it,
// measured in the same run.
type Row struct {
	Figure   string // what is measured
	Measured string
	Bound    string // what bounds it, and its figure
	Target   string // the target, and whether it is met
}

// PrintTable writes rows as a Markdown table.
func PrintTable(w io.Writer, rows []Row) {
	head := Row{"figure", "measured", "bound (same run)", "target"}
	width := [4]int{}
	cells := func(r Row) [4]string { return [4]string{r.Figure, r.Measured, r.Bound, r.Target} }
	for _, r := range append([]Row{head}, rows...) {
		for i, c := range cells(r) {
			width[i] = max(width[i], len(c))
		}
	}
	line := func(c [4]string) {
		var b strings.Builder
		b.WriteString("|")
		for i, s := range c {
			fmt.Fprintf(&b, " %-*s |", width[i], s)
		}
		fmt.Fprintln(w, b.String())
	}
	line(cells(head))
	line([4]string{strings.Repeat("-", width[0]), strings.Repeat("-", width[1]), strings.Repeat("-", width[2]), strings.Repeat("-", width[3])})
	for _, r := range rows {
		line(cells(r))
	}
}

// PerSec formats a rate.
func PerSec(r Rate) string { return fmt.Sprintf("%.0f/s", r.PerSecond()) }

// MiB formats a size in bytes.
func MiB(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }
