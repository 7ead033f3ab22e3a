package witness

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"syscall"

	"modernc.org/sqlite"
)

// ServeHTTP serves the C2SP tlog-witness API:
//
//	POST /add-checkpoint
//	GET  /<origin hash>/checkpoint
//
// The second is the monitor retrieval API (see serveCheckpoint). The first
// answers with the status codes the specification gives: 200 and the cosignature
// line, 400 malformed (or old size larger than the checkpoint's), 403 no
// valid signature of the log (or an invalid one from a known key), 404
// unknown origin, 409 with Content-Type text/x.tlog.size and the held size
// when the old size is not the held one, 413 body too large, 422 bad
// consistency proof (or the held size with another root hash, or size 0
// without the empty tree's hash); and 503 with Retry-After while its
// storage is full or cannot be written.
func (w *Witness) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if hash, ok := checkpointPath(r.URL.Path); ok {
		w.serveCheckpoint(rw, r, hash)
		return
	}
	if r.URL.Path != "/add-checkpoint" {
		http.NotFound(rw, r)
		return
	}
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, MaxRequestSize))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(rw, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(rw, "reading request body failed", http.StatusBadRequest)
		return
	}
	cosig, err := w.add(r.Context(), body)
	var conflict *conflictError
	status := http.StatusOK
	switch {
	case err == nil:
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.Write(cosig)
		return
	case errors.As(err, &conflict):
		status = http.StatusConflict
		rw.Header().Set("Content-Type", "text/x.tlog.size")
		rw.WriteHeader(status)
		fmt.Fprintf(rw, "%d\n", conflict.size)
	case errors.Is(err, errMalformed), errors.Is(err, errOldTooLarge):
		status = http.StatusBadRequest
	case errors.Is(err, errBadSignature):
		status = http.StatusForbidden
	case errors.Is(err, errUnknownLog):
		status = http.StatusNotFound
	case errors.Is(err, errBadProof), errors.Is(err, errFork), errors.Is(err, errEmptyTree):
		status = http.StatusUnprocessableEntity
	case storageUnavailable(err):
		w.log.ErrorContext(r.Context(), "add-checkpoint failed: storage full or unwritable", "error", err)
		rw.Header().Set("Retry-After", "10")
		http.Error(rw, "the witness's storage is full or cannot be written: nothing was cosigned, retry later", http.StatusServiceUnavailable)
		return
	default:
		w.log.ErrorContext(r.Context(), "add-checkpoint failed", "error", err)
		http.Error(rw, "internal error", http.StatusInternalServerError)
		return
	}
	if conflict == nil {
		http.Error(rw, err.Error(), status)
	}
	w.log.InfoContext(r.Context(), "refused add-checkpoint", "status", status, "reason", err, "remote", r.RemoteAddr)
}

// storageUnavailable reports whether err means that the state cannot be
// written now (disk full, read-only or failing file system): a condition
// the operator can fix, so the log should retry.
func storageUnavailable(err error) bool {
	for _, e := range []error{syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EIO} {
		if errors.Is(err, e) {
			return true
		}
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 8, 10, 13, 14: // SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN
			return true
		}
	}
	return false
}
