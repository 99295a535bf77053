package migration

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/taskgate/taskgate/dynconfig"
	"github.com/taskgate/taskgate/routing"
)

// Defaults of Config.
const (
	// DefaultWindow is how far back the view and the guards look: long
	// enough for a canary of a few percent to complete MinTasks tasks of a
	// busy type, short enough that a fix shows within the hour.
	DefaultWindow = time.Hour
	// DefaultMaxInFlight caps the submitted-but-not-complete ids tracked;
	// past it the oldest is forgotten (and logged), so a runner that never
	// reports completions cannot grow memory without bound.
	DefaultMaxInFlight = 100_000
	// DefaultMaxRecords caps the submissions, and separately the
	// completions, held for the window (about 100 bytes each); past it the
	// oldest leave the window early (and are logged).
	DefaultMaxRecords = 100_000
)

// RoutingConfigUpdater is the live routing config as the guard and the drain
// endpoint use it; dynconfig.RoutingManager is one.
type RoutingConfigUpdater interface {
	// Current returns the config in force; callers do not modify it.
	Current() *dynconfig.RoutingConfig
	// Update stores fn(copy of the current config) with an audit entry.
	Update(ctx context.Context, info dynconfig.AuditInfo, fn func(cur *dynconfig.RoutingConfig) (*dynconfig.RoutingConfig, error)) (*dynconfig.RoutingConfig, error)
}

// WorkerLoad tells what still runs on the Middle Managers, for the drain
// view. It must answer from memory: it is called on every GET.
type WorkerLoad interface {
	// RunningByWorker returns, per Middle Manager host:port, how many tasks
	// are assigned to it and not complete (pending on it or running). Tasks
	// the worker runner holds but has not assigned to a Middle Manager yet
	// are counted under the empty key "".
	RunningByWorker() map[string]int
}

// Config configures a Tracker. The zero value is valid: a 1h window on the
// wall clock, the global meter provider, slog.Default(), no guard and no
// drain endpoint.
type Config struct {
	// Window is the sliding window of the view's counts and of the guards'
	// failure rates. 0 means DefaultWindow.
	Window time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MeterProvider receives the taskgate.migration.* metrics; nil means
	// otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Lookup finds a task the tracker did not see submitted (restored after
	// a restart), when its completion arrives. It is called from runners'
	// event listeners, so it must answer from memory without blocking;
	// routing.Hybrid.Get is one. nil: such completions are not attributed
	// (View.Unattributed counts them).
	Lookup func(taskID string) (routing.WorkItem, bool)
	// Routing is the live routing config. Optional: with it the guards run
	// and the drain endpoint works; without it both are off.
	Routing RoutingConfigUpdater
	// Workers reports what runs on each Middle Manager, for the drain view.
	// Optional: without it the drain view cannot tell whether drained
	// Middle Managers are empty.
	Workers WorkerLoad
	// Identity returns the authenticated identity of a request, recorded in
	// the audit entry of a drain change (as dynconfig.WithIdentity).
	// Optional.
	Identity func(*http.Request) string
	// MaxInFlight caps tracked submitted-but-not-complete ids; 0 means
	// DefaultMaxInFlight.
	MaxInFlight int
	// MaxRecords caps the submissions, and separately the completions, kept
	// for the window; 0 means DefaultMaxRecords.
	MaxRecords int
}

// Validate checks c; errors name the field.
func (c Config) Validate() error {
	switch {
	case c.Window < 0:
		return fmt.Errorf("migration config: window must be > 0 (0 = default %s), got %s", DefaultWindow, c.Window)
	case c.MaxInFlight < 0:
		return fmt.Errorf("migration config: maxInFlight must be >= 0 (0 = default %d), got %d", DefaultMaxInFlight, c.MaxInFlight)
	case c.MaxRecords < 0:
		return fmt.Errorf("migration config: maxRecords must be >= 0 (0 = default %d), got %d", DefaultMaxRecords, c.MaxRecords)
	}
	return nil
}

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.MaxRecords == 0 {
		c.MaxRecords = DefaultMaxRecords
	}
	return c
}
