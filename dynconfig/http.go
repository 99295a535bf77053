package dynconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"
)

// Druid's paths and audit headers.
const (
	PathExecutionConfig        = "/druid/indexer/v1/k8s/taskrunner/executionconfig"
	PathExecutionConfigHistory = PathExecutionConfig + "/history"
	HeaderAuthor               = "X-Druid-Author"
	HeaderComment              = "X-Druid-Comment"
)

// MaxBodyBytes bounds a POSTed config.
const MaxBodyBytes = 1 << 20

// Handlers serves Druid's execution config endpoints from a Manager.
type Handlers struct {
	m   *Manager
	log *slog.Logger
	// identity returns the authenticated identity of a request, recorded as
	// auditInfo.identity; nil or "" records null, as Druid does without
	// authentication.
	identity func(*http.Request) string
}

// HandlersOption adjusts Handlers.
type HandlersOption func(*Handlers)

// WithIdentity sets how the authenticated identity of a request is found
// (the api package's authentication provides it).
func WithIdentity(f func(*http.Request) string) HandlersOption {
	return func(h *Handlers) { h.identity = f }
}

// WithHandlersLogger sets the logger (default slog.Default()).
func WithHandlersLogger(l *slog.Logger) HandlersOption {
	return func(h *Handlers) { h.log = l }
}

// NewHandlers returns the endpoints for m.
func NewHandlers(m *Manager, opts ...HandlersOption) *Handlers {
	h := &Handlers{m: m, log: slog.Default()}
	for _, o := range opts {
		o(h)
	}
	return h
}

// Register mounts the endpoints on r (for api.WithRoutes). Route names are
// the OpenAPI operationIds.
func (h *Handlers) Register(r *mux.Router) {
	r.HandleFunc(PathExecutionConfigHistory, h.GetHistory).Methods(http.MethodGet).Name("getExecutionConfigHistory")
	r.HandleFunc(PathExecutionConfig, h.GetConfig).Methods(http.MethodGet).Name("getExecutionConfig")
	r.HandleFunc(PathExecutionConfig, h.PostConfig).Methods(http.MethodPost).Name("setExecutionConfig")
}

// GetConfig answers GET executionconfig: 200 with the effective config
// (the default strategy and the static capacity when never set).
func (h *Handlers) GetConfig(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.m.Effective())
}

// PostConfig answers POST executionconfig as Druid does: 200 with an empty
// body when stored; 400 {"error": ...} naming the field for bad input, with
// nothing stored; 415 for a non-JSON Content-Type.
func (h *Handlers) PostConfig(w http.ResponseWriter, r *http.Request) {
	body, ok := readJSONBody(w, r, "execution config")
	if !ok {
		return
	}
	update, warnings, err := Parse(body)
	if err != nil {
		h.fail(w, err)
		return
	}
	for _, warning := range warnings {
		h.log.Warn("execution config POST: "+warning, "remote", r.RemoteAddr)
	}
	if _, err := h.m.Set(r.Context(), update, AuditInfoFromRequest(r, h.identity)); err != nil {
		h.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// readJSONBody reads a POSTed JSON document of at most MaxBodyBytes; on a
// problem it answers (415 for a non-JSON Content-Type, 413, 400) and
// returns false.
func readJSONBody(w http.ResponseWriter, r *http.Request, what string) ([]byte, bool) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			writeError(w, http.StatusUnsupportedMediaType, "", fmt.Sprintf("Content-Type must be application/json, got %q", ct))
			return nil, false
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "", fmt.Sprintf("%s is over %d bytes", what, MaxBodyBytes))
			return nil, false
		}
		writeError(w, http.StatusBadRequest, "", "read request body: "+err.Error())
		return nil, false
	}
	return body, true
}

// GetHistory answers GET executionconfig/history: with interval, the
// entries in it; else with count, the newest count; else the last week.
// 200 with a JSON array (empty when none); 400 {"error": ...} for a bad
// interval or count.
func (h *Handlers) GetHistory(w http.ResponseWriter, r *http.Request) {
	hq, ok := historyQuery(w, r)
	if !ok {
		return
	}
	entries, err := h.m.History(r.Context(), hq)
	if err != nil {
		h.log.Error("read execution config history", "error", err)
		writeError(w, http.StatusInternalServerError, "", "read execution config history: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, entries)
}

// historyQuery reads Druid's history parameters: interval, else count;
// a bad one is answered with 400 and false.
func historyQuery(w http.ResponseWriter, r *http.Request) (HistoryQuery, bool) {
	q := r.URL.Query()
	var hq HistoryQuery
	if vals, ok := q["interval"]; ok {
		iv, err := ParseInterval(vals[0])
		if err != nil {
			writeError(w, http.StatusBadRequest, "interval", err.Error())
			return hq, false
		}
		hq.Interval = &iv
	} else if vals, ok := q["count"]; ok {
		// Druid checks count only when it is used (no interval).
		n, err := strconv.Atoi(strings.TrimSpace(vals[0]))
		if err != nil {
			writeError(w, http.StatusBadRequest, "count", fmt.Sprintf("count must be an integer, got %q", vals[0]))
			return hq, false
		}
		if n <= 0 {
			writeError(w, http.StatusBadRequest, "count", fmt.Sprintf("Limit [%d] must be greater than zero!", n))
			return hq, false
		}
		hq.Count = n
	}
	return hq, true
}

func (h *Handlers) fail(w http.ResponseWriter, err error) {
	writeStoreError(w, h.log, "store execution config", err)
}

// writeStoreError answers a failed update: 400 naming the field for bad
// input (a *FieldError), else 500.
func writeStoreError(w http.ResponseWriter, log *slog.Logger, op string, err error) {
	var fe *FieldError
	if errors.As(err, &fe) {
		writeError(w, http.StatusBadRequest, fe.Field, fe.Error())
		return
	}
	log.Error(op, "error", err)
	writeError(w, http.StatusInternalServerError, "", op+": "+err.Error())
}

// AuditInfoFromRequest builds Druid's AuditInfo for r
// (AuthorizationUtils.buildAuditInfo): author and comment from the
// X-Druid-Author and X-Druid-Comment headers, the remote IP, and the
// authenticated user when identity finds one.
func AuditInfoFromRequest(r *http.Request, identity func(*http.Request) string) AuditInfo {
	info := AuditInfo{
		Author:  r.Header.Get(HeaderAuthor),
		Comment: r.Header.Get(HeaderComment),
		IP:      remoteIP(r.RemoteAddr),
	}
	if identity != nil {
		if id := identity(r); id != "" {
			info.Identity = &id
		}
	}
	return info
}

// remoteIP is the host part of a remote address, as Java's getRemoteAddr.
func remoteIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

type errorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func writeError(w http.ResponseWriter, status int, field, msg string) {
	WriteError(w, status, field, msg)
}

func writeJSON(w http.ResponseWriter, status int, v any) { WriteJSON(w, status, v) }

// WriteError answers {"error": msg, "field": field} (field left out when
// ""), the gateway's error shape, for handlers outside the api package.
func WriteError(w http.ResponseWriter, status int, field, msg string) {
	WriteJSON(w, status, errorBody{Error: msg, Field: field})
}

// WriteJSON answers v as JSON (HTML characters not escaped), or a 500 when
// v cannot be encoded.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		_ = json.NewEncoder(&buf).Encode(errorBody{Error: "encode response: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
