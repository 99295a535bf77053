package migration

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskgate/taskgate/dynconfig"
	"github.com/taskgate/taskgate/routing"
	"github.com/taskgate/taskgate/task"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		errHas string
	}{
		{"zero value", Config{}, ""},
		{"explicit", Config{Window: time.Minute, MaxInFlight: 10, MaxRecords: 10}, ""},
		{"negative window", Config{Window: -time.Second}, "window must be > 0"},
		{"negative maxInFlight", Config{MaxInFlight: -1}, "maxInFlight must be >= 0"},
		{"negative maxRecords", Config{MaxRecords: -1}, "maxRecords must be >= 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.errHas == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.errHas)
			_, nerr := New(tc.cfg)
			require.ErrorContains(t, nerr, tc.errHas, "New validates too")
		})
	}
	d := Config{}.withDefaults()
	assert.Equal(t, DefaultWindow, d.Window)
	assert.Equal(t, DefaultMaxInFlight, d.MaxInFlight)
	assert.Equal(t, DefaultMaxRecords, d.MaxRecords)
	assert.NotNil(t, d.Now)
	assert.NotNil(t, d.Logger)
}

func TestNearestRank(t *testing.T) {
	tests := []struct {
		vals        []int64
		median, p95 int64
	}{
		{[]int64{7}, 7, 7},
		{[]int64{10, 20}, 10, 20},
		{[]int64{10, 20, 30, 40, 50}, 30, 50},
		{[]int64{1, 2, 3, 4}, 2, 4},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.vals), func(t *testing.T) {
			assert.Equal(t, tc.median, nearestRank(tc.vals, 50))
			assert.Equal(t, tc.p95, nearestRank(tc.vals, 95))
		})
	}
	// 1..100: the 50th and 95th values exactly.
	hundred := make([]int64, 100)
	for i := range hundred {
		hundred[i] = int64(i + 1)
	}
	assert.Equal(t, int64(50), nearestRank(hundred, 50))
	assert.Equal(t, int64(95), nearestRank(hundred, 95))
}

func TestSnapshotStats(t *testing.T) {
	e := newEnv(t, nil)
	// index_kafka: 20 on k8s via the canary with durations 1s..20s, 2 of
	// them failed; 5 on the workers with durations given out of order.
	for i := 1; i <= 20; i++ {
		id := fmt.Sprintf("kafka-k8s-%d", i)
		e.route(t, id, "index_kafka", routing.RunnerK8s, "kafka-canary")
		e.complete(id, routing.RunnerK8s, i > 2, int64(i)*1000)
	}
	for i, d := range []int64{50, 10, 40, 20, 30} {
		id := fmt.Sprintf("kafka-mm-%d", i)
		e.route(t, id, "index_kafka", routing.RunnerWorker, "kafka-canary")
		e.complete(id, routing.RunnerWorker, true, d)
	}
	// Five more on the workers, still running; one with no duration.
	for i := range 5 {
		e.route(t, fmt.Sprintf("kafka-mm-run-%d", i), "index_kafka", routing.RunnerWorker, "kafka-canary")
	}
	e.route(t, "compact-1", "compact", routing.RunnerK8s, "")
	e.complete("compact-1", routing.RunnerK8s, true, -1)

	v := e.tr.Snapshot()
	assert.Equal(t, "PT1H", v.Window)
	assert.Equal(t, t0, v.GeneratedAt)
	assert.Equal(t, t0.Add(-time.Hour), v.From)
	assert.False(t, v.GuardEnabled)

	k8s, ok := typeRow(v, "index_kafka", routing.RunnerK8s)
	require.True(t, ok)
	assert.Equal(t, TypeStats{TaskType: "index_kafka", Runner: "k8s", Submitted: 20, Running: 0, Succeeded: 18, Failed: 2,
		FailureRate: ptr(0.1), MedianDurationMs: ptr[int64](10000), P95DurationMs: ptr[int64](19000), Share: ptr(20.0 / 30)}, k8s)

	mm, ok := typeRow(v, "index_kafka", routing.RunnerWorker)
	require.True(t, ok)
	assert.Equal(t, TypeStats{TaskType: "index_kafka", Runner: "worker", Submitted: 10, Running: 5, Succeeded: 5, Failed: 0,
		FailureRate: ptr(0.0), MedianDurationMs: ptr[int64](30), P95DurationMs: ptr[int64](50), Share: ptr(10.0 / 30)}, mm)

	compact, ok := typeRow(v, "compact", routing.RunnerK8s)
	require.True(t, ok)
	assert.Nil(t, compact.MedianDurationMs, "a status without duration is left out of the percentiles")
	assert.Nil(t, compact.P95DurationMs)
	assert.Equal(t, ptr(1.0), compact.Share)
	assert.Equal(t, []string{"compact", "index_kafka", "index_kafka"}, []string{v.Types[0].TaskType, v.Types[1].TaskType, v.Types[2].TaskType}, "sorted by type then runner")

	rule, ok := ruleRow(v, "kafka-canary")
	require.True(t, ok)
	assert.Equal(t, RuleStats{Name: "kafka-canary", SubmittedK8s: 20, SubmittedWorker: 10, K8sShare: ptr(20.0 / 30), TaskTypes: []string{"index_kafka"}}, rule)
	assert.Len(t, v.Rules, 1, "decisions without a rule name are not rules")
}

func TestSnapshotWindowExpiry(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Window = time.Hour })
	e.runBatch(t, "old", "index", routing.RunnerK8s, "r", 4, 1)
	e.route(t, "old-running", "index", routing.RunnerK8s, "r")

	e.clock.Advance(30 * time.Minute)
	e.runBatch(t, "new", "index", routing.RunnerWorker, "r", 2, 0)

	v := e.tr.Snapshot()
	k8s, _ := typeRow(v, "index", routing.RunnerK8s)
	assert.Equal(t, 5, k8s.Submitted)
	assert.Equal(t, 3, k8s.Succeeded)
	assert.Equal(t, 1, k8s.Failed)
	assert.Equal(t, 1, k8s.Running)

	// The first batch is exactly one window old: it has left.
	e.clock.Advance(30 * time.Minute)
	v = e.tr.Snapshot()
	k8s, ok := typeRow(v, "index", routing.RunnerK8s)
	require.True(t, ok, "a running task keeps its row")
	assert.Equal(t, TypeStats{TaskType: "index", Runner: "k8s", Running: 1, Share: ptr(0.0)}, k8s,
		"running is not bounded by the window; none of the type's submissions in it went here")
	mm, _ := typeRow(v, "index", routing.RunnerWorker)
	assert.Equal(t, 2, mm.Submitted)
	assert.Equal(t, ptr(1.0), mm.Share)
	rule, _ := ruleRow(v, "r")
	assert.Equal(t, 0, rule.SubmittedK8s)
	assert.Equal(t, 2, rule.SubmittedWorker)
	assert.Equal(t, ptr(0.0), rule.K8sShare)

	// The old running task completes now: it counts in the new window.
	e.complete("old-running", routing.RunnerK8s, false, 5)
	e.clock.Advance(31 * time.Minute)
	v = e.tr.Snapshot()
	_, ok = typeRow(v, "index", routing.RunnerWorker)
	assert.False(t, ok, "rows with nothing left are dropped")
	k8s, _ = typeRow(v, "index", routing.RunnerK8s)
	assert.Equal(t, TypeStats{TaskType: "index", Runner: "k8s", Failed: 1, FailureRate: ptr(1.0),
		MedianDurationMs: ptr[int64](5), P95DurationMs: ptr[int64](5)}, k8s)

	e.clock.Advance(time.Hour)
	v = e.tr.Snapshot()
	assert.Empty(t, v.Types)
	assert.Empty(t, v.Rules)
	assert.Empty(t, e.tr.completed, "completed ids leave with the window")
}

func TestDivertedCounts(t *testing.T) {
	tests := []struct {
		diverted, kind, reason string
	}{
		{"", "", ""},
		{routing.RuleDrain, DivertDrain, ReasonDrainWorker},
		{"fallback: k8s runner unreachable (API server down)", DivertFallback, ReasonFallbackUnreachable},
		{"fallback: worker runner has had no idle slot for 3m0s (limit 2m0s)", DivertFallback, ReasonFallbackNoIdleSlot},
		{"fallback: something new", DivertFallback, ReasonFallback},
		{"mystery", DivertOther, ReasonOther},
	}
	for _, tc := range tests {
		t.Run(tc.diverted, func(t *testing.T) {
			kind, reason := classifyDiversion(tc.diverted)
			assert.Equal(t, tc.kind, kind)
			assert.Equal(t, tc.reason, reason)
			if reason != "" {
				assert.Equal(t, tc.kind, reasonKind(reason))
			}
		})
	}

	e := newEnv(t, nil)
	for i := range 3 {
		e.tr.TaskRouted(mkTask(t, fmt.Sprint("d", i), "index_kafka"), routing.Decision{Runner: routing.RunnerK8s, Rule: "rules[c]", RuleName: "c", Diverted: routing.RuleDrain})
	}
	e.tr.TaskRouted(mkTask(t, "f1", "index_kafka"), routing.Decision{Runner: routing.RunnerWorker, Rule: "rules[c]", RuleName: "c",
		Diverted: "fallback: k8s runner has had no idle slot for 5m0s (limit 2m0s)"})
	e.tr.TaskRouted(mkTask(t, "f2", "index_kafka"), routing.Decision{Runner: routing.RunnerWorker, Rule: "rules[c]", RuleName: "c",
		Diverted: "fallback: k8s runner has had no idle slot for 7m0s (limit 2m0s)"})
	v := e.tr.Snapshot()
	assert.Equal(t, []DivertedStats{
		{TaskType: "index_kafka", Kind: "drain", Reason: "drain.worker", Runner: "k8s", Count: 3, LastDetail: "drain.worker"},
		{TaskType: "index_kafka", Kind: "fallback", Reason: "fallback.noIdleSlot", Runner: "worker", Count: 2,
			LastDetail: "fallback: k8s runner has had no idle slot for 7m0s (limit 2m0s)"},
	}, v.Diverted)

	e.clock.Advance(time.Hour)
	assert.Empty(t, e.tr.Snapshot().Diverted)
}

func TestRestoredTasks(t *testing.T) {
	restored := map[string]routing.WorkItem{
		"r1": {TaskID: "r1", TaskType: "index_parallel", Runner: routing.RunnerK8s, CreatedTime: t0.Add(-2 * time.Hour)},
		"r2": {TaskID: "r2", TaskType: "index_parallel", Runner: ""},
	}
	var lookups sync.Map
	e := newEnv(t, func(c *Config) {
		c.Lookup = func(id string) (routing.WorkItem, bool) {
			n, _ := lookups.LoadOrStore(id, new(int))
			*n.(*int)++
			wi, ok := restored[id]
			return wi, ok
		}
	})
	e.tr.Restored([]routing.WorkItem{
		restored["r1"],
		{TaskID: "done", TaskType: "index", Runner: routing.RunnerK8s, Status: &task.Status{Status: task.StateSuccess}},
		{TaskID: "no-type", Runner: routing.RunnerK8s},
	})
	v := e.tr.Snapshot()
	row, _ := typeRow(v, "index_parallel", routing.RunnerK8s)
	assert.Equal(t, TypeStats{TaskType: "index_parallel", Runner: "k8s", Running: 1}, row, "restored tasks run, but were not submitted in the window")
	assert.Len(t, v.Types, 1, "complete or untyped restored items are skipped")

	e.complete("r1", routing.RunnerK8s, false, 100)
	e.complete("r2", routing.RunnerWorker, true, 100) // runner from the event
	e.complete("ghost", routing.RunnerK8s, true, 100) // unknown to the lookup
	e.complete("r1", routing.RunnerK8s, true, 100)    // duplicate: ignored

	v = e.tr.Snapshot()
	row, _ = typeRow(v, "index_parallel", routing.RunnerK8s)
	assert.Equal(t, 0, row.Running)
	assert.Equal(t, 1, row.Failed)
	assert.Equal(t, 0, row.Succeeded, "a second completion of an id does not count")
	assert.Nil(t, row.Share, "no submissions of the type in the window")
	mm, _ := typeRow(v, "index_parallel", routing.RunnerWorker)
	assert.Equal(t, 1, mm.Succeeded, "the event's runner is used when the work item has none")
	assert.Equal(t, 1, v.Unattributed)
	_, asked := lookups.Load("r1")
	assert.False(t, asked, "tracked ids need no lookup")

	// Without a lookup, unknown completions are unattributed.
	bare := newEnv(t, nil)
	bare.complete("x", routing.RunnerK8s, true, 1)
	assert.Equal(t, 1, bare.tr.Snapshot().Unattributed)
	assert.Empty(t, bare.tr.Snapshot().Types)
}

func TestCompletionBeforeTaskRouted(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Lookup = func(id string) (routing.WorkItem, bool) {
			return routing.WorkItem{TaskID: id, TaskType: "index", Runner: routing.RunnerWorker}, true
		}
	})
	// The runner's event overtakes Hybrid's observer call.
	e.complete("fast", routing.RunnerWorker, true, 10)
	e.route(t, "fast", "index", routing.RunnerWorker, "")
	row, _ := typeRow(e.tr.Snapshot(), "index", routing.RunnerWorker)
	assert.Equal(t, 1, row.Submitted)
	assert.Equal(t, 1, row.Succeeded)
	assert.Equal(t, 0, row.Running, "no running task is left behind")
}

func TestIgnoredEvents(t *testing.T) {
	e := newEnv(t, nil)
	e.route(t, "a", "index", routing.RunnerK8s, "")
	running := task.Running("a")
	for _, ev := range []routing.Event{
		{Kind: routing.EventLocationChanged, TaskID: "a"},
		{Kind: routing.EventStatusChanged, TaskID: "a"},
		{Kind: routing.EventStatusChanged, TaskID: "a", Status: &running},
	} {
		e.tr.OnEvent(ev)
	}
	e.tr.TaskRouted(nil, routing.Decision{Runner: routing.RunnerK8s})
	row, _ := typeRow(e.tr.Snapshot(), "index", routing.RunnerK8s)
	assert.Equal(t, TypeStats{TaskType: "index", Runner: "k8s", Submitted: 1, Running: 1, Share: ptr(1.0)}, row)

	// The status's id is used when the event has none.
	st := task.Success("a", 3)
	e.tr.OnEvent(routing.Event{Kind: routing.EventStatusChanged, Status: &st})
	row, _ = typeRow(e.tr.Snapshot(), "index", routing.RunnerK8s)
	assert.Equal(t, 1, row.Succeeded)
}

func TestMemoryBounds(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxInFlight = 3; c.MaxRecords = 4 })
	for i := range 6 {
		e.route(t, fmt.Sprint("t", i), "index", routing.RunnerK8s, "")
	}
	v := e.tr.Snapshot()
	row, _ := typeRow(v, "index", routing.RunnerK8s)
	assert.Equal(t, 3, row.Running, "in-flight ids are capped")
	assert.Equal(t, 4, row.Submitted, "submission records are capped")
	assert.Equal(t, Dropped{InFlight: 3, Submissions: 2}, v.Dropped)
	assert.Contains(t, e.logs.String(), "oldest entries dropped")
	assert.Equal(t, 1, strings.Count(e.logs.String(), "oldest entries dropped"), "warnings are rate limited")

	// The oldest were dropped: completing t0 is not a tracked completion;
	// t5 is.
	e.complete("t5", routing.RunnerK8s, true, 1)
	e.complete("t0", routing.RunnerK8s, true, 1)
	v = e.tr.Snapshot()
	row, _ = typeRow(v, "index", routing.RunnerK8s)
	assert.Equal(t, 2, row.Running)
	assert.Equal(t, 1, row.Succeeded)
	assert.Equal(t, 1, v.Unattributed)

	e.clock.Advance(2 * time.Minute)
	for i := range 5 {
		id := fmt.Sprint("c", i)
		e.route(t, id, "index", routing.RunnerK8s, "")
		e.complete(id, routing.RunnerK8s, true, 1)
	}
	v = e.tr.Snapshot()
	row, _ = typeRow(v, "index", routing.RunnerK8s)
	assert.Equal(t, 4, row.Succeeded, "completion records are capped")
	assert.Equal(t, 2, strings.Count(e.logs.String(), "oldest entries dropped"), "logged again after a minute")
	assert.LessOrEqual(t, len(e.tr.completed), 4)
}

func TestOrderCompaction(t *testing.T) {
	// One long-running task at the front must not keep the stale entries
	// of every completed task behind it.
	e := newEnv(t, nil)
	e.route(t, "long", "index_kafka", routing.RunnerK8s, "")
	for i := range 5000 {
		id := fmt.Sprint("s", i)
		e.route(t, id, "compact", routing.RunnerK8s, "")
		e.complete(id, routing.RunnerK8s, true, 1)
	}
	assert.Less(t, e.tr.order.len(), 2100, "order is compacted")
	row, _ := typeRow(e.tr.Snapshot(), "index_kafka", routing.RunnerK8s)
	assert.Equal(t, 1, row.Running)
}

func TestConcurrentUse(t *testing.T) {
	m := newRoutingManager(t, &dynconfig.RoutingConfig{Type: "k8s", Rules: []dynconfig.RoutingRule{
		{Name: "r", Percent: 50, Guard: &dynconfig.Guard{MaxFailureRateDelta: 50}},
	}})
	e := newEnv(t, func(c *Config) { c.Routing = m })
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				id := fmt.Sprintf("g%d-%d", g, i)
				runner := []string{routing.RunnerK8s, routing.RunnerWorker}[i%2]
				e.route(t, id, "index", runner, "r")
				e.complete(id, runner, true, int64(i))
				if i%100 == 0 {
					_ = e.tr.Snapshot()
				}
			}
		}()
	}
	wg.Wait()
	v := e.tr.Snapshot()
	k8s, _ := typeRow(v, "index", routing.RunnerK8s)
	mm, _ := typeRow(v, "index", routing.RunnerWorker)
	assert.Equal(t, 1000, k8s.Submitted)
	assert.Equal(t, 1000, mm.Succeeded)
	assert.Equal(t, 0, k8s.Running+mm.Running)
}

func TestClassifyDecisionPrefersTheReason(t *testing.T) {
	for _, tc := range []struct {
		d            routing.Decision
		kind, reason string
	}{
		{routing.Decision{Diverted: "any text", DivertReason: routing.DivertNoIdleSlot}, DivertFallback, ReasonFallbackNoIdleSlot},
		{routing.Decision{Diverted: "any text", DivertReason: routing.DivertUnreachable}, DivertFallback, ReasonFallbackUnreachable},
		{routing.Decision{Diverted: routing.RuleDrain, DivertReason: routing.RuleDrain}, DivertDrain, ReasonDrainWorker},
		{routing.Decision{Diverted: "fallback: something new"}, DivertFallback, ReasonFallback},
		{routing.Decision{}, "", ""},
	} {
		kind, reason := classifyDecision(tc.d)
		assert.Equal(t, tc.kind, kind, "%+v", tc.d)
		assert.Equal(t, tc.reason, reason, "%+v", tc.d)
	}
}
