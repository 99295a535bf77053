package protocol

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/taskgate/taskgate/internal/smile"
	"github.com/taskgate/taskgate/task"
)

// Endpoint paths, as Druid's TaskManagementResource and WorkerResource.
const (
	PathWorkerSync = "/druid-internal/v1/worker"
	PathAssignTask = "/druid-internal/v1/worker/assignTask"
	PathEnabled    = "/druid/worker/v1/enabled"
	PathEnable     = "/druid/worker/v1/enable"
	PathDisable    = "/druid/worker/v1/disable"
	PathTasks      = "/druid/worker/v1/tasks"
	pathTaskPrefix = "/druid/worker/v1/task/"
)

// Media types.
const (
	ContentTypeJSON  = "application/json"
	ContentTypeSmile = "application/x-jackson-smile"
	contentTypeText  = "text/plain; charset=UTF-8"
)

// ErrNotFound tells the router "no such thing here" (404), e.g. no running
// task with that id for the log endpoint. The client returns it for a 404.
var ErrNotFound = errors.New("not found")

// ErrNotImplemented tells the router the worker cannot do this (501), as a
// task runner that cannot stream logs does.
var ErrNotImplemented = errors.New("not implemented")

// WorkerService is what the router needs from a worker. Errors wrapping
// ErrInvalidArgument map to 400, ErrNotFound to 404, ErrNotImplemented to 501,
// anything else to 500 with the error text as body.
type WorkerService interface {
	// HostAndPort is the worker's host:port, the key of the enable/disable maps.
	HostAndPort() string
	// AssignTask accepts a task. It must record the task's RUNNING update
	// before returning and must ignore an id it already knows.
	AssignTask(ctx context.Context, t *task.Task) error
	// Changes answers the sync endpoint. since.Counter < 0 asks for the full
	// state at once; otherwise it is ChangeHistory.Wait: park until a change,
	// or return ctx.Err() when ctx ends (the router then answers 204).
	Changes(ctx context.Context, since Counter) (ChangeRequestsSnapshot, error)
	// ShutdownTask stops a task; unknown ids are not an error.
	ShutdownTask(ctx context.Context, taskID string) error
	// TaskLog streams a running task's log from offset (0 all, >0 from that
	// byte, <0 the last -offset bytes); ErrNotFound when no such task runs.
	TaskLog(ctx context.Context, taskID string, offset int64) (io.ReadCloser, error)
	// Tasks lists the ids of tasks pending or running in the process runner.
	Tasks(ctx context.Context) ([]string, error)
	Enabled(ctx context.Context) (bool, error)
	SetEnabled(ctx context.Context, enabled bool) error
}

// HandlerOption tunes NewHandler.
type HandlerOption func(*handler)

// WithLogger sets the router's logger (default slog.Default()).
func WithLogger(l *slog.Logger) HandlerOption { return func(h *handler) { h.log = l } }

// WithMaxTaskBytes bounds an assignTask body (default 64 MiB), and for a
// Smile body also the JSON it decodes to; larger bodies get 413.
func WithMaxTaskBytes(n int64) HandlerOption { return func(h *handler) { h.maxTaskBytes = n } }

type handler struct {
	svc          WorkerService
	log          *slog.Logger
	maxTaskBytes int64
}

// NewHandler serves Druid's worker endpoints (W1–W7 of the protocol
// reference) from svc, with Druid's status codes and bodies.
//
// Encodings are those of a real worker, so an unmodified Overlord (runner
// type httpRemote, which only speaks Smile to workers) can use it: assignTask
// takes JSON or Smile bodies (Content-Type application/x-jackson-smile), and
// the sync endpoint answers Smile when Accept is exactly
// application/x-jackson-smile (TaskManagementResource's test), JSON
// otherwise. The WorkerResource endpoints (shutdown, enabled, tasks, …)
// answer JSON only, as Druid's @Produces(APPLICATION_JSON) does.
func NewHandler(svc WorkerService, opts ...HandlerOption) http.Handler {
	h := &handler{svc: svc, log: slog.Default(), maxTaskBytes: 64 << 20}
	for _, o := range opts {
		o(h)
	}
	mux := http.NewServeMux()
	// Jersey matches these with and without a trailing slash.
	mux.HandleFunc("GET "+PathWorkerSync, h.sync)
	mux.HandleFunc("GET "+PathWorkerSync+"/{$}", h.sync)
	mux.HandleFunc("POST "+PathAssignTask, h.assign)
	mux.HandleFunc("POST "+pathTaskPrefix+"{taskid}/shutdown", h.shutdown)
	mux.HandleFunc("GET "+pathTaskPrefix+"{taskid}/log", h.taskLog)
	mux.HandleFunc("GET "+PathEnabled, h.enabled)
	mux.HandleFunc("POST "+PathEnable, func(w http.ResponseWriter, r *http.Request) { h.setEnabled(w, r, true) })
	mux.HandleFunc("POST "+PathDisable, func(w http.ResponseWriter, r *http.Request) { h.setEnabled(w, r, false) })
	mux.HandleFunc("GET "+PathTasks, h.tasks)
	return mux
}

// queryLong reads a Jersey @QueryParam long: missing is 0, unparsable is
// Jersey's 404.
func queryLong(r *http.Request, name string) (int64, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

func (h *handler) sync(w http.ResponseWriter, r *http.Request) {
	counter, ok1 := queryLong(r, "counter")
	hash, ok2 := queryLong(r, "hash")
	timeout, ok3 := queryLong(r, "timeout")
	if !ok1 || !ok2 || !ok3 {
		writeText(w, http.StatusNotFound, "counter, hash and timeout must be integers")
		return
	}
	if timeout <= 0 {
		writeText(w, http.StatusBadRequest, "timeout must be positive.")
		return
	}
	// Druid compares the whole header: anything else (a list, a q-value)
	// gets JSON.
	asSmile := r.Header.Get("Accept") == ContentTypeSmile
	ctx, cancel := context.WithTimeout(r.Context(), time.Duration(timeout)*time.Millisecond)
	defer cancel()
	snap, err := h.svc.Changes(ctx, Counter{Counter: counter, Hash: hash})
	if err != nil {
		switch {
		case errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil:
			w.WriteHeader(http.StatusNoContent)
		case r.Context().Err() != nil:
			// The caller went away; nobody reads an answer.
		default:
			h.writeError(w, "sync", err)
		}
		return
	}
	if asSmile {
		writeSmile(w, http.StatusOK, snap)
		return
	}
	writeJSON(w, http.StatusOK, snap)
}

func (h *handler) assign(w http.ResponseWriter, r *http.Request) {
	isSmile := false
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != ContentTypeJSON && mt != ContentTypeSmile) {
			writeText(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q is not supported; use %s or %s", ct, ContentTypeJSON, ContentTypeSmile))
			return
		}
		isSmile = mt == ContentTypeSmile
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxTaskBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": fmt.Sprintf("task JSON larger than %d bytes", tooBig.Limit)})
			return
		}
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "read task: " + err.Error()})
		return
	}
	if isSmile {
		// The Overlord always sends the task as Smile; the rest of the
		// worker deals in the task's JSON, so convert once here.
		j, err := smile.DecodeOptions{MaxOutputBytes: int(min(h.maxTaskBytes, math.MaxInt))}.ToJSON(body)
		if err != nil {
			if errors.Is(err, smile.ErrOutputTooLarge) {
				writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": fmt.Sprintf("task JSON larger than %d bytes", h.maxTaskBytes)})
				return
			}
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "decode Smile task body: " + err.Error()})
			return
		}
		body = j
	}
	t, err := task.Parse(body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if err := h.svc.AssignTask(r.Context(), t); err != nil {
		// TaskManagementResource: serverError().entity(message) for any failure.
		h.log.Warn("assignTask failed", "task", t.ID, "err", err)
		writeText(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (h *handler) taskID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("taskid")
	if err := task.ValidateID(id); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return "", false
	}
	return id, true
}

func (h *handler) shutdown(w http.ResponseWriter, r *http.Request) {
	id, ok := h.taskID(w, r)
	if !ok {
		return
	}
	if err := h.svc.ShutdownTask(r.Context(), id); err != nil {
		h.log.Warn("shutdown failed", "task", id, "err", err)
		// WorkerResource answers a bare 500 here.
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"task": id})
}

func (h *handler) taskLog(w http.ResponseWriter, r *http.Request) {
	id, ok := h.taskID(w, r)
	if !ok {
		return
	}
	offset, ok := queryLong(r, "offset")
	if !ok {
		writeText(w, http.StatusNotFound, "offset must be an integer")
		return
	}
	rc, err := h.svc.TaskLog(r.Context(), id, offset)
	if err != nil {
		h.writeError(w, "task log", err)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", contentTypeText)
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(flushWriter{w}, rc); err != nil && r.Context().Err() == nil {
		h.log.Warn("stream task log", "task", id, "err", err)
	}
}

func (h *handler) enabled(w http.ResponseWriter, r *http.Request) {
	on, err := h.svc.Enabled(r.Context())
	if err != nil {
		h.writeError(w, "enabled", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{h.svc.HostAndPort(): on})
}

func (h *handler) setEnabled(w http.ResponseWriter, r *http.Request, on bool) {
	if err := h.svc.SetEnabled(r.Context(), on); err != nil {
		h.log.Warn("set enabled failed", "enabled", on, "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	word := "disabled"
	if on {
		word = "enabled"
	}
	writeJSON(w, http.StatusOK, map[string]string{h.svc.HostAndPort(): word})
}

func (h *handler) tasks(w http.ResponseWriter, r *http.Request) {
	ids, err := h.svc.Tasks(r.Context())
	if err != nil {
		h.writeError(w, "tasks", err)
		return
	}
	if ids == nil {
		ids = []string{}
	}
	writeJSON(w, http.StatusOK, ids)
}

func (h *handler) writeError(w http.ResponseWriter, op string, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrInvalidArgument):
		code = http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, ErrNotImplemented):
		code = http.StatusNotImplemented
	default:
		h.log.Warn(op+" failed", "err", err)
	}
	writeText(w, code, err.Error())
}

func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", contentTypeText)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := Marshal(v)
	if err != nil {
		writeText(w, http.StatusInternalServerError, "encode response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", ContentTypeJSON)
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// writeSmile answers v in Smile as Druid's Smile mapper writes it: the JSON
// encoding (field order, nulls) converted token by token.
func writeSmile(w http.ResponseWriter, code int, v any) {
	j, err := Marshal(v)
	if err != nil {
		writeText(w, http.StatusInternalServerError, "encode response: "+err.Error())
		return
	}
	b, err := smile.FromJSON(j, smile.EncodeOptions{})
	if err != nil {
		writeText(w, http.StatusInternalServerError, "encode response as Smile: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", ContentTypeSmile)
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// flushWriter flushes after every write so a log is streamed, not buffered.
type flushWriter struct{ w http.ResponseWriter }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}
