package client

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/reprolog/reprolog/witness"
)

// loadWitnessPolicy reads the C2SP tlog-policy file that a policy's
// Witness-Policy field names (name as written, at path).
//
// A quorum of "none" is refused: naming witnesses promises that every
// checkpoint carries their cosignatures, whose times Max-Age bounds, and
// with no cosignature required no checkpoint could ever meet that, so
// every verification would fail. The parser allows no other quorum that
// can never be met: every group needs between one and all of its members.
func loadWitnessPolicy(name, path string) (*witness.Policy, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("Witness-Policy: %v", err)
	}
	wp, err := witness.ParsePolicy(data)
	if err != nil {
		return nil, fmt.Errorf("Witness-Policy %s: %v", name, err)
	}
	if quorumNone(data) {
		return nil, fmt.Errorf("Witness-Policy %s: its quorum line is \"quorum none\", which requires no cosignature, "+
			"so no checkpoint would ever carry the witness times Max-Age needs: name a witness or group on the quorum "+
			"line, or remove Witness-Policy (and Max-Age) to trust the log's signature alone", name)
	}
	return wp, nil
}

// quorumNone reports whether a tlog-policy, already accepted by
// witness.ParsePolicy, has the line "quorum none" (fields separated by
// spaces and tabs, as the specification says).
func quorumNone(data []byte) bool {
	for line := range bytes.Lines(data) {
		f := strings.FieldsFunc(string(line), func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' })
		if len(f) == 2 && f[0] == "quorum" && f[1] == "none" {
			return true
		}
	}
	return false
}
