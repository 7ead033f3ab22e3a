package witness

import (
	"net/http"
	"strings"
)

// checkpointPath returns the origin hash of a path /<origin hash>/checkpoint,
// where the hash is 64 lowercase hexadecimal digits.
func checkpointPath(path string) (string, bool) {
	hash, ok := strings.CutSuffix(strings.TrimPrefix(path, "/"), "/checkpoint")
	if !ok || len(hash) != 64 || strings.Trim(hash, "0123456789abcdef") != "" {
		return "", false
	}
	return hash, true
}

// serveCheckpoint serves GET /<origin hash>/checkpoint, the monitor
// retrieval API of C2SP tlog-witness: the latest checkpoint the witness
// cosigned for the log whose origin has that SHA-256, with the log's
// signatures and the cosignature the witness answered with, so that
// monitors can compare their view of the log with the witness's. It answers
// 404 for an unknown origin and while the witness has no cosignature of the
// log's to show.
func (w *Witness) serveCheckpoint(rw http.ResponseWriter, r *http.Request, hash string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rw.Header().Set("Allow", "GET, HEAD")
		http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	origin, ok := w.hashes[hash]
	if !ok {
		http.Error(rw, "unknown log", http.StatusNotFound)
		return
	}
	st, err := w.store.get(r.Context(), origin)
	if err != nil {
		w.log.ErrorContext(r.Context(), "reading the state of a log", "origin", origin, "error", err)
		http.Error(rw, "internal error", http.StatusInternalServerError)
		return
	}
	if len(st.Cosigned) == 0 {
		http.Error(rw, "the witness has no cosigned checkpoint of this log to show", http.StatusNotFound)
		return
	}
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rw.Write(st.Cosigned)
}
