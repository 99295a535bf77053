package api

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/taskgate/taskgate/routing"
	"github.com/taskgate/taskgate/task"
)

// ErrorResponse is the body of every error reply.
type ErrorResponse struct {
	Error string `json:"error"`
	// Field names the input (body field, path or query parameter) that was
	// wrong; empty when the error is not about one input.
	Field string `json:"field,omitempty"`
}

// SubmitResponse answers POST /taskgate/v1/task.
type SubmitResponse struct {
	Task string `json:"task"`
	// Runner is the runner that has the task: the chosen one for a new task,
	// the one that already had it otherwise.
	Runner string `json:"runner"`
	// Rule is the routing rule that chose the runner, when one was applied.
	Rule         string `json:"rule,omitempty"`
	AlreadyKnown bool   `json:"alreadyKnown"`
	// Status is the task's current status when it was already known.
	Status *TaskStatusPlus `json:"status,omitempty"`
}

// StatusResponse answers GET /taskgate/v1/task/{id}/status, in the shape of
// the Overlord's GET /druid/indexer/v1/task/{id}/status.
type StatusResponse struct {
	Task   string         `json:"task"`
	Status TaskStatusPlus `json:"status"`
}

// ShutdownRequest is the optional body of POST /taskgate/v1/task/{id}/shutdown.
type ShutdownRequest struct {
	Reason string `json:"reason"`
}

// ShutdownResponse answers a shutdown, as Druid does: {"task": id}.
type ShutdownResponse struct {
	Task string `json:"task"`
}

// CapacityResponse answers GET /taskgate/v1/capacity. Slot maps are keyed by
// worker category; capacities are -1 when no runner knows them.
type CapacityResponse struct {
	TotalSlots    map[string]int `json:"totalSlots"`
	IdleSlots     map[string]int `json:"idleSlots"`
	UsedSlots     map[string]int `json:"usedSlots"`
	TotalCapacity int            `json:"totalCapacity"`
	UsedCapacity  int            `json:"usedCapacity"`
}

// ChangeEvent is a runner event numbered by the change feed.
type ChangeEvent struct {
	Counter int64 `json:"counter"`
	routing.Event
}

// ChangesResponse answers GET /taskgate/v1/changes. Counter is the number to
// pass as `since` next time. Reset means the events the client asked for are
// gone (or were never this server's): drop local state, re-list, and follow
// from Counter.
type ChangesResponse struct {
	Counter int64         `json:"counter"`
	Events  []ChangeEvent `json:"events"`
	Reset   bool          `json:"reset"`
}

// ServerStatus answers GET /status.
type ServerStatus struct {
	Version   string    `json:"version"`
	GoVersion string    `json:"goVersion"`
	StartTime time.Time `json:"startTime"`
}

// ReadyResponse answers GET /status/ready when the gateway is ready.
type ReadyResponse struct {
	Ready bool `json:"ready"`
}

// TaskStatusPlus is Druid's TaskStatusPlus (what the Overlord's status and
// task listing endpoints return) plus the runner that has the task.
type TaskStatusPlus struct {
	ID                 string
	GroupID            string
	Type               string
	DataSource         string
	CreatedTime        time.Time
	QueueInsertionTime time.Time
	// StatusCode is the stored task state: RUNNING until the task completes.
	StatusCode task.State
	// RunnerStatusCode is where the task is inside its runner.
	RunnerStatusCode task.RunnerState
	Duration         int64
	Location         task.Location
	ErrorMsg         string
	Runner           string
}

// druidTimeLayout is how Druid (Joda) writes instants: UTC, milliseconds.
const druidTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// wireStatusPlus is TaskStatusPlus on the wire: Druid writes unknown strings
// as null, duplicates statusCode as the legacy "status", and uses the epoch
// for unknown times.
type wireStatusPlus struct {
	ID                 string           `json:"id"`
	GroupID            *string          `json:"groupId"`
	Type               *string          `json:"type"`
	CreatedTime        string           `json:"createdTime"`
	QueueInsertionTime string           `json:"queueInsertionTime"`
	StatusCode         task.State       `json:"statusCode"`
	Status             task.State       `json:"status"`
	RunnerStatusCode   task.RunnerState `json:"runnerStatusCode"`
	Duration           int64            `json:"duration"`
	Location           task.Location    `json:"location"`
	DataSource         *string          `json:"dataSource"`
	ErrorMsg           *string          `json:"errorMsg"`
	Runner             string           `json:"runner"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func formatDruidTime(t time.Time) string {
	if t.IsZero() {
		t = time.Unix(0, 0)
	}
	return t.UTC().Format(druidTimeLayout)
}

// MarshalJSON writes the Druid wire form.
func (s TaskStatusPlus) MarshalJSON() ([]byte, error) {
	return json.Marshal(wireStatusPlus{
		ID:                 s.ID,
		GroupID:            nullable(s.GroupID),
		Type:               nullable(s.Type),
		CreatedTime:        formatDruidTime(s.CreatedTime),
		QueueInsertionTime: formatDruidTime(s.QueueInsertionTime),
		StatusCode:         s.StatusCode,
		Status:             s.StatusCode,
		RunnerStatusCode:   s.RunnerStatusCode,
		Duration:           s.Duration,
		Location:           s.Location,
		DataSource:         nullable(s.DataSource),
		ErrorMsg:           nullable(s.ErrorMsg),
		Runner:             s.Runner,
	})
}

// UnmarshalJSON reads the wire form, for Go clients of this API.
func (s *TaskStatusPlus) UnmarshalJSON(b []byte) error {
	w := wireStatusPlus{Location: task.UnknownLocation()}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	parse := func(field, v string) (time.Time, error) {
		if v == "" {
			return time.Time{}, nil
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: %w", field, err)
		}
		return t, nil
	}
	created, err := parse("createdTime", w.CreatedTime)
	if err != nil {
		return err
	}
	queued, err := parse("queueInsertionTime", w.QueueInsertionTime)
	if err != nil {
		return err
	}
	code := w.StatusCode
	if code == "" {
		code = w.Status
	}
	*s = TaskStatusPlus{
		ID: w.ID, GroupID: deref(w.GroupID), Type: deref(w.Type), DataSource: deref(w.DataSource),
		CreatedTime: created, QueueInsertionTime: queued,
		StatusCode: code, RunnerStatusCode: w.RunnerStatusCode, Duration: w.Duration,
		Location: w.Location, ErrorMsg: deref(w.ErrorMsg), Runner: w.Runner,
	}
	return nil
}

// StatusPlusFromWorkItem builds the Druid view of a runner's work item. A
// task a runner holds is RUNNING in Druid's stored-state terms until its
// final status arrives.
func StatusPlusFromWorkItem(wi routing.WorkItem) TaskStatusPlus {
	s := TaskStatusPlus{
		ID:                 wi.TaskID,
		GroupID:            wi.GroupID,
		Type:               wi.TaskType,
		DataSource:         wi.DataSource,
		CreatedTime:        wi.CreatedTime,
		QueueInsertionTime: wi.QueueInsertionTime,
		StatusCode:         task.StateRunning,
		RunnerStatusCode:   wi.State,
		Duration:           -1,
		Location:           wi.Location,
		Runner:             wi.Runner,
	}
	if s.GroupID == "" {
		s.GroupID = s.ID
	}
	if wi.Status != nil {
		s.StatusCode = wi.Status.Status
		s.Duration = wi.Status.Duration
		s.ErrorMsg = wi.Status.ErrorMsg
		if s.Location.IsUnknown() && !wi.Status.Location.IsUnknown() {
			s.Location = wi.Status.Location
		}
		if s.RunnerStatusCode == "" && wi.Status.Status.IsComplete() {
			s.RunnerStatusCode = task.RunnerStateNone
		}
	}
	return s
}
