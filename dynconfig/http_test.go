package dynconfig

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/util/sets"
)

type testServer struct {
	srv   *httptest.Server
	m     *Manager
	path  string
	clock *time.Time
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	clock := time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)
	ts := &testServer{path: filepath.Join(t.TempDir(), "execconfig.json"), clock: &clock}
	store, err := OpenFileStore(FileStoreConfig{Path: ts.path, Now: func() time.Time { return *ts.clock }})
	require.NoError(t, err)
	ts.m, err = NewManager(context.Background(), ManagerConfig{TemplateKeys: []string{"podSpec1", "podSpec2"}, StaticCapacity: 4}, store)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ts.m.Close() })
	r := mux.NewRouter()
	NewHandlers(ts.m, WithIdentity(func(r *http.Request) string { return r.Header.Get("X-Test-User") })).Register(r)
	ts.srv = httptest.NewServer(r)
	t.Cleanup(ts.srv.Close)
	return ts
}

func (ts *testServer) do(t *testing.T, method, path, body string, headers map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, ts.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
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

func TestHTTPGetDefault(t *testing.T) {
	ts := newTestServer(t)
	code, body := ts.do(t, http.MethodGet, PathExecutionConfig, "", nil)
	assert.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"type":"default","podTemplateSelectStrategy":{"type":"default"},"capacity":4}`, body)
}

func TestHTTPPostThenGetAndLiveSelection(t *testing.T) {
	ts := newTestServer(t)
	sel := ts.m.Selector()
	kafka := mkTask(t, "index_kafka", "other", "")
	key, _, err := sel.SelectTemplate(kafka, templates("podSpec1", "podSpec2"))
	require.NoError(t, err)
	assert.Equal(t, BaseTemplateKey, key)

	code, body := ts.do(t, http.MethodPost, PathExecutionConfig, druidDocsExample, nil)
	require.Equal(t, http.StatusOK, code, body)
	assert.Empty(t, body, "Druid answers a successful POST with an empty 200")

	code, body = ts.do(t, http.MethodGet, PathExecutionConfig, "", nil)
	require.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"type":"default","capacity":4,"podTemplateSelectStrategy":{"type":"selectorBased","selectors":[
		{"selectionKey":"podSpec1","context.tags":{"userProvidedTag":["tag1","tag2"]},"type":null,"dataSource":["wikipedia"]},
		{"selectionKey":"podSpec2","context.tags":null,"type":["index_kafka"],"dataSource":null}]}}`, body)

	key, _, err = sel.SelectTemplate(kafka, templates("podSpec1", "podSpec2"))
	require.NoError(t, err)
	assert.Equal(t, "podSpec2", key, "the next task sees the POST without a restart")

	// A capacity-only POST keeps the stored strategy (Druid's merge).
	code, body = ts.do(t, http.MethodPost, PathExecutionConfig, `{"capacity":9}`, nil)
	require.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, 9, ts.m.Capacity())
	assert.Equal(t, StrategyTypeSelectorBased, ts.m.Strategy().Type)
}

func TestHTTPRejectsBadInputAndStoresNothing(t *testing.T) {
	tests := []struct {
		name, body, field, msg string
	}{
		{"bad JSON", `{"type":"default",`, "", "invalid JSON"},
		{"unknown selectionKey", `{"podTemplateSelectStrategy":{"type":"selectorBased","selectors":[{"selectionKey":"podSpec1"},{"selectionKey":"podSpec9"}]}}`,
			"podTemplateSelectStrategy.selectors[1].selectionKey", `no pod template "podSpec9"`},
		{"unknown strategy", `{"podTemplateSelectStrategy":{"type":"random"}}`, "podTemplateSelectStrategy.type", "unknown strategy type"},
		{"wrong type", `{"podTemplateSelectStrategy":{"type":"selectorBased","selectors":[{"selectionKey":"podSpec1","dataSource":"wikipedia"}]}}`,
			"podTemplateSelectStrategy.selectors[0].dataSource", "must be a list of strings"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t)
			code, body := ts.do(t, http.MethodPost, PathExecutionConfig, tc.body, nil)
			assert.Equal(t, http.StatusBadRequest, code)
			var e struct{ Error, Field string }
			require.NoError(t, json.Unmarshal([]byte(body), &e), body)
			assert.Equal(t, tc.field, e.Field)
			assert.Contains(t, e.Error, tc.msg)
			if tc.field != "" {
				assert.Contains(t, e.Error, tc.field, "the message names the field")
			}
			assert.Nil(t, ts.m.Stored(), "nothing stored")
			_, hbody := ts.do(t, http.MethodGet, PathExecutionConfigHistory+"?count=10", "", nil)
			assert.JSONEq(t, `[]`, hbody)
			assert.NoFileExists(t, ts.path)
		})
	}
}

func TestHTTPPostWrongContentType(t *testing.T) {
	ts := newTestServer(t)
	code, _ := ts.do(t, http.MethodPost, PathExecutionConfig, `{}`, map[string]string{"Content-Type": "text/plain"})
	assert.Equal(t, http.StatusUnsupportedMediaType, code)
	assert.Nil(t, ts.m.Stored())
}

func TestHTTPHistory(t *testing.T) {
	ts := newTestServer(t)
	post := func(at string, capacity, author, comment string) {
		tm, err := time.Parse(time.RFC3339, at)
		require.NoError(t, err)
		*ts.clock = tm
		code, body := ts.do(t, http.MethodPost, PathExecutionConfig, `{"capacity":`+capacity+`}`,
			map[string]string{HeaderAuthor: author, HeaderComment: comment, "X-Test-User": "alice"})
		require.Equal(t, http.StatusOK, code, body)
	}
	post("2024-06-01T10:00:00Z", "5", "admin", "initial setup")
	post("2024-09-15T14:30:00Z", "20", "operator", "scaled up")
	post("2024-11-20T08:00:00Z", "10", "", "")

	history := func(query string) (int, []map[string]any, string) {
		code, body := ts.do(t, http.MethodGet, PathExecutionConfigHistory+query, "", nil)
		var out []map[string]any
		if code == http.StatusOK {
			require.NoError(t, json.Unmarshal([]byte(body), &out), body)
		}
		return code, out, body
	}

	code, entries, _ := history("?count=2")
	require.Equal(t, http.StatusOK, code)
	require.Len(t, entries, 2)
	assert.Equal(t, map[string]any{
		"key": ConfigKey, "type": ConfigKey,
		"auditInfo": map[string]any{"author": "", "identity": "alice", "comment": "", "ip": "127.0.0.1"},
		"request":   nil,
		"payload":   `{"type":"default","podTemplateSelectStrategy":null,"capacity":10}`,
		"auditTime": "2024-11-20T08:00:00.000Z",
	}, entries[0])
	assert.Equal(t, "operator", entries[1]["auditInfo"].(map[string]any)["author"])
	assert.Equal(t, "scaled up", entries[1]["auditInfo"].(map[string]any)["comment"])

	code, entries, _ = history("?interval=2024-06-01T00:00:00Z/2024-10-01T00:00:00Z&count=1")
	require.Equal(t, http.StatusOK, code)
	authors := sets.New[string]()
	for _, e := range entries {
		authors.Insert(e["auditInfo"].(map[string]any)["author"].(string))
	}
	assert.Equal(t, sets.New("admin", "operator"), authors, "interval wins over count")
	assert.Equal(t, "2024-06-01T10:00:00.000Z", entries[0]["auditTime"], "interval results are oldest first")

	// Default window: the last week before "now" (the clock).
	*ts.clock = time.Date(2024, 11, 25, 0, 0, 0, 0, time.UTC)
	code, entries, _ = history("")
	require.Equal(t, http.StatusOK, code)
	require.Len(t, entries, 1)
	*ts.clock = time.Date(2025, 11, 25, 0, 0, 0, 0, time.UTC)
	code, _, body := history("")
	require.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `[]`, body)

	for _, q := range []string{"?count=0", "?count=-1", "?count=x", "?interval=2024-01-01", "?interval="} {
		code, _, body := history(q)
		assert.Equal(t, http.StatusBadRequest, code, q)
		assert.Contains(t, body, `"error"`, q)
	}
}

func TestManagerCheckerRefusesAndWarns(t *testing.T) {
	ts := newTestServer(t)
	ts.m.SetChecker(func(cfg *ExecutionConfig) ([]string, error) {
		if cfg.Strategy().Type == StrategyTypeSelectorBased && cfg.Strategy().Selectors[0].SelectionKey == "podSpec2" {
			return nil, &FieldError{Field: "podTemplateSelectStrategy.selectors[0].selectionKey", Reason: `pod template "podSpec2" is refused: restartPolicy Always`}
		}
		return []string{"a warning"}, nil
	})
	code, body := ts.do(t, http.MethodPost, PathExecutionConfig,
		`{"podTemplateSelectStrategy":{"type":"selectorBased","selectors":[{"selectionKey":"podSpec2"}]}}`, nil)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, `"field":"podTemplateSelectStrategy.selectors[0].selectionKey"`)
	assert.Nil(t, ts.m.Stored(), "nothing stored")
	code, _ = ts.do(t, http.MethodPost, PathExecutionConfig,
		`{"podTemplateSelectStrategy":{"type":"selectorBased","selectors":[{"selectionKey":"podSpec1"}]}}`, nil)
	assert.Equal(t, http.StatusOK, code)
	ts.m.SetChecker(nil)
	code, _ = ts.do(t, http.MethodPost, PathExecutionConfig,
		`{"podTemplateSelectStrategy":{"type":"selectorBased","selectors":[{"selectionKey":"podSpec2"}]}}`, nil)
	assert.Equal(t, http.StatusOK, code)
}
