package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Expectations follow distribution/docker/druid.sh: `env | grep ^druid_`, then
// sed 's?__?%UNDERSCORE%?g; s?_?.?g; s?%UNDERSCORE%?_?g'.
func TestEnvToProperty(t *testing.T) {
	tests := []struct {
		name   string
		want   string
		wantOK bool
	}{
		{"druid_indexer_runner_capacity", "druid.indexer.runner.capacity", true},
		{"druid_indexer_runner_k8s_podTemplate_index__kafka", "druid.indexer.runner.k8s.podTemplate.index_kafka", true},
		{"druid_indexer_runner_k8sjobLaunchTimeout", "druid.indexer.runner.k8sjobLaunchTimeout", true},
		{"druid_indexer_runner_k8sAndWorker_runnerStrategy_taskType_default", "druid.indexer.runner.k8sAndWorker.runnerStrategy.taskType.default", true},
		{"druid_a___b", "druid.a_.b", true},
		{"druid_a____b", "druid.a__b", true},
		{"druid_x%UNDERSCORE%y", "druid.x_y", true},
		{"druid_", "druid.", true},
		{"druid__x", "druid_x", true}, // druid.sh pairs the prefix's underscore too
		{"druid_trailing_", "druid.trailing.", true},
		{"DRUID_XMX", "", false},
		{"DRUID_INDEXER_RUNNER_CAPACITY", "", false},
		{"Druid_indexer_runner_capacity", "", false},
		{"druid", "", false},
		{"druidx_y", "", false},
		{"my_druid_x", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := EnvToProperty(tc.name)
			assert.Equal(t, tc.wantOK, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestPropertyToEnv(t *testing.T) {
	tests := []struct {
		key    string
		want   string
		wantOK bool
	}{
		{"druid.indexer.runner.capacity", "druid_indexer_runner_capacity", true},
		{"druid.indexer.runner.k8s.podTemplate.index_kafka", "druid_indexer_runner_k8s_podTemplate_index__kafka", true},
		{"druid.a_.b", "druid_a___b", true},
		{"druid.a._b", "", false}, // "___" would read back as "_."
		{"druid.a..b", "", false}, // "__" would read back as "_"
		{"druid.x%y", "", false},
		{"druid.a=b", "", false},
		{"other.key", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			got, ok := PropertyToEnv(tc.key)
			assert.Equal(t, tc.wantOK, ok)
			assert.Equal(t, tc.want, got)
			if ok {
				back, ok := EnvToProperty(got)
				assert.True(t, ok)
				assert.Equal(t, tc.key, back)
			}
		})
	}
}

func TestEnvLayer(t *testing.T) {
	values, names := envLayer([]string{
		"PATH=/bin",
		"druid_indexer_runner_capacity=5",
		"druid_indexer_runner_labels={\"a\":\"b=c\"}",
		"no_equals_sign",
		"druid_indexer_runner_capacity=7", // later entry wins
		"DRUID_XMX=1g",
	})
	assert.Equal(t, map[string]string{
		"druid.indexer.runner.capacity": "7",
		"druid.indexer.runner.labels":   `{"a":"b=c"}`,
	}, values)
	assert.Equal(t, "druid_indexer_runner_capacity", names["druid.indexer.runner.capacity"])
}
