package dynconfig

import (
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"
)

// Routing config paths, next to Druid's execution config ones.
const (
	PathRoutingConfig        = "/druid/indexer/v1/k8s/taskrunner/routingconfig"
	PathRoutingConfigHistory = PathRoutingConfig + "/history"
)

// RoutingHandlers serves the routing config endpoints from a RoutingManager,
// in the execution config endpoints' style: GET the config in force, POST a
// new one (200 empty body; 400 naming the field, nothing stored), GET
// history with Druid's interval/count parameters and audit JSON.
type RoutingHandlers struct {
	m        *RoutingManager
	log      *slog.Logger
	identity func(*http.Request) string
}

// NewRoutingHandlers returns the endpoints for m. WithIdentity and
// WithHandlersLogger apply as for Handlers.
func NewRoutingHandlers(m *RoutingManager, opts ...HandlersOption) *RoutingHandlers {
	h := &Handlers{log: slog.Default()}
	for _, o := range opts {
		o(h)
	}
	return &RoutingHandlers{m: m, log: h.log, identity: h.identity}
}

// Register mounts the endpoints on r. Route names are the OpenAPI
// operationIds.
func (h *RoutingHandlers) Register(r *mux.Router) {
	r.HandleFunc(PathRoutingConfigHistory, h.GetHistory).Methods(http.MethodGet).Name("getRoutingConfigHistory")
	r.HandleFunc(PathRoutingConfig, h.GetConfig).Methods(http.MethodGet).Name("getRoutingConfig")
	r.HandleFunc(PathRoutingConfig, h.PostConfig).Methods(http.MethodPost).Name("setRoutingConfig")
}

// GetConfig answers 200 with the routing config in force.
func (h *RoutingHandlers) GetConfig(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.m.Current())
}

// PostConfig replaces the routing config. Tasks already submitted keep the
// runner they were given.
func (h *RoutingHandlers) PostConfig(w http.ResponseWriter, r *http.Request) {
	body, ok := readJSONBody(w, r, "routing config")
	if !ok {
		return
	}
	cfg, warnings, err := ParseRoutingConfig(body)
	if err != nil {
		h.fail(w, err)
		return
	}
	for _, warning := range warnings {
		h.log.Warn("routing config POST: "+warning, "remote", r.RemoteAddr)
	}
	if _, err := h.m.Set(r.Context(), cfg, AuditInfoFromRequest(r, h.identity)); err != nil {
		h.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// GetHistory answers the audit history of the routing config.
func (h *RoutingHandlers) GetHistory(w http.ResponseWriter, r *http.Request) {
	hq, ok := historyQuery(w, r)
	if !ok {
		return
	}
	entries, err := h.m.History(r.Context(), hq)
	if err != nil {
		h.log.Error("read routing config history", "error", err)
		writeError(w, http.StatusInternalServerError, "", "read routing config history: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, entries)
}

func (h *RoutingHandlers) fail(w http.ResponseWriter, err error) {
	writeStoreError(w, h.log, "store routing config", err)
}
