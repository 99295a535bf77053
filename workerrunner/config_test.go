package workerrunner

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskgate/taskgate/task"
)

type props map[string]string

func (p props) Get(k string) (string, bool) { v, ok := p[k]; return v, ok }

func TestConfigFromProperties(t *testing.T) {
	cases := []struct {
		name    string
		props   props
		check   func(t *testing.T, c Config)
		wantErr []string
	}{
		{"defaults", props{}, func(t *testing.T, c Config) {
			d := DefaultConfig()
			assert.Equal(t, 15*time.Minute, c.TaskCleanupTimeout)
			assert.Equal(t, 5*time.Minute, c.TaskAssignmentTimeout)
			assert.Equal(t, 3*time.Minute, c.SyncRequestTimeout)
			assert.Equal(t, 5, c.MaxRetriesBeforeBlacklist)
			assert.Equal(t, 20, c.MaxPercentageBlacklistWorkers)
			assert.Equal(t, "0", c.MinWorkerVersion)
			assert.Equal(t, StrategyEqualDistribution, c.SelectStrategy.Type)
			assert.Equal(t, DiscoveryStatic, c.Discovery)
			assert.Equal(t, d.StartSyncTimeout, c.StartSyncTimeout)
		}, nil},
		{"druid names and static list", props{
			PropTaskCleanupTimeout:            "PT1M",
			PropTaskAssignmentTimeout:         "PT30S",
			PropSyncRequestTimeout:            "PT1S",
			PropMaxRetriesBeforeBlacklist:     "2",
			PropWorkerBlackListBackoffTime:    "PT2M",
			PropWorkerBlackListCleanupPeriod:  "PT1M",
			PropMaxPercentageBlacklistWorkers: "50",
			PropMinWorkerVersion:              "2",
			PropWorkerURLs:                    `["http://mm-0:8091", {"url":"https://mm-1:8291","capacity":4,"category":"hot","version":"3"}]`,
			PropWorkerDefaultCapacity:         "2",
			PropSelectStrategy:                `{"type":"fillCapacity","affinityConfig":{"affinity":{"wiki":["mm-0:8091"]},"strong":true}}`,
			PropEscalatorUsername:             "druid_system",
			PropEscalatorPassword:             "pw",
		}, func(t *testing.T, c Config) {
			assert.Equal(t, time.Minute, c.TaskCleanupTimeout)
			assert.Equal(t, 30*time.Second, c.TaskAssignmentTimeout)
			assert.Equal(t, time.Second, c.SyncRequestTimeout)
			assert.Equal(t, 18*time.Second, c.StartSyncTimeout)
			assert.Equal(t, 2, c.MaxRetriesBeforeBlacklist)
			assert.Equal(t, 50, c.MaxPercentageBlacklistWorkers)
			assert.Equal(t, "2", c.MinWorkerVersion)
			assert.Equal(t, "druid_system", c.Username)
			assert.Equal(t, []WorkerInfo{
				{Scheme: "http", Host: "mm-0:8091", Capacity: 2, Category: "_default_worker_category", Version: "0"},
				{Scheme: "https", Host: "mm-1:8291", Capacity: 4, Category: "hot", Version: "3"},
			}, c.staticWorkers())
			assert.Equal(t, StrategyFillCapacity, c.SelectStrategy.Type)
			assert.True(t, c.SelectStrategy.AffinityConfig.Strong)
		}, nil},
		{"k8s discovery", props{PropDiscoveryType: "k8s", PropK8sClusterIdentifier: "prod", PropK8sNamespace: "druid"}, func(t *testing.T, c Config) {
			assert.Equal(t, DiscoveryK8s, c.Discovery)
			assert.Equal(t, "prod", c.K8sClusterIdentifier)
			assert.Equal(t, "druid", c.K8sNamespace)
		}, nil},
		{"remote worker type", props{PropWorkerType: "remote"}, nil, []string{PropWorkerType, "not supported yet"}},
		{"remote runner type", props{PropRunnerType: "remote"}, nil, []string{"not supported yet"}},
		{"bad values", props{PropTaskCleanupTimeout: "15 minutes", PropMaxRetriesBeforeBlacklist: "x", PropMaxPercentageBlacklistWorkers: "101"}, nil,
			[]string{PropTaskCleanupTimeout, PropMaxRetriesBeforeBlacklist}},
		{"percentage out of range", props{PropMaxPercentageBlacklistWorkers: "101"}, nil, []string{PropMaxPercentageBlacklistWorkers, "0..100"}},
		{"bad url", props{PropWorkerURLs: `["mm-0:8091"]`}, nil, []string{PropWorkerURLs, "entry 0"}},
		{"duplicate url", props{PropWorkerURLs: `["http://a:1","http://a:1/"]`}, nil, []string{"listed twice"}},
		{"not an array", props{PropWorkerURLs: `{"url":"http://a:1"}`}, nil, []string{PropWorkerURLs, "JSON array"}},
		{"unknown entry field", props{PropWorkerURLs: `[{"url":"http://a:1","slots":2}]`}, nil, []string{PropWorkerURLs}},
		{"unknown strategy", props{PropSelectStrategy: `{"type":"roundRobin"}`}, nil, []string{PropSelectStrategy}},
		{"javascript strategy", props{PropSelectStrategy: `{"type":"javascript"}`}, nil, []string{"not supported yet"}},
		{"affinity on category strategy", props{PropSelectStrategy: `{"type":"fillCapacityWithCategorySpec","affinityConfig":{"affinity":{}}}`}, nil, []string{"affinityConfig"}},
		{"k8s without cluster id", props{PropDiscoveryType: "k8s", PropK8sNamespace: "x"}, nil, []string{PropK8sClusterIdentifier}},
		{"zero timeout", props{PropSyncRequestTimeout: "PT0S"}, nil, []string{PropSyncRequestTimeout}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ConfigFromProperties(tc.props)
			if tc.wantErr != nil {
				require.Error(t, err)
				for _, w := range tc.wantErr {
					assert.ErrorContains(t, err, w)
				}
				return
			}
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
	_, err := ConfigFromProperties(props{PropWorkerType: "remote"})
	assert.True(t, errors.Is(err, ErrRemoteNotSupported))
}

func TestSelectStrategyPick(t *testing.T) {
	cands := func() []candidate {
		return []candidate{
			{host: "a:1", capacity: 4, used: 1, version: "1"},
			{host: "b:1", capacity: 4, used: 3, version: "1", groups: map[string]bool{"g": true}},
			{host: "c:1", capacity: 2, used: 0, version: "0"},
		}
	}
	aff := &AffinityConfig{Affinity: map[string][]string{"wiki": {"b:1"}}}
	cases := []struct {
		name     string
		s        SelectStrategy
		ds       string
		req      int
		group    string
		minVer   string
		wantHost string
	}{
		{"equal: most free", SelectStrategy{Type: StrategyEqualDistribution}, "x", 1, "t", "0", "a:1"},
		{"fill: most used", SelectStrategy{Type: StrategyFillCapacity}, "x", 1, "t", "0", "b:1"},
		{"fill: group excludes", SelectStrategy{Type: StrategyFillCapacity}, "x", 1, "g", "0", "a:1"},
		{"capacity excludes", SelectStrategy{Type: StrategyFillCapacity}, "x", 2, "t", "0", "a:1"},
		{"min version", SelectStrategy{Type: StrategyEqualDistribution}, "x", 1, "t", "1", "a:1"},
		{"nothing fits", SelectStrategy{Type: StrategyEqualDistribution}, "x", 5, "t", "0", ""},
		{"affinity", SelectStrategy{Type: StrategyEqualDistribution, AffinityConfig: aff}, "wiki", 1, "t", "0", "b:1"},
		{"others avoid affinity workers", SelectStrategy{Type: StrategyFillCapacity, AffinityConfig: aff}, "other", 1, "t", "0", "a:1"},
		{"weak affinity falls back", SelectStrategy{Type: StrategyEqualDistribution, AffinityConfig: aff}, "wiki", 1, "g", "0", "a:1"},
		{"strong affinity waits", SelectStrategy{Type: StrategyEqualDistribution, AffinityConfig: &AffinityConfig{Affinity: aff.Affinity, Strong: true}}, "wiki", 1, "g", "0", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.s.pick(cands(), taskNeeds{taskType: "noop", dataSource: tc.ds, req: tc.req, group: tc.group}, tc.minVer, 1)
			if tc.wantHost == "" {
				assert.Nil(t, got)
				return
			}
			require.NotNil(t, got)
			assert.Equal(t, tc.wantHost, got.host)
		})
	}
}

func TestParallelIndexSlotRatio(t *testing.T) {
	c := candidate{host: "a:1", capacity: 10, used: 2, parallelUsed: 2, version: "0"}
	cases := []struct {
		ratio    float64
		taskType string
		want     bool
	}{
		{1, TypeParallelIndex, true},
		{0.2, TypeParallelIndex, false}, // floor(0.2*10)=2 slots, both taken
		{0.3, TypeParallelIndex, true},
		{0.2, "index_kafka", true},       // other types are not limited
		{0.01, TypeParallelIndex, false}, // clamped to 1 slot, taken
	}
	for _, tc := range cases {
		got := c.canRun(taskNeeds{taskType: tc.taskType, req: 1, group: "g"}, "0", tc.ratio)
		assert.Equal(t, tc.want, got, "ratio %g type %s", tc.ratio, tc.taskType)
	}
	cfg, err := ConfigFromProperties(props{PropParallelIndexWorkerRatio: "0.5"})
	require.NoError(t, err)
	assert.Equal(t, 0.5, cfg.ParallelIndexTaskSlotRatio)
	_, err = ConfigFromProperties(props{PropParallelIndexTaskSlotRatio: "1.5"})
	assert.ErrorContains(t, err, PropParallelIndexTaskSlotRatio)
}

func TestTaskLimits(t *testing.T) {
	s, err := ParseSelectStrategy([]byte(`{"type":"equalDistribution","taskLimits":{"maxSlotCountByType":{"index_parallel":3,"kill":5},"maxSlotRatioByType":{"index_parallel":0.5,"compact":0.1}}}`))
	require.NoError(t, err)
	cands := []candidate{{host: "a:1", capacity: 10, version: "0"}}
	cases := []struct {
		taskType    string
		used, total int
		want        bool
	}{
		{"index_parallel", 2, 10, true}, // min(3, floor(0.5*10)=5) = 3
		{"index_parallel", 3, 10, false},
		{"index_parallel", 0, 4, true}, // min(3, 2) = 2
		{"index_parallel", 2, 4, false},
		{"compact", 0, 5, true}, // ratio clamps to at least 1 slot
		{"compact", 1, 5, false},
		{"kill", 4, 100, true},
		{"kill", 5, 100, false},
		{"noop", 1000, 10, true}, // no limit for the type
	}
	for _, tc := range cases {
		got := s.pick(cands, taskNeeds{taskType: tc.taskType, req: 1, group: "g", typeUsed: tc.used, totalCapacity: tc.total}, "0", 1)
		assert.Equal(t, tc.want, got != nil, "%s used %d of %d", tc.taskType, tc.used, tc.total)
	}
	_, err = ParseSelectStrategy([]byte(`{"type":"fillCapacity","taskLimits":{"maxSlotRatioByType":{"x":1.5}}}`))
	assert.ErrorContains(t, err, "maxSlotRatioByType")
}

func TestWorkerCategorySpec(t *testing.T) {
	spec := `{"type":"%s","workerCategorySpec":{"strong":%t,"categoryMap":{
		"index_kafka":{"defaultCategory":"c1","categoryAffinity":{"wiki":"c2"},"supervisorIdCategoryAffinity":{"sup-x":"c3"}}}}}`
	cands := func() []candidate {
		return []candidate{
			{host: "a:1", category: "c1", capacity: 4, used: 1, version: "0"},
			{host: "b:1", category: "c2", capacity: 4, used: 2, version: "0"},
			{host: "c:1", category: "c2", capacity: 4, used: 0, version: "0"},
			{host: "d:1", category: "c3", capacity: 1, used: 1, version: "0"},
		}
	}
	cases := []struct {
		name   string
		typ    string
		strong bool
		n      taskNeeds
		want   string
	}{
		{"default category", StrategyEqualDistributionWithCategorySpec, false, taskNeeds{taskType: "index_kafka", dataSource: "other"}, "a:1"},
		{"datasource category, equal", StrategyEqualDistributionWithCategorySpec, false, taskNeeds{taskType: "index_kafka", dataSource: "wiki"}, "c:1"},
		{"datasource category, fill", StrategyFillCapacityWithCategorySpec, false, taskNeeds{taskType: "index_kafka", dataSource: "wiki"}, "b:1"},
		{"type without config: all workers", StrategyEqualDistributionWithCategorySpec, true, taskNeeds{taskType: "compact", dataSource: "wiki"}, "c:1"},
		{"supervisor category full, weak: anywhere", StrategyFillCapacityWithCategorySpec, false, taskNeeds{taskType: "index_kafka", dataSource: "wiki", supervisorID: "sup-x"}, "b:1"},
		{"supervisor category full, strong: wait", StrategyFillCapacityWithCategorySpec, true, taskNeeds{taskType: "index_kafka", dataSource: "wiki", supervisorID: "sup-x"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSelectStrategy([]byte(fmt.Sprintf(spec, tc.typ, tc.strong)))
			require.NoError(t, err)
			tc.n.req, tc.n.group = 1, "g"
			got := s.pick(cands(), tc.n, "0", 1)
			if tc.want == "" {
				assert.Nil(t, got)
				return
			}
			require.NotNil(t, got)
			assert.Equal(t, tc.want, got.host)
		})
	}
	tk, err := task.Parse([]byte(`{"type":"index_kafka","id":"k1","supervisorId":"sup-x","dataSource":"wiki"}`))
	require.NoError(t, err)
	assert.Equal(t, "sup-x", supervisorID(tk))
}

// The strategy's workerType has a catalogue default, so it is always set;
// druid.indexer.runner.type=remote must still win when it names the runner.
func TestRunnerTypeRemoteWinsOverDefaultWorkerType(t *testing.T) {
	_, err := ConfigFromProperties(props{PropRunnerType: "remote", PropWorkerType: "httpRemote"})
	require.ErrorIs(t, err, ErrRemoteNotSupported)
	c, err := ConfigFromProperties(props{PropRunnerType: "k8sAndWorker", PropWorkerType: "httpRemote"})
	require.NoError(t, err)
	assert.Equal(t, WorkerTypeHTTPRemote, c.WorkerType)
}
