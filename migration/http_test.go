package migration

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskgate/taskgate/dynconfig"
	"github.com/taskgate/taskgate/routing"
)

// fakeLoad is a WorkerLoad whose answer tests set.
type fakeLoad struct {
	mu   sync.Mutex
	load map[string]int
}

func (f *fakeLoad) RunningByWorker() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int, len(f.load))
	for k, v := range f.load {
		out[k] = v
	}
	return out
}

func (f *fakeLoad) set(m map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.load = m
}

type httpEnv struct {
	*env
	srv  *httptest.Server
	m    *dynconfig.RoutingManager
	load *fakeLoad
}

func newHTTPEnv(t *testing.T) *httpEnv {
	t.Helper()
	h := &httpEnv{load: &fakeLoad{load: map[string]int{"mm1:8091": 2, "mm2:8091": 1, "": 1}}}
	h.m = newRoutingManager(t, canaryConfig(10, nil))
	h.env = newEnv(t, func(c *Config) {
		c.Routing = h.m
		c.Workers = h.load
		c.Identity = func(r *http.Request) string { return r.Header.Get("X-Test-User") }
	})
	r := mux.NewRouter()
	h.tr.Register(r)
	h.srv = httptest.NewServer(r)
	t.Cleanup(h.srv.Close)
	return h
}

func do(t *testing.T, srv *httptest.Server, method, path, contentType, body string, headers map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if resp.StatusCode != http.StatusNoContent {
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, string(b)
}

func decodeDrain(t *testing.T, body string) DrainStatus {
	t.Helper()
	var st DrainStatus
	require.NoError(t, json.Unmarshal([]byte(body), &st), body)
	return st
}

func TestDrainRoundTrip(t *testing.T) {
	h := newHTTPEnv(t)
	const ct = "application/json"

	code, body := do(t, h.srv, http.MethodGet, PathDrain, "", "", nil)
	require.Equal(t, http.StatusOK, code, body)
	assert.JSONEq(t, `{"worker":false,"workers":[],"running":{"mm1:8091":2,"mm2:8091":1},"unassigned":1,"runningOnWorkerSide":4,"empty":false}`, body,
		"nothing drained is never empty")

	steps := []struct {
		name, body   string
		worker       bool
		workers      []string
		empty        bool
		load         map[string]int
		wantRunning  map[string]int
		wantOnWorker int
	}{
		{name: "drain the worker side", body: `{"worker": true}`, worker: true, workers: []string{},
			wantRunning: map[string]int{"mm1:8091": 2, "mm2:8091": 1}, wantOnWorker: 4},
		{name: "drain single Middle Managers too", body: `{"workers": ["mm1:8091", "mm3:8091", "mm1:8091"]}`, worker: true,
			workers: []string{"mm1:8091", "mm3:8091"}, wantRunning: map[string]int{"mm1:8091": 2, "mm2:8091": 1, "mm3:8091": 0}, wantOnWorker: 4},
		{name: "undrain the worker side; mm1 still busy", body: `{"worker": false}`, workers: []string{"mm1:8091", "mm3:8091"},
			wantRunning: map[string]int{"mm1:8091": 2, "mm2:8091": 1, "mm3:8091": 0}, wantOnWorker: 4},
		{name: "add", body: `{"add": ["mm2:8091", "mm3:8091"]}`, workers: []string{"mm1:8091", "mm3:8091", "mm2:8091"},
			load:        map[string]int{"mm2:8091": 5, "": 3},
			wantRunning: map[string]int{"mm1:8091": 0, "mm2:8091": 5, "mm3:8091": 0}, wantOnWorker: 8},
		{name: "remove the busy one: the drained ones are empty", body: `{"remove": ["mm2:8091", "mm9:8091"]}`, workers: []string{"mm1:8091", "mm3:8091"},
			empty: true, wantRunning: map[string]int{"mm1:8091": 0, "mm2:8091": 5, "mm3:8091": 0}, wantOnWorker: 8},
		{name: "whole side drained but tasks unassigned", body: `{"worker": true, "workers": []}`, worker: true, workers: []string{},
			load: map[string]int{"": 1}, wantRunning: map[string]int{}, wantOnWorker: 1},
		{name: "whole side drained and empty", body: `{"worker": true}`, worker: true, workers: []string{},
			load: map[string]int{"mm1:8091": 0}, empty: true, wantRunning: map[string]int{"mm1:8091": 0}, wantOnWorker: 0},
	}
	for i, s := range steps {
		if s.load != nil {
			h.load.set(s.load)
		}
		headers := map[string]string{dynconfig.HeaderAuthor: "alice", dynconfig.HeaderComment: s.name, "X-Test-User": "admin"}
		code, body := do(t, h.srv, http.MethodPost, PathDrain, ct, s.body, headers)
		require.Equal(t, http.StatusOK, code, "%s: %s", s.name, body)
		st := decodeDrain(t, body)
		assert.Equal(t, s.worker, st.Worker, s.name)
		assert.Equal(t, s.workers, st.Workers, s.name)
		assert.Equal(t, s.empty, st.Empty, s.name)
		assert.Equal(t, s.wantRunning, st.Running, s.name)
		require.NotNil(t, st.RunningOnWorkerSide)
		assert.Equal(t, s.wantOnWorker, *st.RunningOnWorkerSide, s.name)

		// The change is in the routing config, and GET agrees.
		cur := h.m.Current()
		assert.Equal(t, s.worker, cur.Drain.Worker, s.name)
		assert.ElementsMatch(t, s.workers, cur.Drain.Workers, s.name)
		_, getBody := do(t, h.srv, http.MethodGet, PathDrain, "", "", nil)
		assert.JSONEq(t, body, getBody, s.name)

		// Audited as dynconfig's POSTs are.
		hist := history(t, h.m)
		require.Len(t, hist, i+1, s.name)
		comments := make([]string, 0, len(hist))
		for _, e := range hist {
			comments = append(comments, e.AuditInfo.Comment)
			assert.Equal(t, "alice", e.AuditInfo.Author)
			assert.Equal(t, "127.0.0.1", e.AuditInfo.IP)
			require.NotNil(t, e.AuditInfo.Identity)
			assert.Equal(t, "admin", *e.AuditInfo.Identity)
		}
		assert.Contains(t, comments, s.name)
	}
	// The rest of the routing config is untouched.
	assert.Equal(t, 10.0, canaryPercent(t, h.m.Current()))
}

func TestDrainRejectsBadInput(t *testing.T) {
	h := newHTTPEnv(t)
	tests := []struct {
		name, contentType, body string
		code                    int
		field, errHas           string
	}{
		{"non-JSON content type", "text/plain", `{"worker":true}`, http.StatusUnsupportedMediaType, "", "Content-Type must be application/json"},
		{"empty body", "application/json", ``, http.StatusBadRequest, "", "request body is empty"},
		{"not JSON", "application/json", `{"worker":`, http.StatusBadRequest, "", "invalid JSON"},
		{"not an object", "application/json", `[true]`, http.StatusBadRequest, "", "invalid JSON"},
		{"null", "application/json", `null`, http.StatusBadRequest, "", "must be a JSON object"},
		{"nothing to change", "application/json", `{}`, http.StatusBadRequest, "", "nothing to change"},
		{"worker not a bool", "application/json", `{"worker":"yes"}`, http.StatusBadRequest, "worker", "must be true or false"},
		{"worker null", "application/json", `{"worker":null}`, http.StatusBadRequest, "worker", "must be true or false"},
		{"workers not a list", "application/json", `{"workers":"mm1:8091"}`, http.StatusBadRequest, "workers", "must be a list"},
		{"workers null", "application/json", `{"workers":null}`, http.StatusBadRequest, "workers", "must be a list"},
		{"worker entry not a string", "application/json", `{"workers":["mm1:8091", 7]}`, http.StatusBadRequest, "workers[1]", "must be a host:port string"},
		{"no port", "application/json", `{"add":["mm1"]}`, http.StatusBadRequest, "add[0]", "host:port"},
		{"bad port", "application/json", `{"remove":["mm1:99999"]}`, http.StatusBadRequest, "remove[0]", "port must be 1 to 65535"},
		{"a URL", "application/json", `{"workers":["http://mm1:8091"]}`, http.StatusBadRequest, "workers[0]", "host:port"},
		{"misspelt field", "application/json", `{"wrokers":["mm1:8091"]}`, http.StatusBadRequest, "wrokers", "unknown field"},
		{"workers with add", "application/json", `{"workers":[],"add":["mm1:8091"]}`, http.StatusBadRequest, "workers", "cannot be combined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(t, h.srv, http.MethodPost, PathDrain, tc.contentType, tc.body, nil)
			require.Equal(t, tc.code, code, body)
			var eb struct{ Error, Field string }
			require.NoError(t, json.Unmarshal([]byte(body), &eb), body)
			assert.Equal(t, tc.field, eb.Field)
			assert.Contains(t, eb.Error, tc.errHas)
			assert.Empty(t, history(t, h.m), "nothing stored")
		})
	}
	// No Content-Type is accepted, as dynconfig does.
	code, body := do(t, h.srv, http.MethodPost, PathDrain, "", `{"worker":true}`, nil)
	assert.Equal(t, http.StatusOK, code, body)
}

func TestDrainWithoutRoutingOrLoad(t *testing.T) {
	e := newEnv(t, nil)
	r := mux.NewRouter()
	e.tr.Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		code, body := do(t, srv, method, PathDrain, "application/json", `{"worker":true}`, nil)
		assert.Equal(t, http.StatusServiceUnavailable, code, body)
		assert.Contains(t, body, "not wired")
	}

	// With routing but no load: the settings, and no claim of emptiness.
	m := newRoutingManager(t, &dynconfig.RoutingConfig{Type: "k8s", Drain: dynconfig.Drain{Worker: true}})
	e2 := newEnv(t, func(c *Config) { c.Routing = m })
	st, err := e2.tr.DrainStatus()
	require.NoError(t, err)
	assert.Equal(t, DrainStatus{Worker: true, Workers: []string{}}, st)
	b, err := json.Marshal(st)
	require.NoError(t, err)
	assert.JSONEq(t, `{"worker":true,"workers":[],"running":null,"unassigned":null,"runningOnWorkerSide":null,"empty":false}`, string(b))
}

func TestViewEndpoint(t *testing.T) {
	h := newHTTPEnv(t)
	h.runBatch(t, "k", "index_kafka", routing.RunnerK8s, canary, 3, 1)
	h.tr.TaskRouted(mkTask(t, "d", "index_kafka"), routing.Decision{Runner: routing.RunnerK8s, Rule: "rules[" + canary + "]", RuleName: canary, Diverted: routing.RuleDrain})

	code, body := do(t, h.srv, http.MethodGet, PathView, "", "", nil)
	require.Equal(t, http.StatusOK, code, body)

	// Field names are the documented, stable ones.
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(body), &raw))
	assert.Equal(t, []string{"diverted", "dropped", "from", "generatedAt", "guardEnabled", "rollbacks", "rules", "types", "unattributed", "window"}, keys(raw))
	var v struct {
		Types    []map[string]json.RawMessage
		Rules    []map[string]json.RawMessage
		Diverted []map[string]json.RawMessage
		Dropped  map[string]json.RawMessage
	}
	require.NoError(t, json.Unmarshal([]byte(body), &v))
	require.Len(t, v.Types, 1)
	assert.Equal(t, []string{"failed", "failureRate", "medianDurationMs", "p95DurationMs", "runner", "running", "share", "submitted", "succeeded", "taskType"}, keys(v.Types[0]))
	require.Len(t, v.Rules, 2, "the canary, and the config's other rule")
	assert.Equal(t, []string{"k8sShare", "name", "percent", "submittedK8s", "submittedWorker", "taskTypes"}, keys(v.Rules[0]))
	assert.JSONEq(t, `{"name":"kafka-canary","submittedK8s":4,"submittedWorker":0,"k8sShare":1,"percent":10,"taskTypes":["index_kafka"]}`, marshal(t, v.Rules[0]))
	assert.JSONEq(t, `{"name":"other","submittedK8s":0,"submittedWorker":0,"k8sShare":null,"percent":100,"taskTypes":[]}`, marshal(t, v.Rules[1]))
	require.Len(t, v.Diverted, 1)
	assert.Equal(t, []string{"count", "kind", "lastDetail", "reason", "runner", "taskType"}, keys(v.Diverted[0]))
	assert.Equal(t, []string{"completions", "inFlight", "submissions"}, keys(v.Dropped))
	assert.Contains(t, body, `"window":"PT1H"`)
	assert.Contains(t, body, `"rollbacks":[]`)
	assert.Contains(t, body, `"generatedAt":"2024-06-01T10:00:00Z"`)
}

func TestRouteNames(t *testing.T) {
	e := newEnv(t, nil)
	r := mux.NewRouter()
	e.tr.Register(r)
	got := map[string]string{}
	require.NoError(t, r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tmpl, _ := route.GetPathTemplate()
		methods, _ := route.GetMethods()
		got[methods[0]+" "+tmpl] = route.GetName()
		return nil
	}))
	assert.Equal(t, map[string]string{
		"GET /taskgate/v1/migration":        "getMigrationView",
		"GET /taskgate/v1/migration/drain":  "getMigrationDrain",
		"POST /taskgate/v1/migration/drain": "setMigrationDrain",
	}, got)
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
