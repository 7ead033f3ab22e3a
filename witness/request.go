package witness

import (
	"bytes"
	"errors"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

const (
	// MaxRequestSize caps an add-checkpoint request body. A checkpoint with
	// a few signatures and a full 63-line proof is a few KiB.
	MaxRequestSize = 64 << 10
	// maxProofLines is the limit C2SP tlog-witness puts on clients.
	maxProofLines = 63
)

// errMalformed is the one error for any malformed request: the attacker's
// bytes are not echoed back.
var errMalformed = errors.New("malformed add-checkpoint request")

// An addRequest is a parsed C2SP tlog-witness add-checkpoint body:
//
//	old <size>
//	<base64 hash>       (zero to 63 proof lines)
//	                    (empty line)
//	<signed checkpoint note>
type addRequest struct {
	oldSize    int64
	proof      tlog.TreeProof
	checkpoint []byte
}

// parseAddRequest parses an add-checkpoint body strictly: canonical decimal
// old size, canonical base64 proof hashes, no carriage returns, and a
// non-empty note after the blank line. The note itself is checked later by
// note.Open.
func parseAddRequest(body []byte) (*addRequest, error) {
	if len(body) > MaxRequestSize {
		return nil, errMalformed
	}
	head, cp, ok := bytes.Cut(body, []byte("\n\n"))
	if !ok || len(cp) == 0 {
		return nil, errMalformed
	}
	lines := strings.Split(string(head), "\n")
	if len(lines)-1 > maxProofLines {
		return nil, errMalformed
	}
	size, ok := strings.CutPrefix(lines[0], "old ")
	if !ok {
		return nil, errMalformed
	}
	old, err := strconv.ParseInt(size, 10, 64)
	if err != nil || old < 0 || strconv.FormatInt(old, 10) != size {
		return nil, errMalformed
	}
	r := &addRequest{oldSize: old, checkpoint: cp}
	for _, l := range lines[1:] {
		h, err := tlog.ParseHash(l)
		if err != nil || h.String() != l {
			return nil, errMalformed
		}
		r.proof = append(r.proof, h)
	}
	return r, nil
}
