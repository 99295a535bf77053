// Package protocol is Druid's worker HTTP protocol as Go: the JSON wire types
// a Middle Manager (or Indexer) and the Overlord exchange, a client for every
// worker endpoint the Overlord's httpRemote runner calls, a server-side router
// that serves the same endpoints behind the WorkerService interface, and the
// counter/hash change history behind the long-poll sync endpoint.
//
// Real workers answer JSON unless the caller asks for Smile. The router
// speaks both, as a real worker does: assignTask accepts JSON or Smile
// bodies, and the sync endpoint answers Smile when Accept is exactly
// application/x-jackson-smile (see NewHandler), which is what an unmodified
// Overlord sends. The client speaks JSON, or Smile when ClientConfig.Smile
// is set.
package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/taskgate/taskgate/task"
)

// DefaultWorkerCategory is Druid's druid.worker.category default.
const DefaultWorkerCategory = "_default_worker_category"

// Worker is Druid's Worker: how a Middle Manager describes itself.
type Worker struct {
	// Scheme is "http" or "https"; Druid defaults it to http when absent.
	Scheme string `json:"scheme"`
	// Host is host:port of the worker's HTTP server.
	Host     string `json:"host"`
	IP       string `json:"ip"`
	Capacity int    `json:"capacity"`
	// Version is druid.worker.version; "" means disabled in ZooKeeper mode.
	Version  string `json:"version"`
	Category string `json:"category"`
}

// UnmarshalJSON applies Druid's defaults: scheme http (pre-0.11 workers) and
// the default category.
func (w *Worker) UnmarshalJSON(b []byte) error {
	type plain Worker
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("decode worker: %w", err)
	}
	if p.Scheme == "" {
		p.Scheme = "http"
	}
	if p.Category == "" {
		p.Category = DefaultWorkerCategory
	}
	*w = Worker(p)
	return nil
}

// TaskResource is Druid's TaskResource.
type TaskResource = task.Resource

// TaskAnnouncement is what a worker reports about one task.
//
// On the wire "id" and "status" are derived from TaskStatus; an old-format
// announcement without "taskStatus" is rebuilt from them.
type TaskAnnouncement struct {
	// TaskType is "type"; empty is written as null.
	TaskType     string
	TaskStatus   task.Status
	TaskResource TaskResource
	// TaskLocation is where the peon listens; the Overlord uses this one, not
	// TaskStatus.Location (usually unknown while running).
	TaskLocation task.Location
	// TaskDataSource is empty (null on the wire) for old workers.
	TaskDataSource string
}

// ID returns the task id.
func (a TaskAnnouncement) ID() string { return a.TaskStatus.ID }

// State returns the task state.
func (a TaskAnnouncement) State() task.State { return a.TaskStatus.Status }

type wireAnnouncement struct {
	ID             string         `json:"id"`
	Type           *string        `json:"type"`
	Status         task.State     `json:"status"`
	TaskStatus     *task.Status   `json:"taskStatus"`
	TaskResource   *TaskResource  `json:"taskResource"`
	TaskLocation   *task.Location `json:"taskLocation"`
	TaskDataSource *string        `json:"taskDataSource"`
}

// MarshalJSON writes Druid's field order and nulls.
func (a TaskAnnouncement) MarshalJSON() ([]byte, error) {
	w := wireAnnouncement{
		ID:           a.TaskStatus.ID,
		Status:       a.TaskStatus.Status,
		TaskStatus:   &a.TaskStatus,
		TaskResource: &a.TaskResource,
		TaskLocation: &a.TaskLocation,
	}
	if a.TaskType != "" {
		w.Type = &a.TaskType
	}
	if a.TaskDataSource != "" {
		w.TaskDataSource = &a.TaskDataSource
	}
	return Marshal(w)
}

// UnmarshalJSON reads both the current and the old (no taskStatus) format and
// applies Druid's defaults: resource (id, 1), location unknown.
func (a *TaskAnnouncement) UnmarshalJSON(b []byte) error {
	var w wireAnnouncement
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("decode task announcement: %w", err)
	}
	out := TaskAnnouncement{TaskLocation: task.UnknownLocation()}
	if w.TaskStatus != nil {
		out.TaskStatus = *w.TaskStatus
	} else {
		if w.ID == "" {
			return &task.FieldError{Field: "taskAnnouncement.id", Reason: "is required when taskStatus is absent"}
		}
		if !w.Status.Valid() {
			return &task.FieldError{Field: "taskAnnouncement.status", Reason: fmt.Sprintf("must be RUNNING, SUCCESS or FAILED, got %q", w.Status)}
		}
		out.TaskStatus = task.Status{ID: w.ID, Status: w.Status, Duration: -1, Location: task.UnknownLocation()}
	}
	if out.TaskStatus.ID == "" {
		return &task.FieldError{Field: "taskAnnouncement.taskStatus.id", Reason: "is required"}
	}
	if w.Type != nil {
		out.TaskType = *w.Type
	}
	if w.TaskResource != nil {
		out.TaskResource = *w.TaskResource
	}
	if out.TaskResource.AvailabilityGroup == "" {
		out.TaskResource.AvailabilityGroup = out.TaskStatus.ID
	}
	if out.TaskResource.RequiredCapacity == 0 {
		out.TaskResource.RequiredCapacity = 1
	}
	if w.TaskLocation != nil {
		out.TaskLocation = *w.TaskLocation
	}
	if w.TaskDataSource != nil {
		out.TaskDataSource = *w.TaskDataSource
	}
	*a = out
	return nil
}

// HistoryItemType is the Jackson type name of a WorkerHistoryItem.
type HistoryItemType string

// WorkerHistoryItem kinds (WorkerHistoryItem @JsonSubTypes names).
const (
	ItemTaskUpdate  HistoryItemType = "taskUpdate"
	ItemTaskRemoval HistoryItemType = "taskRemoval"
	ItemMetadata    HistoryItemType = "metadata"
)

// WorkerHistoryItem is one change in a worker's sync history. Exactly the
// fields of its Type are meaningful. Items of a type this package does not
// know decode without error (the Overlord alerts and skips them); their JSON
// is kept in Raw.
type WorkerHistoryItem struct {
	Type HistoryItemType
	// TaskAnnouncement is set for taskUpdate.
	TaskAnnouncement *TaskAnnouncement
	// TaskID is set for taskRemoval.
	TaskID string
	// Disabled is the worker's flag, for metadata.
	Disabled bool
	// Raw is the item's JSON when Type is unknown.
	Raw json.RawMessage
}

// TaskUpdate returns a taskUpdate item.
func TaskUpdate(a TaskAnnouncement) WorkerHistoryItem {
	return WorkerHistoryItem{Type: ItemTaskUpdate, TaskAnnouncement: &a}
}

// TaskRemoval returns a taskRemoval item.
func TaskRemoval(taskID string) WorkerHistoryItem {
	return WorkerHistoryItem{Type: ItemTaskRemoval, TaskID: taskID}
}

// Metadata returns a metadata item.
func Metadata(disabled bool) WorkerHistoryItem {
	return WorkerHistoryItem{Type: ItemMetadata, Disabled: disabled}
}

// MarshalJSON writes the Jackson polymorphic form {"type": ..., fields...}.
func (i WorkerHistoryItem) MarshalJSON() ([]byte, error) {
	switch i.Type {
	case ItemTaskUpdate:
		if i.TaskAnnouncement == nil {
			return nil, errors.New("taskUpdate item without taskAnnouncement")
		}
		return Marshal(struct {
			Type             HistoryItemType   `json:"type"`
			TaskAnnouncement *TaskAnnouncement `json:"taskAnnouncement"`
		}{i.Type, i.TaskAnnouncement})
	case ItemTaskRemoval:
		return Marshal(struct {
			Type   HistoryItemType `json:"type"`
			TaskID string          `json:"taskId"`
		}{i.Type, i.TaskID})
	case ItemMetadata:
		return Marshal(struct {
			Type     HistoryItemType `json:"type"`
			Disabled bool            `json:"disabled"`
		}{i.Type, i.Disabled})
	}
	if len(i.Raw) > 0 {
		return i.Raw, nil
	}
	return nil, fmt.Errorf("unknown worker history item type %q", i.Type)
}

// UnmarshalJSON reads any item kind; see WorkerHistoryItem for unknown kinds.
func (i *WorkerHistoryItem) UnmarshalJSON(b []byte) error {
	var w struct {
		Type             HistoryItemType   `json:"type"`
		TaskAnnouncement *TaskAnnouncement `json:"taskAnnouncement"`
		TaskID           *string           `json:"taskId"`
		Disabled         *bool             `json:"disabled"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("decode worker history item: %w", err)
	}
	out := WorkerHistoryItem{Type: w.Type}
	switch w.Type {
	case ItemTaskUpdate:
		if w.TaskAnnouncement == nil {
			return &task.FieldError{Field: "taskAnnouncement", Reason: "is required for a taskUpdate item"}
		}
		out.TaskAnnouncement = w.TaskAnnouncement
	case ItemTaskRemoval:
		if w.TaskID == nil || *w.TaskID == "" {
			return &task.FieldError{Field: "taskId", Reason: "is required for a taskRemoval item"}
		}
		out.TaskID = *w.TaskID
	case ItemMetadata:
		// Jackson maps a missing primitive boolean to false.
		out.Disabled = w.Disabled != nil && *w.Disabled
	case "":
		return &task.FieldError{Field: "type", Reason: "is required on a worker history item"}
	default:
		out.Raw = append(json.RawMessage(nil), bytes.TrimSpace(b)...)
	}
	*i = out
	return nil
}

// Counter is ChangeRequestHistory.Counter: a change's sequence number and a
// hash (the worker's wall-clock ms when it recorded the change) that tells a
// restarted worker's counters from the old ones.
type Counter struct {
	Counter int64 `json:"counter"`
	Hash    int64 `json:"hash"`
}

// CounterZero is the last counter of an empty history.
var CounterZero = Counter{}

// Matches reports whether both counter and hash are equal.
func (c Counter) Matches(o Counter) bool { return c == o }

// String formats the counter as Java's Counter.toString does; it appears in
// reset causes.
func (c Counter) String() string {
	return fmt.Sprintf("Counter{counter=%d, hash=%d}", c.Counter, c.Hash)
}

// ChangeRequestsSnapshot is the sync endpoint's 200 body: either a reset
// (ResetCounter true, ResetCause set, Counter and Requests null) or the
// changes since the caller's counter (full state when it sent counter=-1).
type ChangeRequestsSnapshot struct {
	ResetCounter bool
	ResetCause   string
	Counter      *Counter
	Requests     []WorkerHistoryItem
}

// ResetSnapshot returns a reset snapshot with a cause.
func ResetSnapshot(cause string) ChangeRequestsSnapshot {
	return ChangeRequestsSnapshot{ResetCounter: true, ResetCause: cause}
}

// SuccessSnapshot returns a normal snapshot; requests is never written as null.
func SuccessSnapshot(c Counter, requests []WorkerHistoryItem) ChangeRequestsSnapshot {
	if requests == nil {
		requests = []WorkerHistoryItem{}
	}
	return ChangeRequestsSnapshot{Counter: &c, Requests: requests}
}

type wireSnapshot struct {
	ResetCounter bool                `json:"resetCounter"`
	ResetCause   *string             `json:"resetCause"`
	Counter      *Counter            `json:"counter"`
	Requests     []WorkerHistoryItem `json:"requests"`
}

// MarshalJSON writes Druid's shape: resetCause null unless resetting, counter
// and requests null when resetting.
func (s ChangeRequestsSnapshot) MarshalJSON() ([]byte, error) {
	w := wireSnapshot{ResetCounter: s.ResetCounter}
	if s.ResetCounter {
		cause := s.ResetCause
		w.ResetCause = &cause
		return Marshal(w)
	}
	if s.ResetCause != "" {
		w.ResetCause = &s.ResetCause
	}
	w.Counter = s.Counter
	w.Requests = s.Requests
	if w.Requests == nil {
		w.Requests = []WorkerHistoryItem{}
	}
	return Marshal(w)
}

// UnmarshalJSON reads a snapshot and checks it is usable: a non-reset
// snapshot must carry a counter and a request list.
func (s *ChangeRequestsSnapshot) UnmarshalJSON(b []byte) error {
	var w wireSnapshot
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("decode change requests snapshot: %w", err)
	}
	out := ChangeRequestsSnapshot{ResetCounter: w.ResetCounter, Counter: w.Counter, Requests: w.Requests}
	if w.ResetCause != nil {
		out.ResetCause = *w.ResetCause
	}
	if !out.ResetCounter {
		if out.Counter == nil {
			return &task.FieldError{Field: "counter", Reason: "is required unless resetCounter is true"}
		}
		if out.Requests == nil {
			return &task.FieldError{Field: "requests", Reason: "is required unless resetCounter is true"}
		}
	}
	*s = out
	return nil
}

// Marshal encodes v as Jackson does: no HTML escaping of <, > and &, no
// trailing newline. Responses and wire types use it so bodies match Druid's
// byte for byte (encoding/json would write ">=" in reset causes as "\u003e=").
// Values inside that use json.Marshal themselves (task.Status) still escape.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
