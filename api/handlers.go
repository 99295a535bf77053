package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/taskgate/taskgate/routing"
	"github.com/taskgate/taskgate/task"
)

// noLogMessage is the Overlord's 404 text for a missing log.
const noLogMessage = "No log was found for this task. The task may not exist, or it may not have begun running yet."

func (s *Server) submitTask(w http.ResponseWriter, r *http.Request) {
	if !requireJSON(w, r) {
		return
	}
	limit := s.cfg.MaxRequestBodyBytes
	if r.ContentLength > limit {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is %d bytes, more than the limit of %d", r.ContentLength, limit), "")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		writeBodyReadError(w, err, limit)
		return
	}
	t, err := task.Parse(body)
	if err != nil {
		s.writeRunnerError(w, r, "parse task", err)
		return
	}
	// As Druid's taskPost: WRITE on the datasource the task writes to.
	if !s.authorize(w, r, DatasourceResource(t.DataSource), ActionWrite) {
		return
	}
	d, known, err := s.runner.Submit(r.Context(), t)
	if err != nil {
		if errors.Is(err, routing.ErrNotConfigured) && d.Runner != "" {
			err = fmt.Errorf("%s runner is not configured: %w", d.Runner, err)
		}
		s.writeRunnerError(w, r, "submit task "+t.ID, err)
		return
	}
	w.Header().Set("Location", "/taskgate/v1/task/"+url.PathEscape(t.ID)+"/status")
	resp := SubmitResponse{Task: t.ID, Runner: d.Runner, Rule: d.Rule, AlreadyKnown: known}
	if !known {
		writeJSON(w, http.StatusAccepted, resp)
		return
	}
	if wi, ok := s.runner.Get(t.ID); ok {
		st := StatusPlusFromWorkItem(wi)
		resp.Status = &st
		resp.Runner = wi.Runner
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) taskStatus(w http.ResponseWriter, r *http.Request) {
	wi, ok := s.knownTask(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, StatusResponse{Task: wi.TaskID, Status: StatusPlusFromWorkItem(wi)})
}

func (s *Server) taskLocation(w http.ResponseWriter, r *http.Request) {
	wi, ok := s.knownTask(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, wi.Location)
}

// knownTask resolves the {id} path variable to the runner's work item, or
// writes the 400/404 and returns false.
func (s *Server) knownTask(w http.ResponseWriter, r *http.Request) (routing.WorkItem, bool) {
	id, ok := pathTaskID(w, r)
	if !ok {
		return routing.WorkItem{}, false
	}
	wi, found := s.runner.Get(id)
	if !found {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown task %q", id), "")
		return routing.WorkItem{}, false
	}
	return wi, true
}

func pathTaskID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := mux.Vars(r)["id"]
	if err := task.ValidateID(id); err != nil {
		writeError(w, http.StatusBadRequest, "task id "+fieldReason(err), "id")
		return "", false
	}
	return id, true
}

// shutdownTask stops a task. As with Druid's worker and Overlord, an unknown
// id is not an error: shutdown is idempotent and the answer is always 200.
func (s *Server) shutdownTask(w http.ResponseWriter, r *http.Request) {
	id, ok := pathTaskID(w, r)
	if !ok {
		return
	}
	reason, ok := readShutdownReason(w, r)
	if !ok {
		return
	}
	if err := s.runner.Shutdown(r.Context(), id, reason); err != nil && !errors.Is(err, routing.ErrUnknownTask) {
		s.writeRunnerError(w, r, "shut down task "+id, err)
		return
	}
	writeJSON(w, http.StatusOK, ShutdownResponse{Task: id})
}

// readShutdownReason takes the reason from the JSON body or the `reason`
// query parameter (not both), defaulting to a note that the API asked.
func readShutdownReason(w http.ResponseWriter, r *http.Request) (string, bool) {
	query, inQuery := r.URL.Query()["reason"]
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxShutdownBodyBytes))
	if err != nil {
		writeBodyReadError(w, err, maxShutdownBodyBytes)
		return "", false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if inQuery {
			if query[0] == "" {
				writeError(w, http.StatusBadRequest, "reason must not be empty", "reason")
				return "", false
			}
			return query[0], true
		}
		return "shutdown requested through the taskgate API", true
	}
	if !requireJSON(w, r) {
		return "", false
	}
	var req ShutdownRequest
	if err := decodeStrict(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), jsonErrorField(err))
		return "", false
	}
	if inQuery {
		writeError(w, http.StatusBadRequest, "reason given both in the body and as a query parameter; give one", "reason")
		return "", false
	}
	if req.Reason == "" {
		writeError(w, http.StatusBadRequest, "reason must not be empty", "reason")
		return "", false
	}
	return req.Reason, true
}

// taskLog streams a task's log as plain text, flushing as it copies so a
// client sees lines as the runner produces them.
func (s *Server) taskLog(w http.ResponseWriter, r *http.Request) {
	id, ok := pathTaskID(w, r)
	if !ok {
		return
	}
	var offset int64
	if v := r.URL.Query().Get("offset"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("offset must be an integer number of bytes (negative = from the end), got %q", v), "offset")
			return
		}
		offset = n
	}
	rc, found, err := s.runner.StreamLog(r.Context(), id, offset)
	if err != nil {
		s.writeRunnerError(w, r, "stream log of task "+id, err)
		return
	}
	if !found {
		if rc != nil {
			_ = rc.Close()
		}
		writeError(w, http.StatusNotFound, noLogMessage, "")
		return
	}
	if rc == nil { // a runner that found a log but gave no reader: an empty log
		rc = io.NopCloser(strings.NewReader(""))
	}
	defer rc.Close()
	// A log may take longer than the server's write timeout to stream; the
	// request context still ends the copy when the client goes away.
	ctl := http.NewResponseController(w)
	_ = ctl.SetWriteDeadline(time.Time{})

	// Headers go out now, before the first byte of a log that may be slow
	// to start, so a client learns at once that the log exists.
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_ = ctl.Flush()
	buf := make([]byte, 32<<10)
	for {
		n, rerr := rc.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return // the client went away; nothing left to tell it
			}
			_ = ctl.Flush()
		}
		if rerr == io.EOF {
			return
		}
		if rerr != nil {
			// The status is sent, but half a log must not look like a
			// whole one: cut the connection so the client sees an error,
			// not a clean end.
			s.log.WarnContext(r.Context(), "task log stream failed", "task", id, "error", rerr)
			panic(http.ErrAbortHandler)
		}
	}
}

// Task listing states accepted by GET /taskgate/v1/tasks.
const (
	listRunning = "running"
	listPending = "pending"
	listKnown   = "known"
)

func (s *Server) listTasks(w http.ResponseWriter, r *http.Request) {
	state := listKnown
	if vs, ok := r.URL.Query()["state"]; ok {
		state = strings.ToLower(vs[0])
	}
	var items []routing.WorkItem
	switch state {
	case listRunning:
		items = s.runner.Running()
	case listPending:
		items = s.runner.Pending()
	case listKnown:
		items = s.runner.Known()
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("state must be running, pending or known, got %q", state), "state")
		return
	}
	out := make([]TaskStatusPlus, 0, len(items))
	for _, wi := range items {
		// As Druid's task listings: only tasks of datasources the caller may read.
		if !s.allowed(r, DatasourceResource(wi.DataSource), ActionRead) {
			continue
		}
		out = append(out, StatusPlusFromWorkItem(wi))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) capacity(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, CapacityResponse{
		TotalSlots:    nonNil(s.runner.TotalSlots()),
		IdleSlots:     nonNil(s.runner.IdleSlots()),
		UsedSlots:     nonNil(s.runner.UsedSlots()),
		TotalCapacity: s.runner.TotalCapacity(),
		UsedCapacity:  s.runner.UsedCapacity(),
	})
}

func nonNil(m map[string]int) map[string]int {
	if m == nil {
		return map[string]int{}
	}
	return m
}

// changesFeed is the long poll: events after `since` at once if there are
// any, else the first ones to arrive within `timeout`, else an empty answer.
func (s *Server) changesFeed(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since := int64(-1)
	if v := q.Get("since"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < -1 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("since must be a counter from an earlier answer, or -1, got %q", v), "since")
			return
		}
		since = n
	}
	timeout := s.cfg.LongPollTimeout
	if v := q.Get("timeout"); v != "" {
		d, err := parseTimeout(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("timeout %v", err), "timeout")
			return
		}
		timeout = d
	}
	timeout = min(timeout, s.cfg.LongPollMaxTimeout)

	resp, wait := s.changes.read(since)
	if wait != nil && timeout > 0 {
		// The wait may outlast the server's write timeout; give this
		// request its own deadline instead.
		ctl := http.NewResponseController(w)
		_ = ctl.SetWriteDeadline(time.Now().Add(timeout + s.cfg.WriteTimeout))
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		for wait != nil {
			select {
			case <-wait:
				resp, wait = s.changes.read(since)
			case <-timer.C:
				wait = nil
			case <-r.Context().Done():
				return // the client left; there is no one to answer
			}
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// parseTimeout reads a Go duration ("30s", "1m30s") or, as Druid's sync
// endpoints take it, a bare number of milliseconds.
func parseTimeout(v string) (time.Duration, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("must not be negative, got %q", v)
		}
		if n > int64(time.Duration(1<<63-1)/time.Millisecond) {
			return 0, fmt.Errorf("is too large: %q", v)
		}
		return time.Duration(n) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("must be a duration like 30s or a number of milliseconds, got %q", v)
	}
	if d < 0 {
		return 0, fmt.Errorf("must not be negative, got %q", v)
	}
	return d, nil
}

// health answers `true`, as Druid's /status/health does: the process serves.
func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, true)
}

func (s *Server) readiness(w http.ResponseWriter, r *http.Request) {
	if s.closed.Load() {
		writeError(w, http.StatusServiceUnavailable, "not ready: shutting down", "")
		return
	}
	if s.ready != nil {
		if err := s.ready(r.Context()); err != nil {
			writeError(w, http.StatusServiceUnavailable, "not ready: "+err.Error(), "")
			return
		}
	}
	writeJSON(w, http.StatusOK, ReadyResponse{Ready: true})
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, ServerStatus{Version: s.version, GoVersion: runtime.Version(), StartTime: s.started.UTC()})
}

// writeRunnerError maps an error to a status: bad task fields 400, unknown
// task 404, an unconfigured runner 503, the request's own deadline 504, and
// anything else 500 with the error's message (which callers wrap with what
// was being done).
func (s *Server) writeRunnerError(w http.ResponseWriter, r *http.Request, op string, err error) {
	var fe *task.FieldError
	switch {
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, fe.Error(), fe.Field)
	case errors.Is(err, routing.ErrUnknownTask):
		writeError(w, http.StatusNotFound, err.Error(), "")
	case errors.Is(err, routing.ErrNotConfigured):
		writeError(w, http.StatusServiceUnavailable, err.Error(), "")
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusGatewayTimeout, op+": "+err.Error(), "")
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client left; the status is for the access log only.
		writeError(w, http.StatusServiceUnavailable, op+": request canceled", "")
	default:
		s.log.ErrorContext(r.Context(), "request failed", "op", op, "error", err)
		writeError(w, http.StatusInternalServerError, op+": "+err.Error(), "")
	}
}

// requireJSON refuses a body declared as anything but JSON (application/json
// or application/*+json) with 415, as the Overlord does. A missing
// Content-Type is accepted: scripts often omit it, and the body is parsed as
// JSON regardless. (curl -d without -H sends a form type and is refused.)
func requireJSON(w http.ResponseWriter, r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))) {
		return true
	}
	writeError(w, http.StatusUnsupportedMediaType,
		fmt.Sprintf("Content-Type must be application/json, got %q", ct), "")
	return false
}

func writeBodyReadError(w http.ResponseWriter, err error, limit int64) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than the limit of %d bytes", limit), "")
		return
	}
	writeError(w, http.StatusBadRequest, "reading request body: "+err.Error(), "")
}

// decodeStrict decodes one JSON value into v, refusing unknown fields and
// trailing data: for bodies whose schema is taskgate's own.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON body: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("invalid JSON body: data after the JSON value")
	}
	return nil
}

// jsonErrorField names the field an encoding/json error is about, if any.
func jsonErrorField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field
	}
	// encoding/json reports unknown fields only as text: `json: unknown field "x"`.
	msg := err.Error()
	if i := strings.Index(msg, `unknown field "`); i >= 0 {
		rest := msg[i+len(`unknown field "`):]
		if j := strings.IndexByte(rest, '"'); j >= 0 {
			return rest[:j]
		}
	}
	return ""
}

func fieldReason(err error) string {
	var fe *task.FieldError
	if errors.As(err, &fe) {
		return fe.Reason
	}
	return err.Error()
}

func writeError(w http.ResponseWriter, status int, msg, field string) {
	writeJSON(w, status, ErrorResponse{Error: msg, Field: field})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		_ = json.NewEncoder(&buf).Encode(ErrorResponse{Error: "encoding response: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
