package adapters

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBroadcastDatasourceLoadingMode(t *testing.T) {
	tests := []struct {
		name string
		typ  string
		ctx  map[string]any
		want string
	}{
		{"default", "index_parallel", nil, BroadcastModeAll},
		{"kill loads none", "kill", nil, BroadcastModeNone},
		{"kill ignores context", "kill", map[string]any{ContextKeyBroadcastDatasourceLoadingMode: "ALL"}, BroadcastModeNone},
		{"from context", "query_controller", map[string]any{ContextKeyBroadcastDatasourceLoadingMode: "ONLY_REQUIRED"}, BroadcastModeOnlyRequired},
		{"null context value", "index", map[string]any{ContextKeyBroadcastDatasourceLoadingMode: nil}, BroadcastModeAll},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := BroadcastDatasourceLoadingMode(taskWithContext(t, tt.typ, tt.ctx))
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	_, err := BroadcastDatasourceLoadingMode(taskWithContext(t, "index", map[string]any{ContextKeyBroadcastDatasourceLoadingMode: "SOME"}))
	assert.ErrorContains(t, err, ContextKeyBroadcastDatasourceLoadingMode)
}

func TestPeonArgs(t *testing.T) {
	c := DefaultConfig()
	c.BaseTaskDir = "/druid/task/"
	tests := []struct {
		typ  string
		want []string
	}{
		{"index_parallel", []string{"/peon.sh", "/druid/task/t1", "1", "--taskId", "t1"}},
		{"index_kafka", []string{"/peon.sh", "/druid/task/t1", "1", "--loadBroadcastSegments", "true", "--taskId", "t1"}},
		{"index_realtime", []string{"/peon.sh", "/druid/task/t1", "1", "--nodeType", "realtime", "--loadBroadcastSegments", "true", "--taskId", "t1"}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, peonArgs(c, taskWithContext(t, tt.typ, nil)), tt.typ)
	}
}

func TestShellJoin(t *testing.T) {
	assert.Equal(t, "/peon.sh /a/b 1 --taskId index_kafka_x:2024-01-01T00:00:00.000Z",
		shellJoin([]string{"/peon.sh", "/a/b", "1", "--taskId", "index_kafka_x:2024-01-01T00:00:00.000Z"}))
	assert.Equal(t, `a 'b c' 'it'\''s' '$(x)' ''`, shellJoin([]string{"a", "b c", "it's", "$(x)", ""}))
	assert.Equal(t, "a$$(b)", escapeVarRefs("a$(b)"))
}
