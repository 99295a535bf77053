package k8srunner

import (
	"context"
	"io"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/taskgate/taskgate/adapters"
	"github.com/taskgate/taskgate/task"
)

// JobBuilder turns a task into its peon Job (adapters.Adapter is one).
type JobBuilder interface {
	FromTask(ctx context.Context, t *task.Task) (*batchv1.Job, error)
}

// StatusStore is the task log store as the runner reads it (tasklogs.Store
// is one): the status.json a peon pushed, and the log saved after it ended.
type StatusStore interface {
	Status(ctx context.Context, taskID string) (st *task.Status, ok bool, err error)
	StreamLog(ctx context.Context, taskID string, offset int64) (r io.ReadCloser, ok bool, err error)
}

// CapacitySource is the live capacity (dynconfig's execution config
// "capacity", apache/druid#18591). The runner reads it on every scheduling
// pass and after CapacityChanged; a value below 1 means "not set" and the
// static Config.Capacity applies.
type CapacitySource interface {
	Capacity() int
}

// Deps are what the runner needs besides its Config.
type Deps struct {
	// Client talks to the cluster. Required.
	Client kubernetes.Interface
	// Jobs builds the Job of a task. Required.
	Jobs JobBuilder
	// Status reads status.json and saved logs. Required.
	Status StatusStore
	// Payloads reads task payloads that were too large for TASK_JSON, for
	// Jobs re-attached at start. Optional: without it such Jobs are still
	// tracked, with the task type and datasource from their annotations.
	Payloads adapters.PayloadSource
	// Capacity, when set, overrides Config.Capacity while the runner runs,
	// so capacity changes need no restart. Optional: nil keeps
	// Config.Capacity. Call Runner.CapacityChanged when it changes.
	Capacity CapacitySource
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// TracerProvider and MeterProvider default to the global providers.
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	// Now defaults to time.Now; tests may shift it.
	Now func() time.Time
}
