package log

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprolog/reprolog/buildinfo"
	"github.com/reprolog/reprolog/pgp"
)

// MaxKeySize bounds a registered public key.
const MaxKeySize = 1 << 20

var (
	sha256Path      = regexp.MustCompile(`^[0-9a-f]{64}$`)
	fingerprintPath = regexp.MustCompile(`^([0-9A-F]{40}|[0-9A-F]{64})$`)
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /add", s.handleAdd)
	mux.HandleFunc("POST /keys", s.handleAddKey)
	mux.HandleFunc("GET /keys/{fingerprint}", s.handleKey)
	mux.HandleFunc("GET /record/{sha256}", s.handleRecord)
	mux.HandleFunc("GET /lookup", s.handleLookup)
	mux.HandleFunc("GET /checkpoint", s.handleCheckpoint)
	mux.HandleFunc("GET /tile/", s.handleTile)
	mux.HandleFunc("GET /log.pub", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, s.cfg.VerifierKey)
	})
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "reprolog log %s\nverifier key: %s\n", s.origin, s.cfg.VerifierKey)
	})
	return mux
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers {"error": msg}, with Retry-After when the client
// should come back.
func writeError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Msg: "internal error"}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			e = &Error{Status: http.StatusServiceUnavailable, Msg: "timed out: retry later", RetryAfter: time.Second}
		}
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(e.RetryAfter.Round(time.Second)/time.Second)))
	}
	writeJSON(w, e.Status, map[string]string{"error": e.Msg})
}

// readBody reads a request body of at most max bytes, refusing content
// types that cannot be a clear-signed text or an armored key.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !acceptedTypes[mt] {
			return nil, refuse(http.StatusUnsupportedMediaType, nil,
				"content type %q not accepted: send the clear-signed text itself (text/plain)", truncate(ct))
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, refuse(http.StatusRequestEntityTooLarge, err, "body larger than %d bytes", max)
	case err != nil:
		return nil, refuse(http.StatusBadRequest, err, "reading the body: %v", err)
	case len(body) == 0:
		return nil, refuse(http.StatusBadRequest, nil, "empty body")
	}
	return body, nil
}

var acceptedTypes = map[string]bool{
	"text/plain":                true,
	"application/octet-stream":  true,
	"application/pgp-signature": true,
	"application/pgp-keys":      true,
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// refusedTooOften answers 429 when the client has made too many refused
// requests, and reports whether it did.
func (s *Server) refusedTooOften(w http.ResponseWriter, r *http.Request) bool {
	if blocked, wait := s.failures.empty(clientKey(r.RemoteAddr)); blocked {
		wait = max(wait, time.Second)
		writeError(w, &Error{Status: http.StatusTooManyRequests, RetryAfter: wait,
			Msg: fmt.Sprintf("too many refused requests from this address: retry in %v", wait.Round(time.Second))})
		return true
	}
	return false
}

// countRefusal charges the client for a request refused as bad input.
func (s *Server) countRefusal(r *http.Request, err error) {
	var e *Error
	if errors.As(err, &e) {
		switch e.Status {
		case http.StatusBadRequest, http.StatusForbidden, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			s.failures.take(clientKey(r.RemoteAddr))
		}
	}
}

func (s *Server) handleAdd(w http.ResponseWriter, r *http.Request) {
	if s.refusedTooOften(w, r) {
		return
	}
	body, err := readBody(w, r, s.cfg.MaxRecordSize)
	if err != nil {
		s.countRefusal(r, err)
		writeError(w, err)
		return
	}
	res, err := s.Submit(r.Context(), body)
	if err != nil {
		s.countRefusal(r, err)
		writeError(w, err)
		return
	}
	status := http.StatusCreated
	if res.Duplicate {
		status = http.StatusOK
	}
	writeJSON(w, status, res)
}

// KeyResult answers a key registration.
type KeyResult struct {
	Fingerprint string `json:"fingerprint"`
	// New is true for a key the log did not know.
	New bool `json:"new"`
	// Updated is true when the log replaced its copy of a known key with a
	// newer one (one that keeps every packet of the stored copy).
	Updated bool `json:"updated"`
}

func (s *Server) handleAddKey(w http.ResponseWriter, r *http.Request) {
	if s.refusedTooOften(w, r) {
		return
	}
	body, err := readBody(w, r, MaxKeySize)
	if err == nil {
		var key *pgp.Key
		var change keyChange
		key, change, err = s.keys.register(r.Context(), body)
		if err == nil {
			s.keyRegistered(w, key, change)
			return
		}
	}
	switch {
	case errors.As(err, new(*Error)):
	case errors.Is(err, ErrKeyNotAllowed):
		err = refuse(http.StatusForbidden, err, "%v", err)
	case errors.Is(err, pgp.ErrKeyExpired), errors.Is(err, pgp.ErrKeyRevoked), errors.Is(err, ErrRevokedNow):
		err = refuse(http.StatusForbidden, err, "%v", err)
	case errors.Is(err, errStore):
		err = s.internal("storing the key", err)
	default:
		err = refuse(http.StatusBadRequest, err, "%v", err)
	}
	if !errors.Is(err, ErrRevokedNow) { // a revocation the log took is no failure
		s.countRefusal(r, err)
	}
	writeError(w, err)
}

func (s *Server) keyRegistered(w http.ResponseWriter, key *pgp.Key, change keyChange) {
	status := http.StatusOK
	switch change {
	case keyNew:
		status = http.StatusCreated
		s.log.Info("registered a rebuilder key", "fingerprint", key.Fingerprint())
	case keyUpdated:
		s.log.Info("updated a rebuilder key", "fingerprint", key.Fingerprint())
	}
	writeJSON(w, status, KeyResult{Fingerprint: key.Fingerprint(), New: change == keyNew, Updated: change == keyUpdated})
}

func (s *Server) handleKey(w http.ResponseWriter, r *http.Request) {
	fpr := strings.ToUpper(r.PathValue("fingerprint"))
	if !fingerprintPath.MatchString(fpr) {
		writeError(w, refuse(http.StatusBadRequest, nil, "not a key fingerprint: want 40 or 64 hex digits"))
		return
	}
	armored, err := s.store.Key(r.Context(), fpr)
	if errors.Is(err, ErrNotFound) {
		writeError(w, refuse(http.StatusNotFound, err, "no key %s is registered", fpr))
		return
	} else if err != nil {
		writeError(w, s.internal("reading a key", err))
		return
	}
	w.Header().Set("Content-Type", "application/pgp-keys")
	w.Write(armored)
}

func (s *Server) handleRecord(w http.ResponseWriter, r *http.Request) {
	sha := r.PathValue("sha256")
	if !sha256Path.MatchString(sha) {
		writeError(w, refuse(http.StatusBadRequest, nil, "not a SHA-256: want 64 lower-case hex digits"))
		return
	}
	body, idx, err := s.store.Record(r.Context(), sha)
	if errors.Is(err, ErrNotFound) || (err == nil && idx < 0) {
		writeError(w, refuse(http.StatusNotFound, ErrNotFound, "no record %s in this log", sha))
		return
	} else if err != nil {
		writeError(w, s.internal("reading a record", err))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Write(body)
}

// LookupResult answers /lookup: the indices of every statement naming the
// package or source, among the first TreeSize entries.
type LookupResult struct {
	TreeSize uint64   `json:"tree_size"`
	Indices  []uint64 `json:"indices"`
}

func (s *Server) handleLookup(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k, v := range q {
		if len(v) != 1 || !map[string]bool{"package": true, "version": true, "arch": true, "source": true, "tree_size": true}[k] {
			writeError(w, refuse(http.StatusBadRequest, nil, "bad lookup parameter %q", truncate(k)))
			return
		}
	}
	if ts := q.Get("tree_size"); ts != "" {
		n, err := strconv.ParseUint(ts, 10, 64)
		if err != nil {
			writeError(w, refuse(http.StatusBadRequest, err, "bad tree_size"))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		err = s.indexer.waitFor(ctx, n)
		cancel()
		if err != nil {
			writeError(w, &Error{Status: http.StatusServiceUnavailable, RetryAfter: time.Second,
				Msg: fmt.Sprintf("the index does not cover %d entries yet", n)})
			return
		}
	}
	size := s.indexer.indexed()
	var (
		indices []uint64
		err     error
	)
	pkg, version, arch, source := q.Get("package"), q.Get("version"), q.Get("arch"), q.Get("source")
	switch {
	case pkg != "" && source == "" && buildinfo.ValidPackageName(pkg) && buildinfo.ValidVersion(version) && buildinfo.ValidArch(arch):
		indices, err = s.store.LookupBinary(r.Context(), pkg, buildinfo.StripEpoch(version), arch)
	case source != "" && pkg == "" && arch == "" && buildinfo.ValidPackageName(source) && buildinfo.ValidVersion(version):
		indices, err = s.store.LookupSource(r.Context(), source, version)
	default:
		writeError(w, refuse(http.StatusBadRequest, nil, "want package, version and arch, or source and version"))
		return
	}
	if err != nil {
		writeError(w, s.internal("looking up", err))
		return
	}
	out := LookupResult{TreeSize: size, Indices: []uint64{}}
	for _, i := range indices {
		if i < size {
			out.Indices = append(out.Indices, i)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleCheckpoint(w http.ResponseWriter, r *http.Request) {
	cp, err := s.reader.ReadCheckpoint(r.Context())
	if isNotFound(err) {
		writeError(w, &Error{Status: http.StatusServiceUnavailable, RetryAfter: time.Second, Msg: "no checkpoint published yet"})
		return
	} else if err != nil {
		writeError(w, s.internal("reading the checkpoint", err))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(cp)
}

func (s *Server) handleTile(w http.ResponseWriter, r *http.Request) {
	t, err := torchwood.ParseTilePath(strings.TrimPrefix(r.URL.Path, "/"))
	if err != nil || t.H != torchwood.TileHeight {
		writeError(w, refuse(http.StatusNotFound, err, "no such tile"))
		return
	}
	var partial uint8
	if t.W < 1<<t.H {
		partial = uint8(t.W)
	}
	var data []byte
	if t.L == -1 {
		data, err = s.reader.ReadEntryBundle(r.Context(), uint64(t.N), partial)
	} else {
		data, err = s.reader.ReadTile(r.Context(), uint64(t.L), uint64(t.N), partial)
	}
	if isNotFound(err) || (err != nil && s.beyondTree(r.Context(), t)) {
		writeError(w, refuse(http.StatusNotFound, err, "no such tile"))
		return
	} else if err != nil {
		writeError(w, s.internal("reading a tile", err))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if partial == 0 {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	}
	w.Write(data)
}

// handleHealth reports healthy when a validly signed checkpoint is
// published and the index is not stuck.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	size, err := s.indexer.publishedSize(r.Context())
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "no valid checkpoint: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]uint64{"tree_size": size, "indexed": s.indexer.indexed()})
}

// beyondTree reports whether the published tree has no tile t: such a
// request is answered 404 even when the storage's error does not say
// "not found" (Tessera's AWS storage flattens it into a string).
func (s *Server) beyondTree(ctx context.Context, t tlog.Tile) bool {
	size, err := s.indexer.publishedSize(ctx)
	if err != nil {
		return isNotFound(err)
	}
	// The hashes at t's level (entries at level -1) that the tree has.
	n := size
	for l := 0; l < t.L; l++ {
		n >>= torchwood.TileHeight
	}
	end := uint64(t.N)<<torchwood.TileHeight + uint64(t.W)
	full := t.W == 1<<torchwood.TileHeight
	return end > n || (!full && end != n)
}
