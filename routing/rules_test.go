package routing

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/taskgate/taskgate/dynconfig"
	"github.com/taskgate/taskgate/task"
)

func mustRules(t testing.TB, js string) Strategy {
	t.Helper()
	cfg, _, err := dynconfig.ParseRoutingConfig([]byte(js))
	require.NoError(t, err)
	s, err := NewRuleStrategy(cfg)
	require.NoError(t, err)
	return s
}

func taskWith(tb testing.TB, id, taskType, dataSource, groupID string, tags map[string]string) *task.Task {
	tb.Helper()
	ctx := map[string]any{}
	if tags != nil {
		ctx["tags"] = tags
	}
	raw := map[string]any{"type": taskType, "id": id, "dataSource": dataSource, "context": ctx}
	if groupID != "" {
		raw["groupId"] = groupID
	}
	b, err := jsonMarshal(raw)
	require.NoError(tb, err)
	tk, err := task.Parse(b)
	require.NoError(tb, err)
	return tk
}

func TestRuleStrategyDruidShapeAsIs(t *testing.T) {
	s := mustRules(t, `{"type":"taskType","default":"k8s","overrides":{"index_kafka":"worker"}}`)
	assert.Equal(t, Decision{Runner: RunnerWorker, Rule: "taskType.overrides[index_kafka]"}, s.Decide(newTask(t, "a", "index_kafka", "wiki")))
	assert.Equal(t, Decision{Runner: RunnerK8s, Rule: RuleTaskTypeDefault}, s.Decide(newTask(t, "b", "compact", "wiki")))
	assert.Equal(t, Decision{Runner: RunnerWorker, Rule: RuleTypeWorker}, mustRules(t, `{"type":"worker"}`).Decide(newTask(t, "c", "compact", "wiki")))
}

func TestRuleStrategyMatchesLikeSelectors(t *testing.T) {
	s := mustRules(t, `{"type":"worker","rules":[
		{"name":"gold-wiki","type":["index_parallel"],"dataSource":["wiki"],"context.tags":{"tier":["gold"]},"percent":100},
		{"name":"none","type":["compact"],"percent":0}]}`)
	tests := []struct {
		name string
		tk   *task.Task
		want Decision
	}{
		{"all conditions", taskWith(t, "t1", "index_parallel", "wiki", "", map[string]string{"tier": "gold"}),
			Decision{Runner: RunnerK8s, Rule: "rules[gold-wiki]", RuleName: "gold-wiki"}},
		{"tag value differs", taskWith(t, "t2", "index_parallel", "wiki", "", map[string]string{"tier": "silver"}),
			Decision{Runner: RunnerWorker, Rule: RuleTypeWorker}},
		{"no tags", taskWith(t, "t3", "index_parallel", "wiki", "", nil), Decision{Runner: RunnerWorker, Rule: RuleTypeWorker}},
		{"other datasource", taskWith(t, "t4", "index_parallel", "logs", "", map[string]string{"tier": "gold"}),
			Decision{Runner: RunnerWorker, Rule: RuleTypeWorker}},
		{"percent 0 sends matches to worker", taskWith(t, "t5", "compact", "wiki", "", nil),
			Decision{Runner: RunnerWorker, Rule: "rules[none]", RuleName: "none"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, s.Decide(tc.tk)) })
	}
}

// The acceptance: over 4,000 groupIds the measured share is within
// ±3 points of the set percentage, and all tasks of a group share a runner.
func TestCanaryShareAndGroupStability(t *testing.T) {
	for _, pct := range []float64{1, 10, 25, 50, 75, 90} {
		t.Run(fmt.Sprint(pct), func(t *testing.T) {
			s := mustRules(t, fmt.Sprintf(`{"type":"worker","rules":[{"name":"canary","type":["index_parallel"],"percent":%v}]}`, pct))
			const groups = 4000
			k8s := 0
			for g := range groups {
				groupID := fmt.Sprintf("index_parallel_wiki_%d_2026-12-07T10:%02d:00.000Z", g, g%60)
				first := s.Decide(taskWith(t, groupID, "index_parallel", "wiki", groupID, nil)).Runner
				// Subtasks carry the supervisor task's groupId and their own ids.
				for sub := range 3 {
					d := s.Decide(taskWith(t, fmt.Sprintf("partial_index_generate_%d_%d", g, sub), "index_parallel", "wiki", groupID, nil))
					require.Equal(t, first, d.Runner, "group %s split across runners", groupID)
				}
				if first == RunnerK8s {
					k8s++
				}
			}
			share := 100 * float64(k8s) / groups
			t.Logf("percent %v: measured %.2f%% over %d groups", pct, share, groups)
			assert.InDelta(t, pct, share, 3)
		})
	}
}

func TestCanaryRaiseKeepsGroupsOnKubernetes(t *testing.T) {
	low := mustRules(t, `{"type":"worker","rules":[{"name":"c","percent":20}]}`)
	high := mustRules(t, `{"type":"worker","rules":[{"name":"c","percent":60}]}`)
	for g := range 2000 {
		tk := newTask(t, fmt.Sprintf("g%d", g), "index", "wiki")
		if low.Decide(tk).Runner == RunnerK8s {
			require.Equal(t, RunnerK8s, high.Decide(tk).Runner, "raising a canary moved group %d back to worker", g)
		}
	}
}

func TestBucketRange(t *testing.T) {
	for _, id := range []string{"", "a", "group-1", "\xff\xfe", string(make([]byte, 1000))} {
		b := Bucket(id)
		assert.GreaterOrEqual(t, b, 0.0)
		assert.Less(t, b, 100.0)
		assert.Equal(t, b, Bucket(id), "stable")
	}
}

func TestRuleStrategyWorkerDrainDivertsToKubernetes(t *testing.T) {
	s := mustRules(t, `{"type":"taskType","default":"worker","overrides":{"compact":"k8s"},"drain":{"worker":true}}`)
	assert.Equal(t, Decision{Runner: RunnerK8s, Rule: RuleTaskTypeDefault, Diverted: RuleDrain, DivertReason: RuleDrain}, s.Decide(newTask(t, "a", "index_kafka", "wiki")))
	assert.Equal(t, Decision{Runner: RunnerK8s, Rule: "taskType.overrides[compact]"}, s.Decide(newTask(t, "b", "compact", "wiki")))
}

func TestRoutingConfigFromStrategyRoundTrips(t *testing.T) {
	tests := []StrategyConfig{
		{},
		{Type: StrategyWorker},
		taskTypeSplit,
	}
	for _, sc := range tests {
		want := mustStrategy(t, sc)
		got, err := NewRuleStrategy(RoutingConfigFromStrategy(sc))
		require.NoError(t, err)
		for _, typ := range []string{"index_kafka", "compact", "index_parallel"} {
			tk := newTask(t, "x-"+typ, typ, "wiki")
			assert.Equal(t, want.Decide(tk), got.Decide(tk), "%+v %s", sc, typ)
		}
	}
}

// reachRunner is a fake runner that reports itself unreachable on demand.
type reachRunner struct {
	*fakeRunner
	mu     sync.Mutex
	reason string
}

func (r *reachRunner) Unreachable() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reason
}

func TestHybridFallback(t *testing.T) {
	const cfg = `{"type":"worker","rules":[{"name":"kafka","type":["index_kafka"],"percent":0,
		"fallback":{"noSlotFor":"PT2M","unreachable":true}}]}`
	type setup struct {
		workerReason        string
		workerIdle, k8sIdle int
		fullFor             time.Duration // how long the worker side has been full before the submit
		wantRunner, wantWhy string
	}
	tests := []struct {
		name string
		s    setup
	}{
		{"healthy worker keeps the task", setup{workerIdle: 2, k8sIdle: 5, wantRunner: RunnerWorker}},
		{"unreachable worker spills", setup{workerReason: "no Middle Manager answered a sync for 45s", workerIdle: 2, k8sIdle: 5,
			wantRunner: RunnerK8s, wantWhy: "fallback: worker runner unreachable (no Middle Manager answered a sync for 45s)"}},
		{"full for less than the limit stays", setup{workerIdle: 0, k8sIdle: 5, fullFor: time.Minute, wantRunner: RunnerWorker}},
		{"full past the limit spills", setup{workerIdle: 0, k8sIdle: 5, fullFor: 3 * time.Minute,
			wantRunner: RunnerK8s, wantWhy: "fallback: worker runner has had no idle slot for 3m0s (limit 2m0s)"}},
		{"both full stays", setup{workerIdle: 0, k8sIdle: 0, fullFor: 3 * time.Minute, wantRunner: RunnerWorker}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k8s := newFakeRunner(RunnerK8s)
			worker := &reachRunner{fakeRunner: newFakeRunner(RunnerWorker), reason: tc.s.workerReason}
			k8s.idle = map[string]int{"c": tc.s.k8sIdle}
			worker.idle = map[string]int{"c": tc.s.workerIdle}
			now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
			var mu sync.Mutex
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			exp := tracetest.NewInMemoryExporter()
			h, err := NewHybrid(k8s, worker, mustRules(t, cfg), WithClock(clock), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
				WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))))
			require.NoError(t, err)
			if tc.s.fullFor > 0 {
				// A first submission sees the worker side full and starts the clock.
				_, _, err := h.Submit(context.Background(), newTask(t, "first", "index_kafka", "wiki"))
				require.NoError(t, err)
				mu.Lock()
				now = now.Add(tc.s.fullFor)
				mu.Unlock()
			}
			d, _, err := h.Submit(context.Background(), newTask(t, "second", "index_kafka", "wiki"))
			require.NoError(t, err)
			assert.Equal(t, tc.s.wantRunner, d.Runner)
			assert.Equal(t, tc.s.wantWhy, d.Diverted)
			switch {
			case tc.s.wantWhy == "":
				assert.Empty(t, d.DivertReason)
			case tc.s.workerReason != "":
				assert.Equal(t, DivertUnreachable, d.DivertReason)
			default:
				assert.Equal(t, DivertNoIdleSlot, d.DivertReason)
			}
			if tc.s.wantRunner == RunnerK8s {
				assert.Equal(t, 1, k8s.runs("second"))
			} else {
				assert.Equal(t, 1, worker.runs("second"))
			}
			spans := exp.GetSpans()
			last := spans[len(spans)-1]
			attrs := map[attribute.Key]attribute.Value{}
			for _, a := range last.Attributes {
				attrs[a.Key] = a.Value
			}
			assert.Equal(t, "kafka", attrs[AttrRuleName].AsString())
			if tc.s.wantWhy != "" {
				assert.Equal(t, tc.s.wantWhy, attrs[AttrDiverted].AsString())
			} else {
				_, has := attrs[AttrDiverted]
				assert.False(t, has)
			}
		})
	}
}

func TestHybridFallbackNeverSpillsToUnconfiguredRunner(t *testing.T) {
	worker := &reachRunner{fakeRunner: newFakeRunner(RunnerWorker), reason: "down"}
	h, err := NewHybrid(NewNotConfigured(RunnerK8s, "runner type is httpRemote"), worker,
		mustRules(t, `{"type":"worker","rules":[{"name":"r","percent":0,"fallback":{"unreachable":true}}]}`))
	require.NoError(t, err)
	d, _, err := h.Submit(context.Background(), newTask(t, "a", "index", "wiki"))
	require.NoError(t, err)
	assert.Equal(t, RunnerWorker, d.Runner)
	assert.Empty(t, d.Diverted)
}

type recordingObserver struct {
	mu   sync.Mutex
	seen []Decision
}

func (o *recordingObserver) TaskRouted(_ *task.Task, d Decision) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen = append(o.seen, d)
}

func TestHybridObserverHearsStartedTasksOnly(t *testing.T) {
	obs := &recordingObserver{}
	k8s, worker := newFakeRunner(RunnerK8s), newFakeRunner(RunnerWorker)
	h, err := NewHybrid(k8s, worker, mustRules(t, `{"type":"k8s"}`), WithObserver(obs))
	require.NoError(t, err)
	tk := newTask(t, "a", "index", "wiki")
	_, _, err = h.Submit(context.Background(), tk)
	require.NoError(t, err)
	_, known, err := h.Submit(context.Background(), tk)
	require.NoError(t, err)
	assert.True(t, known)
	assert.Equal(t, []Decision{{Runner: RunnerK8s, Rule: RuleTypeK8s}}, obs.seen)
}

func BenchmarkRuleStrategy(b *testing.B) {
	s := mustRules(b, `{"type":"taskType","default":"worker","overrides":{"compact":"k8s"},"rules":[
		{"name":"gold","context.tags":{"tier":["gold"]},"percent":50},
		{"name":"parallel","type":["index_parallel"],"dataSource":["wiki","logs"],"percent":25}]}`)
	tk := newTask(b, "index_parallel_wiki_1", "index_parallel", "wiki")
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Decide(tk)
	}
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
