package migration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/taskgate/taskgate/dynconfig"
)

// Paths of the migration endpoints.
const (
	PathView  = "/taskgate/v1/migration"
	PathDrain = PathView + "/drain"
)

// Route names, which are the OpenAPI operationIds.
const (
	RouteGetView  = "getMigrationView"
	RouteGetDrain = "getMigrationDrain"
	RouteSetDrain = "setMigrationDrain"
)

// maxDrainBody bounds a drain POST: a list of host:port pairs.
const maxDrainBody = 256 << 10

// Register mounts all the migration endpoints on r (RegisterView and
// RegisterDrain).
func (t *Tracker) Register(r *mux.Router) {
	t.RegisterView(r)
	t.RegisterDrain(r)
}

// RegisterView mounts GET /taskgate/v1/migration, which reads state.
func (t *Tracker) RegisterView(r *mux.Router) {
	r.HandleFunc(PathView, t.ServeView).Methods(http.MethodGet).Name(RouteGetView)
}

// RegisterDrain mounts GET and POST /taskgate/v1/migration/drain; the POST
// changes the routing config, so guard it as a config write.
func (t *Tracker) RegisterDrain(r *mux.Router) {
	r.HandleFunc(PathDrain, t.ServeDrain).Methods(http.MethodGet).Name(RouteGetDrain)
	r.HandleFunc(PathDrain, t.ServeSetDrain).Methods(http.MethodPost).Name(RouteSetDrain)
}

// ServeView answers 200 with the View.
func (t *Tracker) ServeView(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, t.Snapshot())
}

// DrainStatus is the drain settings and what still runs on the Middle
// Managers (GET and POST /taskgate/v1/migration/drain).
type DrainStatus struct {
	// Worker and Workers are the routing config's drain: the whole worker
	// side, and single Middle Managers by host:port.
	Worker  bool     `json:"worker"`
	Workers []string `json:"workers"`
	// Running is, per Middle Manager host:port, the tasks assigned to it
	// and not complete; drained ones are listed even at 0. Null when the
	// worker runner's load is not wired.
	Running map[string]int `json:"running"`
	// Unassigned counts tasks the worker runner holds but has not assigned
	// to a Middle Manager; null as Running.
	Unassigned *int `json:"unassigned"`
	// RunningOnWorkerSide is the sum of Running and Unassigned; null as
	// Running.
	RunningOnWorkerSide *int `json:"runningOnWorkerSide"`
	// Empty is true when something is drained and every drained target
	// runs nothing (the whole worker side when Worker, else each of
	// Workers): those Middle Managers can be shut down. False when nothing
	// is drained or the load is unknown.
	Empty bool `json:"empty"`
}

// DrainStatus returns the drain settings of the config in force and what
// runs on the Middle Managers.
func (t *Tracker) DrainStatus() (DrainStatus, error) {
	if t.cfg.Routing == nil {
		return DrainStatus{}, errNoRouting
	}
	return t.drainStatus(t.cfg.Routing.Current()), nil
}

var errNoRouting = errors.New("draining needs the live routing config, which is not wired")

func (t *Tracker) drainStatus(cfg *dynconfig.RoutingConfig) DrainStatus {
	st := DrainStatus{Workers: []string{}}
	if cfg != nil {
		st.Worker = cfg.Drain.Worker
		st.Workers = append(st.Workers, cfg.Drain.Workers...)
	}
	if t.cfg.Workers == nil {
		return st
	}
	load := t.cfg.Workers.RunningByWorker()
	st.Running = make(map[string]int, len(load)+len(st.Workers))
	unassigned, total := 0, 0
	for w, n := range load {
		total += n
		if w == "" {
			unassigned += n
			continue
		}
		st.Running[w] += n
	}
	for _, w := range st.Workers {
		st.Running[w] += 0
	}
	st.Unassigned, st.RunningOnWorkerSide = &unassigned, &total
	switch {
	case st.Worker:
		st.Empty = total == 0
	case len(st.Workers) > 0:
		st.Empty = true
		for _, w := range st.Workers {
			if st.Running[w] > 0 {
				st.Empty = false
			}
		}
	}
	return st
}

// ServeDrain answers GET drain: 200 with the DrainStatus; 503 when no
// routing config source is wired.
func (t *Tracker) ServeDrain(w http.ResponseWriter, _ *http.Request) {
	st, err := t.DrainStatus()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// DrainRequest is the body of POST drain. Fields left out keep their
// value; at least one must be set.
//
//	{"worker": true}                      drain the whole worker side
//	{"worker": false}                     undrain it
//	{"workers": ["mm1:8091"]}             drain exactly these Middle Managers
//	{"workers": []}                       undrain every single Middle Manager
//	{"add": ["mm2:8091"]}                 drain these too
//	{"remove": ["mm1:8091"]}              undrain these
//
// workers cannot be combined with add or remove.
type DrainRequest struct {
	Worker  *bool    `json:"worker"`
	Workers []string `json:"workers"`
	Add     []string `json:"add"`
	Remove  []string `json:"remove"`
}

// drainError is a bad drain request, naming the field.
type drainError struct{ field, reason string }

func (e *drainError) Error() string {
	if e.field == "" {
		return e.reason
	}
	return e.field + ": " + e.reason
}

// ParseDrainRequest reads a drain POST body. Unknown fields are errors: a
// misspelt "workers" must not silently drain nothing.
func ParseDrainRequest(body []byte) (DrainRequest, error) {
	var req DrainRequest
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return req, &drainError{reason: `request body is empty; expected a JSON object such as {"worker": true}`}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &raw); err != nil {
		return req, &drainError{reason: "invalid JSON: must be an object with worker, workers, add or remove: " + err.Error()}
	}
	if raw == nil {
		return req, &drainError{reason: "must be a JSON object, got null"}
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := raw[k]
		switch k {
		case "worker":
			var b bool
			if err := json.Unmarshal(v, &b); err != nil || string(v) == "null" {
				return req, &drainError{"worker", "must be true or false, got " + string(v)}
			}
			req.Worker = &b
		case "workers", "add", "remove":
			list, err := hostPorts(k, v)
			if err != nil {
				return req, err
			}
			switch k {
			case "workers":
				req.Workers = list
			case "add":
				req.Add = list
			default:
				req.Remove = list
			}
		default:
			return req, &drainError{k, "unknown field (known: worker, workers, add, remove)"}
		}
	}
	_, hasWorkers := raw["workers"]
	if hasWorkers && (req.Add != nil || req.Remove != nil) {
		return req, &drainError{"workers", "cannot be combined with add or remove (workers replaces the list)"}
	}
	if req.Worker == nil && req.Workers == nil && req.Add == nil && req.Remove == nil {
		return req, &drainError{reason: "nothing to change: set worker, workers, add or remove"}
	}
	return req, nil
}

// hostPorts reads a list of Middle Manager host:port pairs, without
// duplicates, in order.
func hostPorts(field string, v json.RawMessage) ([]string, error) {
	var items []any
	if err := json.Unmarshal(v, &items); err != nil || items == nil {
		return nil, &drainError{field, "must be a list of Middle Manager host:port strings, got " + string(v)}
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		f := fmt.Sprintf("%s[%d]", field, i)
		s, ok := it.(string)
		if !ok {
			return nil, &drainError{f, fmt.Sprintf("must be a host:port string, got %v", it)}
		}
		host, port, err := net.SplitHostPort(s)
		if err != nil || host == "" || strings.ContainsAny(host, "/ ") {
			return nil, &drainError{f, fmt.Sprintf("must be a Middle Manager's host:port, got %q", s)}
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return nil, &drainError{f, fmt.Sprintf("port must be 1 to 65535, got %q", s)}
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// apply changes d as req says.
func (req DrainRequest) apply(d *dynconfig.Drain) {
	if req.Worker != nil {
		d.Worker = *req.Worker
	}
	if req.Workers != nil {
		d.Workers = slices.Clone(req.Workers)
	}
	for _, w := range req.Add {
		if !slices.Contains(d.Workers, w) {
			d.Workers = append(d.Workers, w)
		}
	}
	if len(req.Remove) > 0 {
		d.Workers = slices.DeleteFunc(d.Workers, func(w string) bool { return slices.Contains(req.Remove, w) })
	}
}

// SetDrain changes the drain part of the routing config, audited by info,
// and returns the resulting DrainStatus.
func (t *Tracker) SetDrain(ctx context.Context, req DrainRequest, info dynconfig.AuditInfo) (DrainStatus, error) {
	if t.cfg.Routing == nil {
		return DrainStatus{}, errNoRouting
	}
	cfg, err := t.cfg.Routing.Update(ctx, info, func(cur *dynconfig.RoutingConfig) (*dynconfig.RoutingConfig, error) {
		req.apply(&cur.Drain)
		return cur, nil
	})
	if err != nil {
		return DrainStatus{}, fmt.Errorf("store drain change: %w", err)
	}
	t.log.Info("drain changed", "worker", cfg.Drain.Worker, "workers", cfg.Drain.Workers,
		"author", info.Author, "comment", info.Comment, "ip", info.IP)
	return t.drainStatus(cfg), nil
}

// ServeSetDrain answers POST drain: 200 with the DrainStatus after the
// change, audited with X-Druid-Author, X-Druid-Comment and the remote IP as
// dynconfig's POSTs are; 400 {"error","field"} for bad input, nothing
// changed; 415 for a non-JSON Content-Type; 503 when no routing config
// source is wired.
func (t *Tracker) ServeSetDrain(w http.ResponseWriter, r *http.Request) {
	if t.cfg.Routing == nil {
		writeError(w, http.StatusServiceUnavailable, "", errNoRouting.Error())
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			writeError(w, http.StatusUnsupportedMediaType, "", fmt.Sprintf("Content-Type must be application/json, got %q", ct))
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxDrainBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "", fmt.Sprintf("drain request is over %d bytes", maxDrainBody))
			return
		}
		writeError(w, http.StatusBadRequest, "", "read request body: "+err.Error())
		return
	}
	req, err := ParseDrainRequest(body)
	if err != nil {
		field := ""
		if de := (*drainError)(nil); errors.As(err, &de) {
			field = de.field
		}
		writeError(w, http.StatusBadRequest, field, err.Error())
		return
	}
	st, err := t.SetDrain(r.Context(), req, t.auditInfo(r))
	if err != nil {
		var fe *dynconfig.FieldError
		if errors.As(err, &fe) {
			writeError(w, http.StatusBadRequest, fe.Field, err.Error())
			return
		}
		t.log.Error("drain change failed", "error", err)
		writeError(w, http.StatusInternalServerError, "", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (t *Tracker) auditInfo(r *http.Request) dynconfig.AuditInfo {
	return dynconfig.AuditInfoFromRequest(r, t.cfg.Identity)
}

func writeError(w http.ResponseWriter, status int, field, msg string) {
	dynconfig.WriteError(w, status, field, msg)
}

func writeJSON(w http.ResponseWriter, status int, v any) { dynconfig.WriteJSON(w, status, v) }
