package migration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/taskgate/taskgate/dynconfig"
	"github.com/taskgate/taskgate/routing"
	"github.com/taskgate/taskgate/task"
)

var t0 = time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type env struct {
	tr     *Tracker
	clock  *clock
	reader *sdkmetric.ManualReader
	logs   *syncBuffer
}

// newEnv returns a tracker on a fake clock with metrics going to a manual
// reader; mod adjusts the config first.
func newEnv(t testing.TB, mod func(*Config)) *env { return buildEnv(t, mod, false) }

// newManualEnv is newEnv with the guard evaluating only on flush, on the
// test's goroutine, so tests decide what evidence it sees.
func newManualEnv(t testing.TB, mod func(*Config)) *env { return buildEnv(t, mod, true) }

func buildEnv(t testing.TB, mod func(*Config), manualGuard bool) *env {
	t.Helper()
	e := &env{clock: newClock(), reader: sdkmetric.NewManualReader(), logs: &syncBuffer{}}
	cfg := Config{
		Now:           e.clock.Now,
		MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(e.reader)),
		Logger:        slog.New(slog.NewTextHandler(e.logs, nil)),
	}
	if mod != nil {
		mod(&cfg)
	}
	tr, err := newTracker(cfg, manualGuard)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tr.Close() })
	e.tr = tr
	return e
}

func mkTask(t testing.TB, id, typ string) *task.Task {
	t.Helper()
	tk, err := task.Parse(fmt.Appendf(nil, `{"type":%q,"id":%q,"dataSource":"wiki"}`, typ, id))
	require.NoError(t, err)
	return tk
}

// route records a submission of a new task.
func (e *env) route(t testing.TB, id, typ, runner, ruleName string) {
	t.Helper()
	d := routing.Decision{Runner: runner, Rule: "taskType.default"}
	if ruleName != "" {
		d.Rule, d.RuleName = "rules["+ruleName+"]", ruleName
	}
	e.tr.TaskRouted(mkTask(t, id, typ), d)
}

// complete sends a completion event for id.
func (e *env) complete(id, runner string, ok bool, durMs int64) {
	st := task.Success(id, durMs)
	if !ok {
		st = task.Failure(id, "boom")
		st.Duration = durMs
	}
	e.tr.OnEvent(routing.Event{Kind: routing.EventStatusChanged, TaskID: id, Runner: runner, Status: &st, Time: e.clock.Now()})
}

// runBatch routes n tasks of typ to runner via rule and completes them,
// the first failed of them failing.
func (e *env) runBatch(t testing.TB, prefix, typ, runner, rule string, n, failed int) {
	t.Helper()
	for i := range n {
		id := fmt.Sprintf("%s-%d", prefix, i)
		e.route(t, id, typ, runner, rule)
		e.complete(id, runner, i >= failed, 1000)
	}
}

func (e *env) collect(t testing.TB) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, e.reader.Collect(context.Background(), &rm))
	return rm
}

func findMetric(rm metricdata.ResourceMetrics, name string) (metricdata.Metrics, bool) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// newRoutingManager returns a real RoutingManager over a file store in a
// temporary directory, starting from static.
func newRoutingManager(t testing.TB, static *dynconfig.RoutingConfig) *dynconfig.RoutingManager {
	t.Helper()
	store, err := dynconfig.OpenDocFileStore(dynconfig.FileStoreConfig{Path: filepath.Join(t.TempDir(), "routing.json")}, dynconfig.RoutingConfigDoc)
	require.NoError(t, err)
	m, err := dynconfig.NewRoutingManager(context.Background(), static, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func history(t testing.TB, m *dynconfig.RoutingManager) []dynconfig.AuditEntry {
	t.Helper()
	h, err := m.History(context.Background(), dynconfig.HistoryQuery{Count: 100})
	require.NoError(t, err)
	return h
}

func typeRow(v View, typ, runner string) (TypeStats, bool) {
	for _, r := range v.Types {
		if r.TaskType == typ && r.Runner == runner {
			return r, true
		}
	}
	return TypeStats{}, false
}

func ruleRow(v View, name string) (RuleStats, bool) {
	for _, r := range v.Rules {
		if r.Name == name {
			return r, true
		}
	}
	return RuleStats{}, false
}
