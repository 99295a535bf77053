package routing

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewStrategyDecide(t *testing.T) {
	taskTypeCfg := func(def string, overrides map[string]string) StrategyConfig {
		return StrategyConfig{Type: StrategyTaskType, TaskTypeDefault: def, TaskTypeOverrides: overrides}
	}
	overrides := map[string]string{"index_kafka": RunnerWorker, "compact": RunnerK8s}
	tests := []struct {
		name     string
		cfg      StrategyConfig
		taskType string
		want     Decision
	}{
		{"zero config is k8s", StrategyConfig{}, "index_parallel", Decision{Runner: RunnerK8s, Rule: "runnerStrategy.type=k8s"}},
		{"k8s sends everything to k8s", StrategyConfig{Type: StrategyK8s}, "index_kafka", Decision{Runner: RunnerK8s, Rule: "runnerStrategy.type=k8s"}},
		{"worker sends everything to worker", StrategyConfig{Type: StrategyWorker}, "compact", Decision{Runner: RunnerWorker, Rule: "runnerStrategy.type=worker"}},
		{"k8s ignores taskType overrides", StrategyConfig{Type: StrategyK8s, TaskTypeOverrides: overrides}, "index_kafka",
			Decision{Runner: RunnerK8s, Rule: "runnerStrategy.type=k8s"}},
		{"override to worker", taskTypeCfg(RunnerK8s, overrides), "index_kafka", Decision{Runner: RunnerWorker, Rule: "taskType.overrides[index_kafka]"}},
		{"override to k8s", taskTypeCfg(RunnerWorker, overrides), "compact", Decision{Runner: RunnerK8s, Rule: "taskType.overrides[compact]"}},
		{"override same as default still names the override", taskTypeCfg(RunnerK8s, overrides), "compact",
			Decision{Runner: RunnerK8s, Rule: "taskType.overrides[compact]"}},
		{"type not listed falls to default k8s", taskTypeCfg(RunnerK8s, overrides), "index_parallel", Decision{Runner: RunnerK8s, Rule: "taskType.default"}},
		{"type not listed falls to default worker", taskTypeCfg(RunnerWorker, overrides), "index_parallel", Decision{Runner: RunnerWorker, Rule: "taskType.default"}},
		{"match is case-sensitive", taskTypeCfg(RunnerK8s, overrides), "INDEX_KAFKA", Decision{Runner: RunnerK8s, Rule: "taskType.default"}},
		{"no overrides at all", taskTypeCfg(RunnerWorker, nil), "index_kafka", Decision{Runner: RunnerWorker, Rule: "taskType.default"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewStrategy(tc.cfg)
			require.NoError(t, err)
			got := s.Decide(newTask(t, "id-1", tc.taskType, "wiki"))
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestNewStrategyRejectsInvalidConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     StrategyConfig
		errProp string
	}{
		// Druid: TaskTypeRunnerStrategy's constructor does checkNotNull(default).
		{"taskType with no default", StrategyConfig{Type: StrategyTaskType, TaskTypeOverrides: map[string]string{"index": RunnerK8s}}, PropertyTaskTypeDefault},
		{"unknown runner name in overrides", StrategyConfig{Type: StrategyTaskType, TaskTypeDefault: RunnerK8s,
			TaskTypeOverrides: map[string]string{"index": "peon"}}, PropertyTaskTypeOverrides},
		{"unknown type", StrategyConfig{Type: "percent"}, PropertyStrategyType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewStrategy(tc.cfg)
			require.Error(t, err)
			assert.Nil(t, s)
			assert.Contains(t, namedProperties(err), tc.errProp)
		})
	}
}

func TestStrategyNilTask(t *testing.T) {
	for _, tc := range []struct {
		cfg  StrategyConfig
		want Decision
	}{
		{StrategyConfig{Type: StrategyTaskType, TaskTypeDefault: RunnerWorker, TaskTypeOverrides: map[string]string{"index": RunnerK8s}},
			Decision{Runner: RunnerWorker, Rule: RuleTaskTypeDefault}},
		{StrategyConfig{Type: StrategyWorker}, Decision{Runner: RunnerWorker, Rule: RuleTypeWorker}},
	} {
		s, err := NewStrategy(tc.cfg)
		require.NoError(t, err)
		assert.Equal(t, tc.want, s.Decide(nil))
	}
}

// overrides200 returns 200 overrides alternating between the runners.
func overrides200() map[string]string {
	m := make(map[string]string, 200)
	for i := range 200 {
		r := RunnerK8s
		if i%2 == 1 {
			r = RunnerWorker
		}
		m[fmt.Sprintf("task_type_%03d", i)] = r
	}
	return m
}

func BenchmarkTaskTypeStrategy_200Overrides(b *testing.B) {
	s, err := NewStrategy(StrategyConfig{Type: StrategyTaskType, TaskTypeDefault: RunnerK8s, TaskTypeOverrides: overrides200()})
	require.NoError(b, err)
	for _, bc := range []struct {
		name     string
		taskType string
		want     Decision
	}{
		{"override", "task_type_151", Decision{Runner: RunnerWorker, Rule: "taskType.overrides[task_type_151]"}},
		{"default", "index_parallel", Decision{Runner: RunnerK8s, Rule: RuleTaskTypeDefault}},
	} {
		tk := newTask(b, "bench-task", bc.taskType, "wiki")
		require.Equal(b, bc.want, s.Decide(tk))
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var d Decision
			for b.Loop() {
				d = s.Decide(tk)
			}
			if d != bc.want {
				b.Fatalf("decision %+v, want %+v", d, bc.want)
			}
		})
	}
}

func TestTaskTypeStrategyDecideDoesNotAllocate(t *testing.T) {
	s, err := NewStrategy(StrategyConfig{Type: StrategyTaskType, TaskTypeDefault: RunnerK8s, TaskTypeOverrides: overrides200()})
	require.NoError(t, err)
	tk := newTask(t, "t", "task_type_007", "wiki")
	allocs := testing.AllocsPerRun(100, func() { _ = s.Decide(tk) })
	assert.Zero(t, allocs)
}
