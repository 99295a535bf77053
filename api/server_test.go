package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskgate/taskgate/routing"
	"github.com/taskgate/taskgate/task"
)

// kafkaTask is a Druid index_kafka task as a supervisor creates it, trimmed;
// "ioConfig" and friends are fields taskgate does not read and must accept.
const kafkaTask = `{
  "type": "index_kafka",
  "id": "index_kafka_wiki_a1b2c3_ahfnlkgp",
  "groupId": "index_kafka_wiki_a1b2c3",
  "dataSource": "wiki",
  "resource": {"availabilityGroup": "index_kafka_wiki_a1b2c3", "requiredCapacity": 1},
  "ioConfig": {"topic": "wiki", "consumerProperties": {"bootstrap.servers": "kafka:9092"}},
  "context": {"priority": 75, "tags": {"team": "ingest"}}
}`

// lockedBuffer collects log output written from handler goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newTestServer(t *testing.T, r TaskRunner, opts ...Option) (*Server, *lockedBuffer) {
	t.Helper()
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := NewServer(Config{}, r, append([]Option{WithLogger(logger), WithVersion("1.2.3-test")}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s, logs
}

type req struct {
	method, target string
	body           io.Reader
	header         map[string]string
}

func serve(t *testing.T, h http.Handler, r req) *httptest.ResponseRecorder {
	t.Helper()
	hr := httptest.NewRequest(r.method, r.target, r.body)
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, hr)
	return rec
}

func jsonHeader() map[string]string { return map[string]string{"Content-Type": "application/json"} }

func decodeErr(t *testing.T, rec *httptest.ResponseRecorder) ErrorResponse {
	t.Helper()
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var e ErrorResponse
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&e), "error body %q", rec.Body.String())
	assert.NotEmpty(t, e.Error)
	return e
}

func runningItem(id, runner string) routing.WorkItem {
	return routing.WorkItem{
		TaskID: id, TaskType: "index_parallel", DataSource: "wiki", GroupID: id, Runner: runner,
		State:       task.RunnerStateRunning,
		Location:    task.Location{Host: "10.0.0.7", Port: 8100, TLSPort: -1, K8sPodName: "pod-1"},
		CreatedTime: time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC), QueueInsertionTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

func TestSubmit(t *testing.T) {
	notConfigured := fmt.Errorf("run task: %w", routing.ErrNotConfigured)
	tests := []struct {
		name       string
		body       string
		header     map[string]string
		existing   *routing.WorkItem
		submitErr  error
		wantStatus int
		wantField  string
		wantErrSub string
		check      func(t *testing.T, resp SubmitResponse, m *memRunner)
	}{
		{
			name: "new task is accepted and routed", body: kafkaTask, header: jsonHeader(), wantStatus: http.StatusAccepted,
			check: func(t *testing.T, resp SubmitResponse, m *memRunner) {
				assert.Equal(t, SubmitResponse{Task: "index_kafka_wiki_a1b2c3_ahfnlkgp", Runner: "k8s", Rule: "type=k8s"}, resp)
				require.Len(t, m.submitted, 1)
				assert.Equal(t, kafkaTask, string(m.submitted[0].Raw()), "raw task JSON must reach the runner byte-exact")
				assert.Equal(t, "index_kafka_wiki_a1b2c3", m.submitted[0].GroupID)
			},
		},
		{
			name: "missing content type is accepted", body: `{"type":"noop","id":"noop_1"}`, wantStatus: http.StatusAccepted,
		},
		{
			name: "json with charset", body: `{"type":"noop","id":"noop_1"}`,
			header: map[string]string{"Content-Type": "application/json; charset=utf-8"}, wantStatus: http.StatusAccepted,
		},
		{
			name: "vendor +json type", body: `{"type":"noop","id":"noop_1"}`,
			header: map[string]string{"Content-Type": "application/vnd.druid+json"}, wantStatus: http.StatusAccepted,
		},
		{
			name: "unknown task fields are Druid's business, not refused", header: jsonHeader(), wantStatus: http.StatusAccepted,
			body: `{"type":"future_type","id":"x_1","someNewField":{"a":[1,2]},"spec":{}}`,
		},
		{
			name: "already known id answers 200 with current status", body: kafkaTask, header: jsonHeader(),
			existing: func() *routing.WorkItem {
				wi := runningItem("index_kafka_wiki_a1b2c3_ahfnlkgp", "worker")
				return &wi
			}(),
			wantStatus: http.StatusOK,
			check: func(t *testing.T, resp SubmitResponse, m *memRunner) {
				assert.True(t, resp.AlreadyKnown)
				assert.Equal(t, "worker", resp.Runner)
				require.NotNil(t, resp.Status)
				assert.Equal(t, task.RunnerStateRunning, resp.Status.RunnerStatusCode)
				assert.Equal(t, "10.0.0.7", resp.Status.Location.Host)
			},
		},
		{name: "text/plain is refused", body: kafkaTask, header: map[string]string{"Content-Type": "text/plain"}, wantStatus: http.StatusUnsupportedMediaType},
		{name: "form post is refused", body: kafkaTask, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, wantStatus: http.StatusUnsupportedMediaType},
		{name: "garbage content type is refused", body: kafkaTask, header: map[string]string{"Content-Type": ";;;"}, wantStatus: http.StatusUnsupportedMediaType},
		{name: "bad JSON", body: `{"type":"noop","id":`, header: jsonHeader(), wantStatus: http.StatusBadRequest, wantField: "task"},
		{name: "empty body", body: ``, header: jsonHeader(), wantStatus: http.StatusBadRequest, wantField: "task"},
		{name: "JSON array", body: `[{"type":"noop"}]`, header: jsonHeader(), wantStatus: http.StatusBadRequest, wantField: "task"},
		{name: "missing id", body: `{"type":"noop"}`, header: jsonHeader(), wantStatus: http.StatusBadRequest, wantField: "id"},
		{name: "missing type", body: `{"id":"x"}`, header: jsonHeader(), wantStatus: http.StatusBadRequest, wantField: "type"},
		{name: "id with slash", body: `{"type":"noop","id":"a/b"}`, header: jsonHeader(), wantStatus: http.StatusBadRequest, wantField: "id"},
		{name: "type not a string", body: `{"type":5,"id":"x"}`, header: jsonHeader(), wantStatus: http.StatusBadRequest, wantField: "type"},
		{name: "bad priority", body: `{"type":"noop","id":"x","context":{"priority":"high"}}`, header: jsonHeader(), wantStatus: http.StatusBadRequest, wantField: "context.priority"},
		{name: "bad required capacity", body: `{"type":"noop","id":"x","resource":{"requiredCapacity":0}}`, header: jsonHeader(), wantStatus: http.StatusBadRequest, wantField: "resource.requiredCapacity"},
		{name: "bad tags", body: `{"type":"noop","id":"x","context":{"tags":["a"]}}`, header: jsonHeader(), wantStatus: http.StatusBadRequest, wantField: "context.tags"},
		{
			name: "runner not configured is 503 naming the runner", body: kafkaTask, header: jsonHeader(), submitErr: notConfigured,
			wantStatus: http.StatusServiceUnavailable, wantErrSub: "k8s runner is not configured",
		},
		{
			name: "runner field error is 400", body: kafkaTask, header: jsonHeader(),
			submitErr:  fmt.Errorf("route: %w", &task.FieldError{Field: "context.tags", Reason: "bad"}),
			wantStatus: http.StatusBadRequest, wantField: "context.tags",
		},
		{
			name: "runner failure is 500 with the wrapped message", body: kafkaTask, header: jsonHeader(),
			submitErr:  errors.New("create job x: apiserver said no"),
			wantStatus: http.StatusInternalServerError, wantErrSub: "submit task index_kafka_wiki_a1b2c3_ahfnlkgp: create job x: apiserver said no",
		},
		{
			name: "runner deadline is 504", body: kafkaTask, header: jsonHeader(),
			submitErr:  fmt.Errorf("create job: %w", context.DeadlineExceeded),
			wantStatus: http.StatusGatewayTimeout,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemRunner()
			m.submitErr = tc.submitErr
			if tc.existing != nil {
				m.put(*tc.existing)
			}
			s, _ := newTestServer(t, m)
			rec := serve(t, s.Handler(), req{method: http.MethodPost, target: "/taskgate/v1/task", body: strings.NewReader(tc.body), header: tc.header})
			require.Equal(t, tc.wantStatus, rec.Code, rec.Body.String())
			if tc.wantStatus >= 400 {
				e := decodeErr(t, rec)
				assert.Equal(t, tc.wantField, e.Field)
				assert.Contains(t, e.Error, tc.wantErrSub)
				return
			}
			var resp SubmitResponse
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
			assert.Equal(t, "/taskgate/v1/task/"+resp.Task+"/status", rec.Header().Get("Location"))
			if tc.check != nil {
				tc.check(t, resp, m)
			}
		})
	}
}

func TestSubmitBodyLimit(t *testing.T) {
	m := newMemRunner()
	s, err := NewServer(Config{MaxRequestBodyBytes: 100}, m, WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	defer s.Close()
	small := `{"type":"noop","id":"n1"}`
	big := `{"type":"noop","id":"n2","pad":"` + strings.Repeat("x", 200) + `"}`
	tests := []struct {
		name string
		body io.Reader
		want int
	}{
		{"under the limit", strings.NewReader(small), http.StatusAccepted},
		{"declared length over the limit", strings.NewReader(big), http.StatusRequestEntityTooLarge},
		// A reader of unknown length makes the request chunked, so only the
		// reading limit can catch it.
		{"chunked body over the limit", io.MultiReader(strings.NewReader(big)), http.StatusRequestEntityTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(t, s.Handler(), req{method: http.MethodPost, target: "/taskgate/v1/task", body: tc.body, header: jsonHeader()})
			require.Equal(t, tc.want, rec.Code, rec.Body.String())
			if tc.want == http.StatusRequestEntityTooLarge {
				assert.Contains(t, decodeErr(t, rec).Error, "limit of 100")
			}
		})
	}
	assert.Len(t, m.submitted, 1, "only the small task reaches the runner")
}

func TestTaskStatusAndLocation(t *testing.T) {
	m := newMemRunner()
	m.put(runningItem("index_parallel_wiki_2026-01-01T00:00:00.000Z", "k8s"))
	done := runningItem("kill_wiki_1", "worker")
	done.State = task.RunnerStateNone
	failed := task.Failure("kill_wiki_1", "segment %s missing", "s1")
	failed.Duration = 1234
	done.Status = &failed
	done.Location = task.UnknownLocation()
	m.put(done)
	s, _ := newTestServer(t, m)

	t.Run("running task in Druid's TaskStatusPlus shape", func(t *testing.T) {
		rec := serve(t, s.Handler(), req{method: http.MethodGet, target: "/taskgate/v1/task/index_parallel_wiki_2026-01-01T00:00:00.000Z/status"})
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		assert.JSONEq(t, `{"task":"index_parallel_wiki_2026-01-01T00:00:00.000Z","status":{
			"id":"index_parallel_wiki_2026-01-01T00:00:00.000Z","groupId":"index_parallel_wiki_2026-01-01T00:00:00.000Z",
			"type":"index_parallel","dataSource":"wiki",
			"createdTime":"2026-01-02T03:04:05.678Z","queueInsertionTime":"2026-01-02T03:04:05.000Z",
			"statusCode":"RUNNING","status":"RUNNING","runnerStatusCode":"RUNNING","duration":-1,
			"location":{"host":"10.0.0.7","port":8100,"tlsPort":-1,"k8sPodName":"pod-1"},
			"errorMsg":null,"runner":"k8s"}}`, rec.Body.String())
	})
	t.Run("completed task carries its final status", func(t *testing.T) {
		rec := serve(t, s.Handler(), req{method: http.MethodGet, target: "/taskgate/v1/task/kill_wiki_1/status"})
		require.Equal(t, http.StatusOK, rec.Code)
		var resp StatusResponse
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
		assert.Equal(t, task.StateFailed, resp.Status.StatusCode)
		assert.Equal(t, task.RunnerStateNone, resp.Status.RunnerStatusCode)
		assert.Equal(t, int64(1234), resp.Status.Duration)
		assert.Equal(t, "segment s1 missing", resp.Status.ErrorMsg)
		assert.Equal(t, "worker", resp.Status.Runner)
	})
	t.Run("location of a running task", func(t *testing.T) {
		rec := serve(t, s.Handler(), req{method: http.MethodGet, target: "/taskgate/v1/task/index_parallel_wiki_2026-01-01T00:00:00.000Z/location"})
		require.Equal(t, http.StatusOK, rec.Code)
		assert.JSONEq(t, `{"host":"10.0.0.7","port":8100,"tlsPort":-1,"k8sPodName":"pod-1"}`, rec.Body.String())
	})
	t.Run("unknown location is host null, ports -1", func(t *testing.T) {
		rec := serve(t, s.Handler(), req{method: http.MethodGet, target: "/taskgate/v1/task/kill_wiki_1/location"})
		require.Equal(t, http.StatusOK, rec.Code)
		assert.JSONEq(t, `{"host":null,"port":-1,"tlsPort":-1}`, rec.Body.String())
	})

	errorCases := []struct {
		name, target string
		want         int
		field        string
	}{
		{"status of unknown task", "/taskgate/v1/task/nope/status", http.StatusNotFound, ""},
		{"location of unknown task", "/taskgate/v1/task/nope/location", http.StatusNotFound, ""},
		{"status with empty id", "/taskgate/v1/task//status", http.StatusBadRequest, "id"},
		{"location with empty id", "/taskgate/v1/task//location", http.StatusBadRequest, "id"},
		{"id starting with a dot", "/taskgate/v1/task/.hidden/status", http.StatusBadRequest, "id"},
		{"id with a tab", "/taskgate/v1/task/a%09b/status", http.StatusBadRequest, "id"},
		{"encoded slash is not an id", "/taskgate/v1/task/a%2Fb/status", http.StatusNotFound, ""},
	}
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(t, s.Handler(), req{method: http.MethodGet, target: tc.target})
			require.Equal(t, tc.want, rec.Code, rec.Body.String())
			assert.Equal(t, tc.field, decodeErr(t, rec).Field)
		})
	}

	t.Run("ids with spaces and colons work when escaped", func(t *testing.T) {
		m.put(runningItem("odd id:1", "k8s"))
		rec := serve(t, s.Handler(), req{method: http.MethodGet, target: "/taskgate/v1/task/odd%20id:1/status"})
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		assert.Contains(t, rec.Body.String(), `"task":"odd id:1"`)
	})
}

func TestShutdown(t *testing.T) {
	tests := []struct {
		name       string
		target     string
		body       string
		header     map[string]string
		shutErr    error
		want       int
		wantField  string
		wantReason string
	}{
		{name: "no body uses the default reason", target: "/taskgate/v1/task/t1/shutdown", want: 200, wantReason: "shutdown requested through the taskgate API"},
		{name: "reason from the query", target: "/taskgate/v1/task/t1/shutdown?reason=operator%20asked", want: 200, wantReason: "operator asked"},
		{name: "reason from the body", target: "/taskgate/v1/task/t1/shutdown", body: `{"reason":"drain"}`, header: jsonHeader(), want: 200, wantReason: "drain"},
		{name: "body without content type", target: "/taskgate/v1/task/t1/shutdown", body: `{"reason":"drain"}`, want: 200, wantReason: "drain"},
		{name: "unknown id is a no-op that still answers 200", target: "/taskgate/v1/task/never-seen/shutdown", want: 200, wantReason: "shutdown requested through the taskgate API"},
		{name: "unknown body field is refused", target: "/taskgate/v1/task/t1/shutdown", body: `{"reason":"x","force":true}`, header: jsonHeader(), want: 400, wantField: "force"},
		{name: "reason of the wrong type", target: "/taskgate/v1/task/t1/shutdown", body: `{"reason":5}`, header: jsonHeader(), want: 400, wantField: "reason"},
		{name: "bad JSON body", target: "/taskgate/v1/task/t1/shutdown", body: `{"reason":`, header: jsonHeader(), want: 400},
		{name: "trailing data after the body", target: "/taskgate/v1/task/t1/shutdown", body: `{"reason":"a"} {}`, header: jsonHeader(), want: 400},
		{name: "empty reason in the body", target: "/taskgate/v1/task/t1/shutdown", body: `{"reason":""}`, header: jsonHeader(), want: 400, wantField: "reason"},
		{name: "empty reason in the query", target: "/taskgate/v1/task/t1/shutdown?reason=", want: 400, wantField: "reason"},
		{name: "reason in both places", target: "/taskgate/v1/task/t1/shutdown?reason=a", body: `{"reason":"b"}`, header: jsonHeader(), want: 400, wantField: "reason"},
		{name: "non-JSON body", target: "/taskgate/v1/task/t1/shutdown", body: `reason=x`, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, want: 415},
		{name: "body too large", target: "/taskgate/v1/task/t1/shutdown", body: `{"reason":"` + strings.Repeat("x", maxShutdownBodyBytes) + `"}`, header: jsonHeader(), want: 413},
		{name: "empty id", target: "/taskgate/v1/task//shutdown", want: 400, wantField: "id"},
		{name: "runner not configured", target: "/taskgate/v1/task/t1/shutdown", shutErr: fmt.Errorf("worker: %w", routing.ErrNotConfigured), want: 503},
		{name: "runner failure", target: "/taskgate/v1/task/t1/shutdown", shutErr: errors.New("delete job: boom"), want: 500},
		{name: "runner saying unknown task is still a no-op", target: "/taskgate/v1/task/t1/shutdown", shutErr: fmt.Errorf("shutdown t1: %w", routing.ErrUnknownTask), want: 200, wantReason: "shutdown requested through the taskgate API"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemRunner()
			m.shutErr = tc.shutErr
			s, _ := newTestServer(t, m)
			rec := serve(t, s.Handler(), req{method: http.MethodPost, target: tc.target, body: strings.NewReader(tc.body), header: tc.header})
			require.Equal(t, tc.want, rec.Code, rec.Body.String())
			if tc.want != http.StatusOK {
				assert.Equal(t, tc.wantField, decodeErr(t, rec).Field)
				if tc.want < 500 {
					assert.Empty(t, m.shutdowns, "bad input must not reach the runner")
				}
				return
			}
			var resp ShutdownResponse
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
			require.Len(t, m.shutdowns, 1)
			assert.Equal(t, resp.Task, m.shutdowns[0].id)
			assert.Equal(t, tc.wantReason, m.shutdowns[0].reason)
		})
	}
}

func TestListTasks(t *testing.T) {
	m := newMemRunner()
	r1 := runningItem("r1", "k8s")
	p1 := runningItem("p1", "worker")
	p1.State = task.RunnerStatePending
	p1.Location = task.UnknownLocation()
	c1 := runningItem("c1", "k8s")
	c1.State = task.RunnerStateNone
	st := task.Success("c1", 10)
	c1.Status = &st
	for _, wi := range []routing.WorkItem{r1, p1, c1} {
		m.put(wi)
	}
	s, _ := newTestServer(t, m)

	tests := []struct {
		query   string
		want    int
		wantIDs []string
	}{
		{"", 200, []string{"r1", "p1", "c1"}},
		{"?state=known", 200, []string{"r1", "p1", "c1"}},
		{"?state=running", 200, []string{"r1"}},
		{"?state=RUNNING", 200, []string{"r1"}},
		{"?state=pending", 200, []string{"p1"}},
		{"?state=complete", 400, nil},
		{"?state=", 400, nil},
	}
	for _, tc := range tests {
		t.Run("tasks"+tc.query, func(t *testing.T) {
			rec := serve(t, s.Handler(), req{method: http.MethodGet, target: "/taskgate/v1/tasks" + tc.query})
			require.Equal(t, tc.want, rec.Code, rec.Body.String())
			if tc.want != 200 {
				assert.Equal(t, "state", decodeErr(t, rec).Field)
				return
			}
			var got []TaskStatusPlus
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
			ids := []string{}
			for _, g := range got {
				ids = append(ids, g.ID)
				assert.NotEmpty(t, g.Runner, "every listed task names its runner")
			}
			assert.Equal(t, tc.wantIDs, ids)
		})
	}

	t.Run("empty listing is [] not null", func(t *testing.T) {
		s2, _ := newTestServer(t, newMemRunner())
		rec := serve(t, s2.Handler(), req{method: http.MethodGet, target: "/taskgate/v1/tasks?state=running"})
		require.Equal(t, 200, rec.Code)
		assert.Equal(t, "[]\n", rec.Body.String())
	})
}

func TestCapacity(t *testing.T) {
	m := newMemRunner()
	m.total = map[string]int{"_default_worker_category": 4, "k8s": 10}
	m.idle = map[string]int{"_default_worker_category": 1, "k8s": 7}
	m.used = map[string]int{"_default_worker_category": 3, "k8s": 3}
	m.totalCap, m.usedCap = 14, 6
	s, _ := newTestServer(t, m)
	rec := serve(t, s.Handler(), req{method: http.MethodGet, target: "/taskgate/v1/capacity"})
	require.Equal(t, 200, rec.Code)
	assert.JSONEq(t, `{"totalSlots":{"_default_worker_category":4,"k8s":10},"idleSlots":{"_default_worker_category":1,"k8s":7},
		"usedSlots":{"_default_worker_category":3,"k8s":3},"totalCapacity":14,"usedCapacity":6}`, rec.Body.String())

	s2, _ := newTestServer(t, newMemRunner())
	rec = serve(t, s2.Handler(), req{method: http.MethodGet, target: "/taskgate/v1/capacity"})
	require.Equal(t, 200, rec.Code)
	assert.JSONEq(t, `{"totalSlots":{},"idleSlots":{},"usedSlots":{},"totalCapacity":-1,"usedCapacity":-1}`, rec.Body.String())
}

func TestStatusEndpoints(t *testing.T) {
	var readyErr error
	var mu sync.Mutex
	m := newMemRunner()
	s, _ := newTestServer(t, m, WithReadiness(func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		return readyErr
	}))
	h := s.Handler()

	rec := serve(t, h, req{method: http.MethodGet, target: "/status/health"})
	require.Equal(t, 200, rec.Code)
	assert.Equal(t, "true\n", rec.Body.String())

	rec = serve(t, h, req{method: http.MethodGet, target: "/status"})
	require.Equal(t, 200, rec.Code)
	var st ServerStatus
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &st))
	assert.Equal(t, "1.2.3-test", st.Version)
	assert.NotEmpty(t, st.GoVersion)
	assert.WithinDuration(t, time.Now(), st.StartTime, time.Minute)

	rec = serve(t, h, req{method: http.MethodGet, target: "/status/ready"})
	require.Equal(t, 200, rec.Code)
	assert.JSONEq(t, `{"ready":true}`, rec.Body.String())

	mu.Lock()
	readyErr = errors.New("k8s informers not synced")
	mu.Unlock()
	rec = serve(t, h, req{method: http.MethodGet, target: "/status/ready"})
	require.Equal(t, 503, rec.Code)
	assert.Contains(t, decodeErr(t, rec).Error, "k8s informers not synced")

	mu.Lock()
	readyErr = nil
	mu.Unlock()
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
	rec = serve(t, h, req{method: http.MethodGet, target: "/status/ready"})
	require.Equal(t, 503, rec.Code)
	assert.Contains(t, decodeErr(t, rec).Error, "shutting down")
	assert.Equal(t, 0, m.listenerCount(), "Close unsubscribes from the runner")
	assert.Equal(t, 1, m.unsubscribed)
}

func TestRouterErrors(t *testing.T) {
	m := newMemRunner()
	s, logs := newTestServer(t, m, WithRoutes(func(r *mux.Router) {
		r.HandleFunc("/druid/indexer/v1/k8s/taskrunner/executionconfig", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, `{"ok":true}`)
		}).Methods(http.MethodGet)
		r.HandleFunc("/test/panic", func(http.ResponseWriter, *http.Request) { panic("boom") }).Methods(http.MethodGet)
	}))
	h := s.Handler()

	tests := []struct {
		name, method, target string
		want                 int
		allow                string
		errSub               string
	}{
		{"unknown route", http.MethodGet, "/nope", 404, "", "no route for GET /nope"},
		{"unknown route under the prefix", http.MethodGet, "/taskgate/v1/task/x/reports", 404, "", "no route"},
		{"trailing slash is not a route", http.MethodGet, "/taskgate/v1/tasks/", 404, "", "no route"},
		{"wrong method on capacity", http.MethodPost, "/taskgate/v1/capacity", 405, "GET", "method POST not allowed"},
		{"wrong method on submit", http.MethodGet, "/taskgate/v1/task", 405, "POST", "allowed: POST"},
		{"wrong method on shutdown", http.MethodDelete, "/taskgate/v1/task/t1/shutdown", 405, "POST", ""},
		{"wrong method on an extra route", http.MethodPut, "/druid/indexer/v1/k8s/taskrunner/executionconfig", 405, "GET", ""},
		{"panic becomes a JSON 500", http.MethodGet, "/test/panic", 500, "", "internal error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(t, h, req{method: tc.method, target: tc.target})
			require.Equal(t, tc.want, rec.Code, rec.Body.String())
			e := decodeErr(t, rec)
			assert.Contains(t, e.Error, tc.errSub)
			assert.Equal(t, tc.allow, rec.Header().Get("Allow"))
		})
	}
	rec := serve(t, h, req{method: http.MethodGet, target: "/druid/indexer/v1/k8s/taskrunner/executionconfig"})
	assert.Equal(t, 200, rec.Code)
	assert.Contains(t, logs.String(), `"panic":"boom"`, "the panic is logged")
}

func TestAccessLog(t *testing.T) {
	m := newMemRunner()
	s, logs := newTestServer(t, m)
	serve(t, s.Handler(), req{method: http.MethodGet, target: "/taskgate/v1/task/zzz/status", header: map[string]string{
		"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	}})
	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		require.NoError(t, json.Unmarshal([]byte(l), &line))
		if line["msg"] == "http request" {
			break
		}
	}
	require.Equal(t, "http request", line["msg"])
	assert.Equal(t, "GET", line["method"])
	assert.Equal(t, "/taskgate/v1/task/zzz/status", line["path"])
	assert.Equal(t, "/taskgate/v1/task/{id}/status", line["route"])
	assert.EqualValues(t, 404, line["status"])
	assert.Contains(t, line, "duration")
	// Without an SDK the span is not recorded, but the incoming trace id is
	// still carried, so logs join up with the caller's trace.
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", line["trace_id"])
	assert.Equal(t, "INFO", line["level"])

	serve(t, s.Handler(), req{method: http.MethodGet, target: "/status/health"})
	assert.Contains(t, logs.String(), `"level":"DEBUG","msg":"http request","method":"GET","path":"/status/health"`, "probes log at debug")
}

func TestNewServerErrors(t *testing.T) {
	_, err := NewServer(Config{}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "runner is required")

	_, err = NewServer(Config{MaxRequestBodyBytes: -1}, newMemRunner())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "MaxRequestBodyBytes")
}

// TestPanicAfterHeaders: a handler that panics after sending its status
// cannot get a 500 any more; the connection is cut so the client sees an
// error rather than a response that looks complete.
func TestPanicAfterHeaders(t *testing.T) {
	s, logs := newTestServer(t, newMemRunner(), WithRoutes(func(r *mux.Router) {
		r.HandleFunc("/test/late-panic", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "partial")
			_ = http.NewResponseController(w).Flush()
			panic("late boom")
		}).Methods(http.MethodGet)
	}))
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/test/late-panic")
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	_, err = io.ReadAll(resp.Body)
	require.Error(t, err)
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), `"aborted":true`) }, 5*time.Second, 10*time.Millisecond)
	assert.Contains(t, logs.String(), `"panic":"late boom"`)
}
