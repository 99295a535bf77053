package routing

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// props is a PropertyGetter over a map, as the config loader would provide.
type props map[string]string

func (p props) Get(key string) (string, bool) {
	v, ok := p[key]
	return v, ok
}

func TestStrategyConfigFromProperties(t *testing.T) {
	tests := []struct {
		name  string
		props props
		want  StrategyConfig
		// errProps are the properties the error must name (as *PropertyError);
		// errHas are substrings it must contain.
		errProps []string
		errHas   []string
	}{
		{
			name:  "no properties gives Druid's defaults",
			props: props{},
			want:  StrategyConfig{Type: StrategyK8s, WorkerType: WorkerTypeHTTPRemote},
		},
		{
			name:  "worker strategy with remote workers",
			props: props{PropertyStrategyType: "worker", PropertyWorkerType: "remote"},
			want:  StrategyConfig{Type: StrategyWorker, WorkerType: WorkerTypeRemote},
		},
		{
			name: "taskType with default and overrides",
			props: props{
				PropertyStrategyType:      "taskType",
				PropertyTaskTypeDefault:   "worker",
				PropertyTaskTypeOverrides: `{"index_kafka":"k8s","compact":"worker"}`,
			},
			want: StrategyConfig{Type: StrategyTaskType, WorkerType: WorkerTypeHTTPRemote, TaskTypeDefault: RunnerWorker,
				TaskTypeOverrides: map[string]string{"index_kafka": RunnerK8s, "compact": RunnerWorker}},
		},
		{
			name:  "taskType with a default and no overrides",
			props: props{PropertyStrategyType: "taskType", PropertyTaskTypeDefault: "k8s"},
			want:  StrategyConfig{Type: StrategyTaskType, WorkerType: WorkerTypeHTTPRemote, TaskTypeDefault: RunnerK8s},
		},
		{
			name:  "overrides null means none",
			props: props{PropertyStrategyType: "taskType", PropertyTaskTypeDefault: "k8s", PropertyTaskTypeOverrides: " null "},
			want:  StrategyConfig{Type: StrategyTaskType, WorkerType: WorkerTypeHTTPRemote, TaskTypeDefault: RunnerK8s},
		},
		{
			name:  "empty overrides object",
			props: props{PropertyStrategyType: "taskType", PropertyTaskTypeDefault: "k8s", PropertyTaskTypeOverrides: "{}"},
			want: StrategyConfig{Type: StrategyTaskType, WorkerType: WorkerTypeHTTPRemote, TaskTypeDefault: RunnerK8s,
				TaskTypeOverrides: map[string]string{}},
		},
		{
			name:  "values are trimmed and blank values count as unset",
			props: props{PropertyStrategyType: " worker\t", PropertyWorkerType: "  ", PropertyTaskTypeOverrides: ""},
			want:  StrategyConfig{Type: StrategyWorker, WorkerType: WorkerTypeHTTPRemote},
		},
		{
			name:     "taskType with no default is an error",
			props:    props{PropertyStrategyType: "taskType", PropertyTaskTypeOverrides: `{"index_kafka":"k8s"}`},
			errProps: []string{PropertyTaskTypeDefault},
			errHas:   []string{"is required"},
		},
		{
			name:     "unknown strategy type",
			props:    props{PropertyStrategyType: "kubernetes"},
			errProps: []string{PropertyStrategyType},
			errHas:   []string{`"kubernetes"`},
		},
		{
			name:     "strategy type is case-sensitive as in Druid",
			props:    props{PropertyStrategyType: "TaskType", PropertyTaskTypeDefault: "k8s"},
			errProps: []string{PropertyStrategyType},
		},
		{
			name:     "unknown worker type",
			props:    props{PropertyWorkerType: "zookeeper"},
			errProps: []string{PropertyWorkerType},
			errHas:   []string{`"zookeeper"`, "httpRemote", "remote"},
		},
		{
			name:     "unknown default runner",
			props:    props{PropertyStrategyType: "taskType", PropertyTaskTypeDefault: "middleManager"},
			errProps: []string{PropertyTaskTypeDefault},
			errHas:   []string{`"middleManager"`},
		},
		{
			name: "unknown runner name in overrides names the task type",
			props: props{PropertyStrategyType: "taskType", PropertyTaskTypeDefault: "k8s",
				PropertyTaskTypeOverrides: `{"index_kafka":"kubernetes","compact":"worker"}`},
			errProps: []string{PropertyTaskTypeOverrides},
			errHas:   []string{`"index_kafka"`, `"kubernetes"`},
		},
		{
			name: "override runner that is not a string",
			props: props{PropertyStrategyType: "taskType", PropertyTaskTypeDefault: "k8s",
				PropertyTaskTypeOverrides: `{"index":1}`},
			errProps: []string{PropertyTaskTypeOverrides},
			errHas:   []string{`"index"`, "got 1"},
		},
		{
			name: "override runner null",
			props: props{PropertyStrategyType: "taskType", PropertyTaskTypeDefault: "k8s",
				PropertyTaskTypeOverrides: `{"index":null}`},
			errProps: []string{PropertyTaskTypeOverrides},
			errHas:   []string{`"index"`, "null"},
		},
		{
			name: "override with an empty task type",
			props: props{PropertyStrategyType: "taskType", PropertyTaskTypeDefault: "k8s",
				PropertyTaskTypeOverrides: `{"":"k8s"}`},
			errProps: []string{PropertyTaskTypeOverrides},
			errHas:   []string{"task type must not be empty"},
		},
		{
			name: "bad JSON overrides",
			props: props{PropertyStrategyType: "taskType", PropertyTaskTypeDefault: "k8s",
				PropertyTaskTypeOverrides: `{"index_kafka":"k8s",}`},
			errProps: []string{PropertyTaskTypeOverrides},
			errHas:   []string{"JSON object"},
		},
		{
			name: "overrides that are a JSON array",
			props: props{PropertyStrategyType: "taskType", PropertyTaskTypeDefault: "k8s",
				PropertyTaskTypeOverrides: `["index_kafka"]`},
			errProps: []string{PropertyTaskTypeOverrides},
		},
		{
			name: "overrides in Java properties style instead of JSON",
			props: props{PropertyStrategyType: "taskType", PropertyTaskTypeDefault: "k8s",
				PropertyTaskTypeOverrides: `index_kafka=worker`},
			errProps: []string{PropertyTaskTypeOverrides},
		},
		{
			name: "taskType properties are checked even when unused",
			props: props{PropertyStrategyType: "k8s",
				PropertyTaskTypeOverrides: `{"index":"mm"}`},
			errProps: []string{PropertyTaskTypeOverrides},
		},
		{
			name: "every problem is reported",
			props: props{PropertyStrategyType: "taskType", PropertyWorkerType: "zk",
				PropertyTaskTypeOverrides: `{"a":"x"}`},
			errProps: []string{PropertyWorkerType, PropertyTaskTypeDefault, PropertyTaskTypeOverrides},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := StrategyConfigFromProperties(tc.props)
			if len(tc.errProps) == 0 {
				require.NoError(t, err)
				assert.Equal(t, tc.want, got)
				return
			}
			require.Error(t, err)
			assert.Equal(t, StrategyConfig{}, got)
			assert.ElementsMatch(t, tc.errProps, namedProperties(err), "error: %v", err)
			for _, s := range tc.errHas {
				assert.Contains(t, err.Error(), s)
			}
		})
	}
}

// namedProperties lists the properties named by the *PropertyErrors in err.
func namedProperties(err error) []string {
	var out []string
	var walk func(error)
	walk = func(err error) {
		if pe, ok := err.(*PropertyError); ok {
			out = append(out, pe.Property)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		if u := errors.Unwrap(err); u != nil {
			walk(u)
		}
	}
	walk(err)
	return out
}

func TestStrategyConfigValidate(t *testing.T) {
	tests := []struct {
		name     string
		cfg      StrategyConfig
		errProps []string
	}{
		{name: "zero value means the defaults", cfg: StrategyConfig{}},
		{name: "defaults", cfg: DefaultStrategyConfig()},
		{name: "taskType complete", cfg: StrategyConfig{Type: StrategyTaskType, TaskTypeDefault: RunnerWorker,
			TaskTypeOverrides: map[string]string{"index_kafka": RunnerK8s}}},
		{name: "taskType without default", cfg: StrategyConfig{Type: StrategyTaskType}, errProps: []string{PropertyTaskTypeDefault}},
		{name: "bad type", cfg: StrategyConfig{Type: "mixed"}, errProps: []string{PropertyStrategyType}},
		{name: "bad worker type", cfg: StrategyConfig{WorkerType: "HTTPREMOTE"}, errProps: []string{PropertyWorkerType}},
		{name: "bad override", cfg: StrategyConfig{Type: StrategyTaskType, TaskTypeDefault: RunnerK8s,
			TaskTypeOverrides: map[string]string{"a": "k8s", "b": "K8S"}}, errProps: []string{PropertyTaskTypeOverrides}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.errProps) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ElementsMatch(t, tc.errProps, namedProperties(err))
		})
	}
}
