package dynconfig

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const fullRoutingConfig = `{"type":"taskType","default":"worker","overrides":{"compact":"k8s"},
	"rules":[{"name":"parallel-canary","type":["index_parallel"],"dataSource":["wiki"],"context.tags":{"tier":["gold"]},
	          "percent":25,"fallback":{"noSlotFor":"PT2M","unreachable":true},"guard":{"maxFailureRateDelta":10,"minTasks":30}}],
	"drain":{"worker":false,"workers":["mm-1:8091"]}}`

func TestParseRoutingConfig(t *testing.T) {
	cfg, warnings, err := ParseRoutingConfig([]byte(fullRoutingConfig))
	require.NoError(t, err)
	assert.Empty(t, warnings)
	want := &RoutingConfig{
		Type: RoutingTypeTaskType, Default: RunnerWorker, Overrides: map[string]string{"compact": RunnerK8s},
		Rules: []RoutingRule{{
			Name: "parallel-canary", Type: []string{"index_parallel"}, DataSource: []string{"wiki"},
			ContextTags: map[string][]string{"tier": {"gold"}}, Percent: 25,
			Fallback: &Fallback{NoSlotFor: 2 * time.Minute, Unreachable: true},
			Guard:    &Guard{MaxFailureRateDelta: 10, MinTasks: 30},
		}},
		Drain: Drain{Workers: []string{"mm-1:8091"}},
	}
	assert.Equal(t, want, cfg)

	// What is written reads back the same.
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	again, _, err := ParseRoutingConfig(b)
	require.NoError(t, err)
	assert.Equal(t, cfg, again)
	assert.Equal(t, cfg, cfg.Clone())

	// Druid's own runner strategy JSON, and the empty object (Druid's
	// default type k8s).
	druid, _, err := ParseRoutingConfig([]byte(`{"type":"taskType","default":"k8s","overrides":{"index_kafka":"worker"}}`))
	require.NoError(t, err)
	assert.Equal(t, &RoutingConfig{Type: "taskType", Default: "k8s", Overrides: map[string]string{"index_kafka": "worker"}}, druid)
	empty, _, err := ParseRoutingConfig([]byte(`{}`))
	require.NoError(t, err)
	assert.Equal(t, RoutingTypeK8s, empty.Type)

	_, warnings, err = ParseRoutingConfig([]byte(`{"type":"k8s","rules":[{"name":"a","percent":5,"datasource":["x"]}]}`))
	require.NoError(t, err)
	assert.Equal(t, []string{"unknown field rules[0].datasource ignored"}, warnings)
}

func TestParseRoutingConfigErrorsNameTheField(t *testing.T) {
	tests := []struct {
		body, field, reason string
	}{
		{``, "", "request body is empty"},
		{`[]`, "", "must be a JSON object"},
		{`{"type":"mm"}`, "type", `got "mm"`},
		{`{"type":"taskType"}`, "default", "is required"},
		{`{"type":"taskType","default":"middleManager"}`, "default", `got "middleManager"`},
		{`{"type":"k8s","overrides":{"index_kafka":"mm"}}`, "overrides.index_kafka", `got "mm"`},
		{`{"type":"k8s","overrides":{"index_kafka":null}}`, "overrides.index_kafka", "not null"},
		{`{"type":"k8s","overrides":["index_kafka"]}`, "overrides", "must be an object"},
		{`{"rules":{}}`, "rules", "must be a list"},
		{`{"rules":[{"percent":5}]}`, "rules[0].name", "is required"},
		{`{"rules":[{"name":"a","percent":5},{"name":"a","percent":6}]}`, "rules[1].name", "already the name of rules[0]"},
		{`{"rules":[{"name":"a"}]}`, "rules[0].percent", "is required"},
		{`{"rules":[{"name":"a","percent":"25"}]}`, "rules[0].percent", "must be a number"},
		{`{"rules":[{"name":"a","percent":101}]}`, "rules[0].percent", "between 0 and 100"},
		{`{"rules":[{"name":"a","percent":-1}]}`, "rules[0].percent", "between 0 and 100"},
		{`{"rules":[{"name":"a","percent":1,"type":"index"}]}`, "rules[0].type", "must be a list of strings"},
		{`{"rules":[{"name":"a","percent":1,"context.tags":{"t":null}}]}`, "rules[0].context.tags.t", "not null"},
		{`{"rules":[{"name":"a","percent":1,"fallback":{"noSlotFor":"2m"}}]}`, "rules[0].fallback.noSlotFor", "ISO-8601"},
		{`{"rules":[{"name":"a","percent":1,"fallback":{"unreachable":"yes"}}]}`, "rules[0].fallback.unreachable", "true or false"},
		{`{"rules":[{"name":"a","percent":1,"guard":{}}]}`, "rules[0].guard.maxFailureRateDelta", "is required"},
		{`{"rules":[{"name":"a","percent":1,"guard":{"maxFailureRateDelta":150}}]}`, "rules[0].guard.maxFailureRateDelta", "between 0 and 100"},
		{`{"rules":[{"name":"a","percent":1,"guard":{"maxFailureRateDelta":5,"minTasks":2.5}}]}`, "rules[0].guard.minTasks", "whole number"},
		{`{"rules":[{"name":"a","percent":1,"guard":{"maxFailureRateDelta":5,"minTasks":-1}}]}`, "rules[0].guard.minTasks", ">= 0"},
		{`{"drain":{"worker":1}}`, "drain.worker", "true or false"},
		{`{"drain":{"workers":["http://mm:8091/"]}}`, "drain.workers[0]", "host:port"},
	}
	for _, tc := range tests {
		t.Run(tc.body, func(t *testing.T) {
			_, _, err := ParseRoutingConfig([]byte(tc.body))
			require.Error(t, err)
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tc.field, fe.Field)
			assert.Contains(t, fe.Error(), tc.reason)
		})
	}
}

type routingServer struct {
	srv   *httptest.Server
	m     *RoutingManager
	clock *time.Time
}

func newRoutingServer(t *testing.T, static *RoutingConfig) *routingServer {
	t.Helper()
	clock := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	rs := &routingServer{clock: &clock}
	store, err := OpenDocFileStore(FileStoreConfig{Path: filepath.Join(t.TempDir(), "routing.json"), Now: func() time.Time { return *rs.clock }}, RoutingConfigDoc)
	require.NoError(t, err)
	rs.m, err = NewRoutingManager(context.Background(), static, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = rs.m.Close() })
	r := mux.NewRouter()
	NewRoutingHandlers(rs.m).Register(r)
	rs.srv = httptest.NewServer(r)
	t.Cleanup(rs.srv.Close)
	return rs
}

func (rs *routingServer) do(t *testing.T, method, path, body string, headers map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, rs.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestRoutingEndpoints(t *testing.T) {
	static := &RoutingConfig{Type: RoutingTypeTaskType, Default: RunnerK8s, Overrides: map[string]string{"index_kafka": RunnerWorker}}
	rs := newRoutingServer(t, static)
	var heard []*RoutingConfig
	var mu sync.Mutex
	cancel := rs.m.Subscribe(func(c *RoutingConfig) { mu.Lock(); heard = append(heard, c); mu.Unlock() })
	defer cancel()

	// Before any POST the static strategy is in force.
	code, body := rs.do(t, http.MethodGet, PathRoutingConfig, "", nil)
	require.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"type":"taskType","default":"k8s","overrides":{"index_kafka":"worker"},"rules":[],"drain":{"worker":false,"workers":[]}}`, body)
	code, body = rs.do(t, http.MethodGet, PathRoutingConfigHistory, "", nil)
	require.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `[]`, body)

	// Flip index_kafka to k8s.
	code, body = rs.do(t, http.MethodPost, PathRoutingConfig, `{"type":"taskType","default":"k8s"}`,
		map[string]string{"Content-Type": "application/json", HeaderAuthor: "migration-team", HeaderComment: "kafka to k8s"})
	require.Equal(t, http.StatusOK, code, body)
	assert.Empty(t, body)
	assert.Nil(t, rs.m.Current().Overrides)
	mu.Lock()
	require.Len(t, heard, 1)
	assert.Equal(t, RunnerK8s, heard[0].Default)
	mu.Unlock()

	// Bad input: 400 naming the field, nothing stored; non-JSON: 415.
	*rs.clock = rs.clock.Add(time.Minute)
	code, body = rs.do(t, http.MethodPost, PathRoutingConfig, `{"type":"taskType","default":"k8s","rules":[{"name":"c","percent":250}]}`, nil)
	require.Equal(t, http.StatusBadRequest, code)
	assert.JSONEq(t, `{"error":"rules[0].percent: must be between 0 and 100, got 250","field":"rules[0].percent"}`, body)
	code, _ = rs.do(t, http.MethodPost, PathRoutingConfig, `type=k8s`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	assert.Equal(t, http.StatusUnsupportedMediaType, code)

	// A 25% canary, then the history shows both changes with author and comment.
	code, _ = rs.do(t, http.MethodPost, PathRoutingConfig, `{"type":"taskType","default":"k8s","rules":[{"name":"c","type":["index_parallel"],"percent":25}]}`,
		map[string]string{HeaderAuthor: "migration-team", HeaderComment: "25% canary"})
	require.Equal(t, http.StatusOK, code)
	code, body = rs.do(t, http.MethodGet, PathRoutingConfigHistory, "", nil)
	require.Equal(t, http.StatusOK, code)
	var entries []AuditEntry
	require.NoError(t, json.Unmarshal([]byte(body), &entries))
	require.Len(t, entries, 2)
	assert.Equal(t, RoutingConfigKey, entries[0].Key)
	assert.Equal(t, "kafka to k8s", entries[0].AuditInfo.Comment)
	assert.Equal(t, "25% canary", entries[1].AuditInfo.Comment)
	assert.Equal(t, "migration-team", entries[1].AuditInfo.Author)
	assert.Equal(t, "127.0.0.1", entries[1].AuditInfo.IP)
	assert.Contains(t, entries[1].Payload, `"percent":25`)
	code, body = rs.do(t, http.MethodGet, PathRoutingConfigHistory+"?count=1", "", nil)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "25% canary")
	assert.NotContains(t, body, "kafka to k8s")
}

func TestRoutingManagerUpdateChangesOnlyItsPart(t *testing.T) {
	rs := newRoutingServer(t, &RoutingConfig{Type: RoutingTypeWorker})
	ctx := context.Background()
	_, err := rs.m.Set(ctx, &RoutingConfig{Type: RoutingTypeWorker, Rules: []RoutingRule{{Name: "a", Percent: 40}}}, AuditInfo{Author: "op"})
	require.NoError(t, err)
	_, err = rs.m.Update(ctx, AuditInfo{Author: "drain"}, func(cur *RoutingConfig) (*RoutingConfig, error) {
		cur.Drain.Worker = true
		return cur, nil
	})
	require.NoError(t, err)
	cur := rs.m.Current()
	assert.True(t, cur.Drain.Worker)
	require.Len(t, cur.Rules, 1)
	assert.Equal(t, 40.0, cur.Rules[0].Percent)

	// An update that breaks validation stores nothing.
	_, err = rs.m.Update(ctx, AuditInfo{}, func(cur *RoutingConfig) (*RoutingConfig, error) {
		cur.Rules[0].Percent = 400
		return cur, nil
	})
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, 40.0, rs.m.Current().Rules[0].Percent)
	hist, err := rs.m.History(ctx, HistoryQuery{})
	require.NoError(t, err)
	assert.Len(t, hist, 2)
}

func TestRoutingConfigSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "routing.json")
	static := &RoutingConfig{Type: RoutingTypeWorker}
	open := func() *RoutingManager {
		store, err := OpenDocFileStore(FileStoreConfig{Path: path}, RoutingConfigDoc)
		require.NoError(t, err)
		m, err := NewRoutingManager(context.Background(), static, store, nil)
		require.NoError(t, err)
		return m
	}
	m := open()
	assert.False(t, m.Stored())
	_, err := m.Set(context.Background(), &RoutingConfig{Type: RoutingTypeK8s}, AuditInfo{Author: "a"})
	require.NoError(t, err)
	require.NoError(t, m.Close())
	m = open()
	defer m.Close()
	assert.True(t, m.Stored())
	assert.Equal(t, RoutingTypeK8s, m.Current().Type)
}

func TestStoreConfigFor(t *testing.T) {
	file := StoreConfig{Kind: StoreKindFile, File: FileStoreConfig{Path: "var/taskgate/dynamic-config.json"}}
	assert.Equal(t, "var/taskgate/dynamic-config-routing.json", file.For("routing").File.Path)
	cm := StoreConfig{Kind: StoreKindConfigMap, ConfigMap: ConfigMapStoreConfig{Namespace: "druid"}}
	assert.Equal(t, DefaultConfigMapName+"-routing", cm.For("routing").ConfigMap.Name)
	require.NoError(t, cm.For("routing").Validate())
}

func FuzzParseRoutingConfig(f *testing.F) {
	f.Add([]byte(fullRoutingConfig))
	f.Add([]byte(`{"type":"taskType","default":"k8s","overrides":{"index_kafka":"worker"}}`))
	f.Add([]byte(`{"rules":[{"name":"a","percent":1e400}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, _, err := ParseRoutingConfig(data)
		if err != nil {
			return
		}
		require.NoError(t, cfg.Validate())
		b, err := json.Marshal(cfg)
		require.NoError(t, err)
		again, _, err := ParseRoutingConfig(b)
		require.NoError(t, err, "%s", b)
		assert.Equal(t, cfg.Clone(), again.Clone())
	})
}

// Two gateway replicas on the ConfigMap store: a routing POST on one is in
// force on the other (its listeners hear it), in its own ConfigMap next to
// the execution config's, with its own history.
func TestRoutingConfigOnConfigMapStoreReachesOtherReplica(t *testing.T) {
	env := newCMEnv(t)
	cfg := StoreConfig{Kind: StoreKindConfigMap, ConfigMap: ConfigMapStoreConfig{Namespace: env.ns}}.For("routing")
	static := &RoutingConfig{Type: RoutingTypeWorker}
	open := func() *RoutingManager {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		store, err := OpenDocStore(ctx, cfg, env.client, RoutingConfigDoc)
		require.NoError(t, err)
		t.Cleanup(func() { _ = store.Close() })
		m, err := NewRoutingManager(ctx, static, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
		require.NoError(t, err)
		t.Cleanup(func() { _ = m.Close() })
		return m
	}
	a, b := open(), open()
	heard := make(chan *RoutingConfig, 4)
	defer b.Subscribe(func(c *RoutingConfig) { heard <- c })()

	_, err := a.Set(context.Background(), &RoutingConfig{Type: RoutingTypeWorker, Rules: []RoutingRule{{Name: "c", Type: []string{"index_parallel"}, Percent: 25}}},
		AuditInfo{Author: "alice", Comment: "canary"})
	require.NoError(t, err)
	select {
	case c := <-heard:
		require.Len(t, c.Rules, 1)
		assert.Equal(t, 25.0, c.Rules[0].Percent)
	case <-time.After(5 * time.Second):
		t.Fatal("replica b never heard of the change")
	}
	assert.True(t, b.Stored())
	hist, err := b.History(context.Background(), HistoryQuery{})
	require.NoError(t, err)
	require.Len(t, hist, 1)
	assert.Equal(t, "canary", hist[0].AuditInfo.Comment)
	assert.Equal(t, RoutingConfigKey, hist[0].Key)
	cm := env.configMap(t, DefaultConfigMapName+"-routing")
	assert.Contains(t, cm.Data[ConfigMapKeyConfig], `"percent": 25`)
}
