package migration

import (
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// instrumentationScope names this package's meter.
const instrumentationScope = "github.com/taskgate/taskgate/migration"

// Metric names.
const (
	MetricTasksSubmitted = "taskgate.migration.tasks.submitted"
	MetricTasksCompleted = "taskgate.migration.tasks.completed"
	MetricTaskDuration   = "taskgate.migration.task.duration"
	MetricTasksRunning   = "taskgate.migration.tasks.running"
	MetricTasksDiverted  = "taskgate.migration.tasks.diverted"
	MetricGuardRollbacks = "taskgate.migration.guard.rollbacks"
)

// Metric attribute keys.
const (
	AttrTaskType = attribute.Key("task_type")
	AttrRunner   = attribute.Key("runner")
	AttrRule     = attribute.Key("rule")
	AttrStatus   = attribute.Key("status")
	AttrReason   = attribute.Key("reason")
)

// durationBuckets (seconds) span what Druid tasks take: compaction in
// seconds, batch ingestion in minutes to hours, streaming tasks for hours.
var durationBuckets = []float64{1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400}

// maxCachedAttrSets bounds the attribute sets kept for reuse; past it sets
// are built per measurement (task types come from clients).
const maxCachedAttrSets = 10_000

// instruments are the tracker's metrics. The running gauge is registered
// by the tracker, which owns the counts it reads.
type instruments struct {
	meter     metric.Meter
	submitted metric.Int64Counter
	completed metric.Int64Counter
	duration  metric.Float64Histogram
	running   metric.Int64ObservableGauge
	diverted  metric.Int64Counter
	rollbacks metric.Int64Counter
}

func newInstruments(mp metric.MeterProvider) (*instruments, error) {
	m := mp.Meter(instrumentationScope)
	in := &instruments{meter: m}
	var err error
	wrap := func(name string, err error) error { return fmt.Errorf("migration metric %s: %w", name, err) }
	if in.submitted, err = m.Int64Counter(MetricTasksSubmitted, metric.WithUnit("{task}"),
		metric.WithDescription("Tasks started, by task type, the runner they went to and the rule that decided.")); err != nil {
		return nil, wrap(MetricTasksSubmitted, err)
	}
	if in.completed, err = m.Int64Counter(MetricTasksCompleted, metric.WithUnit("{task}"),
		metric.WithDescription("Tasks that completed, by task type, runner and final status (SUCCESS or FAILED).")); err != nil {
		return nil, wrap(MetricTasksCompleted, err)
	}
	if in.duration, err = m.Float64Histogram(MetricTaskDuration, metric.WithUnit("s"),
		metric.WithDescription("Run time of completed tasks as their status reports it, by task type, runner and status."),
		metric.WithExplicitBucketBoundaries(durationBuckets...)); err != nil {
		return nil, wrap(MetricTaskDuration, err)
	}
	if in.running, err = m.Int64ObservableGauge(MetricTasksRunning, metric.WithUnit("{task}"),
		metric.WithDescription("Tasks started and not complete, by task type and runner.")); err != nil {
		return nil, wrap(MetricTasksRunning, err)
	}
	if in.diverted, err = m.Int64Counter(MetricTasksDiverted, metric.WithUnit("{task}"),
		metric.WithDescription("Tasks that ran elsewhere than their rule chose, by task type and reason (drain or fallback).")); err != nil {
		return nil, wrap(MetricTasksDiverted, err)
	}
	if in.rollbacks, err = m.Int64Counter(MetricGuardRollbacks, metric.WithUnit("{rollback}"),
		metric.WithDescription("Routing rules the migration guard set to 0 percent, by rule name.")); err != nil {
		return nil, wrap(MetricGuardRollbacks, err)
	}
	return in, nil
}

// attrKey identifies a cached attribute set; kind keeps the sets of
// different instruments apart.
type attrKey struct {
	kind    uint8
	a, b, c string
}

const (
	attrsSubmitted uint8 = iota
	attrsCompleted
	attrsSeries
	attrsDiverted
	attrsRollback
)

// attrOpts are one attribute set as the option slices the instruments
// take: passing a cached slice keeps the variadic argument off the heap.
type attrOpts struct {
	add []metric.AddOption
	rec []metric.RecordOption
	obs []metric.ObserveOption
}

// attrCache reuses attribute sets so recording allocates nothing for a
// series seen before. Callers hold the tracker's lock.
type attrCache map[attrKey]*attrOpts

func (c attrCache) get(k attrKey) *attrOpts {
	if o, ok := c[k]; ok {
		return o
	}
	var set attribute.Set
	switch k.kind {
	case attrsSubmitted:
		set = attribute.NewSet(AttrTaskType.String(k.a), AttrRunner.String(k.b), AttrRule.String(k.c))
	case attrsCompleted:
		set = attribute.NewSet(AttrTaskType.String(k.a), AttrRunner.String(k.b), AttrStatus.String(k.c))
	case attrsSeries:
		set = attribute.NewSet(AttrTaskType.String(k.a), AttrRunner.String(k.b))
	case attrsDiverted:
		set = attribute.NewSet(AttrTaskType.String(k.a), AttrReason.String(k.b))
	case attrsRollback:
		set = attribute.NewSet(AttrRule.String(k.a))
	}
	mo := metric.WithAttributeSet(set)
	o := &attrOpts{add: []metric.AddOption{mo}, rec: []metric.RecordOption{mo}, obs: []metric.ObserveOption{mo}}
	if len(c) < maxCachedAttrSets {
		c[k] = o
	}
	return o
}
