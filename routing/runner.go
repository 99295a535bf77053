// Package routing decides, task by task, which runner runs a task, and
// presents the Kubernetes runner and the Middle Manager runner to callers as
// one runner (Hybrid), with Druid's KubernetesAndWorkerTaskRunner semantics.
//
// The Runner interface lives here because routing is its consumer: the
// Kubernetes and worker runners implement it without importing this package's
// strategies.
package routing

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/taskgate/taskgate/task"
)

// Runner names, as used in Druid's runner strategy properties.
const (
	RunnerK8s    = "k8s"
	RunnerWorker = "worker"
)

// ErrUnknownTask is returned for a task id the runner does not know.
var ErrUnknownTask = errors.New("unknown task")

// ErrNotConfigured is returned by a runner that is wired but not set up, so
// callers get an honest answer instead of a task that silently never runs.
var ErrNotConfigured = errors.New("runner not configured")

// WorkItem is what a runner knows about one task (Druid's TaskRunnerWorkItem).
type WorkItem struct {
	TaskID             string           `json:"taskId"`
	TaskType           string           `json:"taskType,omitempty"`
	DataSource         string           `json:"dataSource,omitempty"`
	GroupID            string           `json:"groupId,omitempty"`
	Runner             string           `json:"runner"`
	State              task.RunnerState `json:"state"`
	Location           task.Location    `json:"location"`
	CreatedTime        time.Time        `json:"createdTime"`
	QueueInsertionTime time.Time        `json:"queueInsertionTime"`
	// Status is the final status once the task is complete, else nil.
	Status *task.Status `json:"status,omitempty"`
}

// EventKind says what changed in an Event.
type EventKind string

// Event kinds, mirroring Druid's TaskRunnerListener callbacks.
const (
	EventLocationChanged EventKind = "locationChanged"
	EventStatusChanged   EventKind = "statusChanged"
)

// Event is one change a runner reports about a task.
type Event struct {
	Kind     EventKind     `json:"kind"`
	TaskID   string        `json:"taskId"`
	Runner   string        `json:"runner"`
	Location task.Location `json:"location"`
	// Status is set for EventStatusChanged.
	Status *task.Status `json:"status,omitempty"`
	Time   time.Time    `json:"time"`
}

// Listener receives events. Runners call it from their own goroutines and may
// call it concurrently; it must not block (hand work off to a channel).
type Listener func(Event)

// Runner mirrors Druid's TaskRunner. All methods are safe for concurrent use.
type Runner interface {
	// Name is the runner's name in strategies and listings ("k8s", "worker").
	Name() string

	// Start brings the runner up. Stop shuts it down without touching
	// running tasks, which Restore re-attaches on the next start.
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	// Restore re-attaches tasks that were running before a restart and
	// returns them.
	Restore(ctx context.Context) ([]WorkItem, error)

	// Run starts a task. It is idempotent on the task id: running a known id
	// again does nothing and returns nil.
	Run(ctx context.Context, t *task.Task) error
	// Shutdown stops a task; an unknown id is a no-op.
	Shutdown(ctx context.Context, taskID, reason string) error

	// Get returns the runner's work item for a task, or false if unknown.
	Get(taskID string) (WorkItem, bool)
	// StreamLog returns the task's log from offset (0 = all, positive = from
	// that byte, negative = the last |offset| bytes); ok is false when the
	// runner has no log for the task.
	StreamLog(ctx context.Context, taskID string, offset int64) (rc io.ReadCloser, ok bool, err error)

	// Running, Pending and Known list work items; Known includes completed
	// tasks the runner still remembers.
	Running() []WorkItem
	Pending() []WorkItem
	Known() []WorkItem

	// Slot counts by worker category.
	TotalSlots() map[string]int
	IdleSlots() map[string]int
	UsedSlots() map[string]int
	// TotalCapacity and UsedCapacity are -1 when unknown.
	TotalCapacity() int
	UsedCapacity() int

	// Subscribe registers a listener and returns a function that removes it.
	Subscribe(l Listener) (unsubscribe func())
}
