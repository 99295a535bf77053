package routing

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type mapProps map[string]string

func (m mapProps) Get(k string) (string, bool) { v, ok := m[k]; return v, ok }

func TestStrategyConfigForRunnerType(t *testing.T) {
	tests := []struct {
		name    string
		props   mapProps
		want    StrategyConfig
		wantErr string
	}{
		{name: "druid default is httpRemote", props: mapProps{}, want: StrategyConfig{Type: StrategyWorker, WorkerType: WorkerTypeHTTPRemote}},
		{name: "k8s ignores strategy properties", props: mapProps{PropertyRunnerType: "k8s", PropertyStrategyType: "worker"},
			want: StrategyConfig{Type: StrategyK8s, WorkerType: WorkerTypeHTTPRemote}},
		{name: "remote", props: mapProps{PropertyRunnerType: " remote "}, want: StrategyConfig{Type: StrategyWorker, WorkerType: WorkerTypeRemote}},
		{name: "k8sAndWorker reads the strategy", props: mapProps{
			PropertyRunnerType: "k8sAndWorker", PropertyStrategyType: "taskType",
			PropertyTaskTypeDefault: "worker", PropertyTaskTypeOverrides: `{"compact":"k8s"}`},
			want: StrategyConfig{Type: StrategyTaskType, WorkerType: WorkerTypeHTTPRemote, TaskTypeDefault: "worker",
				TaskTypeOverrides: map[string]string{"compact": "k8s"}}},
		{name: "k8sAndWorker with a bad strategy", props: mapProps{PropertyRunnerType: "k8sAndWorker", PropertyStrategyType: "taskType"},
			wantErr: PropertyTaskTypeDefault},
		{name: "unknown runner type", props: mapProps{PropertyRunnerType: "forking"}, wantErr: PropertyRunnerType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := StrategyConfigForRunnerType(tt.props)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			_, err = NewStrategy(got)
			assert.NoError(t, err)
		})
	}
}
