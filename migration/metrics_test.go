package migration

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/taskgate/taskgate/dynconfig"
	"github.com/taskgate/taskgate/routing"
)

// attrsOf renders a data point's attributes as a map.
func attrsOf(set attribute.Set) map[string]string {
	out := map[string]string{}
	for _, kv := range set.ToSlice() {
		out[string(kv.Key)] = kv.Value.String()
	}
	return out
}

func int64Points(t *testing.T, m metricdata.Metrics) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	var pts []metricdata.DataPoint[int64]
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		assert.True(t, d.IsMonotonic, "%s is a counter", m.Name)
		pts = d.DataPoints
	case metricdata.Gauge[int64]:
		pts = d.DataPoints
	default:
		t.Fatalf("%s: unexpected data %T", m.Name, m.Data)
	}
	for _, p := range pts {
		out[key(attrsOf(p.Attributes))] = p.Value
	}
	return out
}

// key renders attributes in a fixed order.
func key(a map[string]string) string {
	s := ""
	for _, k := range []string{"task_type", "runner", "rule", "status", "reason"} {
		if v, ok := a[k]; ok {
			s += k + "=" + v + ","
		}
	}
	return s
}

func TestMetrics(t *testing.T) {
	m := newRoutingManager(t, canaryConfig(50, &dynconfig.Guard{MaxFailureRateDelta: 10, MinTasks: 2}))
	e := newManualEnv(t, func(c *Config) { c.Routing = m })
	e.route(t, "a", "index_kafka", routing.RunnerK8s, canary)
	e.route(t, "b", "index_kafka", routing.RunnerK8s, canary)
	e.route(t, "c", "index_kafka", routing.RunnerWorker, canary)
	e.route(t, "d", "compact", routing.RunnerK8s, "")
	e.tr.TaskRouted(mkTask(t, "e", "compact"), routing.Decision{Runner: routing.RunnerK8s, Rule: "taskType.default", Diverted: routing.RuleDrain})
	e.tr.TaskRouted(mkTask(t, "f", "compact"), routing.Decision{Runner: routing.RunnerWorker, Rule: "taskType.default", Diverted: "fallback: k8s runner unreachable (x)"})
	e.complete("a", routing.RunnerK8s, true, 1500)
	e.complete("b", routing.RunnerK8s, false, 500)
	e.complete("c", routing.RunnerWorker, true, -1)
	e.tr.guard.flush()

	rm := e.collect(t)
	for _, sm := range rm.ScopeMetrics {
		assert.Equal(t, instrumentationScope, sm.Scope.Name)
	}

	sub, ok := findMetric(rm, MetricTasksSubmitted)
	require.True(t, ok)
	assert.Equal(t, "{task}", sub.Unit)
	assert.Equal(t, map[string]int64{
		"task_type=index_kafka,runner=k8s,rule=rules[kafka-canary],":    2,
		"task_type=index_kafka,runner=worker,rule=rules[kafka-canary],": 1,
		"task_type=compact,runner=k8s,rule=taskType.default,":           2,
		"task_type=compact,runner=worker,rule=taskType.default,":        1,
	}, int64Points(t, sub))

	done, ok := findMetric(rm, MetricTasksCompleted)
	require.True(t, ok)
	assert.Equal(t, map[string]int64{
		"task_type=index_kafka,runner=k8s,status=SUCCESS,":    1,
		"task_type=index_kafka,runner=k8s,status=FAILED,":     1,
		"task_type=index_kafka,runner=worker,status=SUCCESS,": 1,
	}, int64Points(t, done))

	dur, ok := findMetric(rm, MetricTaskDuration)
	require.True(t, ok)
	assert.Equal(t, "s", dur.Unit)
	h := dur.Data.(metricdata.Histogram[float64])
	got := map[string][2]float64{}
	for _, p := range h.DataPoints {
		got[key(attrsOf(p.Attributes))] = [2]float64{float64(p.Count), p.Sum}
		assert.Equal(t, durationBuckets, p.Bounds)
	}
	assert.Equal(t, map[string][2]float64{
		"task_type=index_kafka,runner=k8s,status=SUCCESS,": {1, 1.5},
		"task_type=index_kafka,runner=k8s,status=FAILED,":  {1, 0.5},
	}, got, "a status without a duration is not recorded")

	running, ok := findMetric(rm, MetricTasksRunning)
	require.True(t, ok)
	assert.Equal(t, map[string]int64{
		"task_type=index_kafka,runner=k8s,":    0,
		"task_type=index_kafka,runner=worker,": 0,
		"task_type=compact,runner=k8s,":        2,
		"task_type=compact,runner=worker,":     1,
	}, int64Points(t, running))

	div, ok := findMetric(rm, MetricTasksDiverted)
	require.True(t, ok)
	assert.Equal(t, map[string]int64{
		"task_type=compact,reason=drain,":    1,
		"task_type=compact,reason=fallback,": 1,
	}, int64Points(t, div))

	rb, ok := findMetric(rm, MetricGuardRollbacks)
	require.True(t, ok, "the guard rolled the canary back (50%% vs 0%%, 2 tasks)")
	assert.Equal(t, map[string]int64{"rule=kafka-canary,": 1}, int64Points(t, rb))

	// After Close the running gauge is no longer reported.
	require.NoError(t, e.tr.Close())
	rm = e.collect(t)
	running, _ = findMetric(rm, MetricTasksRunning)
	if g, ok := running.Data.(metricdata.Gauge[int64]); ok {
		assert.Empty(t, g.DataPoints)
	}
}
