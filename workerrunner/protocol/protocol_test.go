package protocol

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskgate/taskgate/task"
)

func golden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, json.Compact(&buf, b), name)
	return buf.Bytes()
}

// TestGoldenRoundTrip decodes each golden document into its Go type and
// encodes it again: the bytes must equal the golden file (compacted), field
// order and nulls included.
func TestGoldenRoundTrip(t *testing.T) {
	cases := []struct {
		file string
		v    func() any
	}{
		{"worker.json", func() any { return new(Worker) }},
		{"task_announcement.json", func() any { return new(TaskAnnouncement) }},
		{"task_announcement_old_format.json", func() any { return new(TaskAnnouncement) }},
		{"history_items.json", func() any { return new([]WorkerHistoryItem) }},
		{"sync_full.json", func() any { return new(ChangeRequestsSnapshot) }},
		{"sync_delta.json", func() any { return new(ChangeRequestsSnapshot) }},
		{"sync_reset.json", func() any { return new(ChangeRequestsSnapshot) }},
		{"sync_fresh_worker.json", func() any { return new(ChangeRequestsSnapshot) }},
		{"task_failed_status.json", func() any { return new(task.Status) }},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			want := golden(t, tc.file)
			v := tc.v()
			require.NoError(t, json.Unmarshal(want, v))
			got, err := Marshal(v)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got))
		})
	}
}

func TestOldFormatAnnouncement(t *testing.T) {
	var a TaskAnnouncement
	require.NoError(t, json.Unmarshal(golden(t, "task_announcement_old_format.input.json"), &a))
	assert.Equal(t, "T-old", a.ID())
	assert.Equal(t, task.StateSuccess, a.State())
	assert.Equal(t, TaskResource{AvailabilityGroup: "T-old", RequiredCapacity: 1}, a.TaskResource)
	assert.True(t, a.TaskLocation.IsUnknown())
	got, err := Marshal(a)
	require.NoError(t, err)
	assert.Equal(t, string(golden(t, "task_announcement_old_format.json")), string(got))
}

func TestDecodeFullSnapshotContent(t *testing.T) {
	var s ChangeRequestsSnapshot
	require.NoError(t, json.Unmarshal(golden(t, "sync_full.json"), &s))
	require.Len(t, s.Requests, 4)
	assert.Equal(t, Counter{Counter: 12, Hash: 1716372123456}, *s.Counter)
	assert.Equal(t, ItemMetadata, s.Requests[0].Type)
	run := s.Requests[2].TaskAnnouncement
	require.NotNil(t, run)
	assert.Equal(t, "T-running", run.ID())
	assert.Equal(t, task.Location{Host: "10.0.3.17", Port: 8101, TLSPort: -1}, run.TaskLocation)
	assert.Equal(t, "index_kafka_wiki_0e905aa31037879_0", run.TaskResource.AvailabilityGroup)
	assert.Equal(t, int64(41230), s.Requests[3].TaskAnnouncement.TaskStatus.Duration)
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name, in, field string
		v               any
	}{
		{"snapshot without counter", `{"resetCounter":false,"requests":[]}`, "counter", new(ChangeRequestsSnapshot)},
		{"snapshot without requests", `{"resetCounter":false,"counter":{"counter":1,"hash":2}}`, "requests", new(ChangeRequestsSnapshot)},
		{"taskUpdate without announcement", `{"type":"taskUpdate"}`, "taskAnnouncement", new(WorkerHistoryItem)},
		{"taskRemoval without id", `{"type":"taskRemoval"}`, "taskId", new(WorkerHistoryItem)},
		{"item without type", `{"disabled":true}`, "type", new(WorkerHistoryItem)},
		{"old announcement without id", `{"status":"RUNNING"}`, "taskAnnouncement.id", new(TaskAnnouncement)},
		{"old announcement bad status", `{"id":"x","status":"DONE"}`, "taskAnnouncement.status", new(TaskAnnouncement)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := json.Unmarshal([]byte(tc.in), tc.v)
			var fe *task.FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tc.field, fe.Field)
		})
	}
}

func TestUnknownHistoryItemKept(t *testing.T) {
	var it WorkerHistoryItem
	require.NoError(t, json.Unmarshal([]byte(`{"type":"segmentThing","x":1}`), &it))
	assert.Equal(t, HistoryItemType("segmentThing"), it.Type)
	b, err := json.Marshal(it)
	require.NoError(t, err)
	assert.JSONEq(t, `{"type":"segmentThing","x":1}`, string(b))
}

func TestWorkerDefaults(t *testing.T) {
	var w Worker
	require.NoError(t, json.Unmarshal([]byte(`{"host":"h:8091","ip":"1.2.3.4","capacity":3,"version":"1"}`), &w))
	assert.Equal(t, "http", w.Scheme)
	assert.Equal(t, DefaultWorkerCategory, w.Category)
}

// fakeClock returns fixed instants, one per call from a list, then the last.
type fakeClock struct {
	mu sync.Mutex
	ms []int64
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.ms[0]
	if len(c.ms) > 1 {
		c.ms = c.ms[1:]
	}
	return time.UnixMilli(v)
}

func TestChangeHistorySince(t *testing.T) {
	clk := &fakeClock{ms: []int64{100, 200, 300}}
	h := NewChangeHistory(2, clk.now)
	h.Add(Metadata(true))
	h.Add(Metadata(false), TaskRemoval("a"))
	require.Equal(t, Counter{3, 300}, h.LastCounter())

	cases := []struct {
		name      string
		c         Counter
		wantCause string
		wantN     int
	}{
		{"at last counter", Counter{3, 300}, "", 0},
		{"same counter other hash", Counter{3, 1}, "counter[Counter{counter=3, hash=1}] failed to match with [Counter{counter=3, hash=300}]", 0},
		{"ahead of last", Counter{7, 5}, "counter[Counter{counter=7, hash=5}] >= last counter[Counter{counter=3, hash=300}]", 0},
		{"too old", Counter{1, 100}, "can't serve request, not enough history is kept. given counter [Counter{counter=1, hash=100}] and current last counter [Counter{counter=3, hash=300}]", 0},
		{"delta", Counter{2, 200}, "", 1},
		{"stored hash differs", Counter{2, 999}, "counter[Counter{counter=2, hash=999}] failed to match with [Counter{counter=3, hash=300}]", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := h.Since(tc.c)
			require.NoError(t, err)
			if tc.wantCause != "" {
				assert.True(t, s.ResetCounter)
				assert.Equal(t, tc.wantCause, s.ResetCause)
				return
			}
			assert.False(t, s.ResetCounter)
			assert.Len(t, s.Requests, tc.wantN)
			assert.Equal(t, Counter{3, 300}, *s.Counter)
		})
	}
	_, err := h.Since(Counter{-1, 0})
	assert.ErrorIs(t, err, ErrInvalidArgument)
}

func TestChangeHistoryFromZero(t *testing.T) {
	h := NewChangeHistory(10, (&fakeClock{ms: []int64{5, 6}}).now)
	h.Add(Metadata(true), Metadata(false))
	s, err := h.Since(CounterZero)
	require.NoError(t, err)
	require.False(t, s.ResetCounter)
	assert.Len(t, s.Requests, 2)
	s, err = h.Since(Counter{0, 77})
	require.NoError(t, err)
	assert.True(t, s.ResetCounter, "counter 0 must carry hash 0")
}

func TestChangeHistoryWait(t *testing.T) {
	h := NewChangeHistory(0, nil)
	start := h.LastCounter()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := h.Wait(ctx, start)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	got := make(chan ChangeRequestsSnapshot, 1)
	go func() {
		s, err := h.Wait(context.Background(), start)
		assert.NoError(t, err)
		got <- s
	}()
	time.Sleep(20 * time.Millisecond)
	last := h.Add(TaskRemoval("x"))
	select {
	case s := <-got:
		require.False(t, s.ResetCounter)
		assert.Equal(t, last, *s.Counter)
		require.Len(t, s.Requests, 1)
		assert.Equal(t, "x", s.Requests[0].TaskID)
	case <-time.After(2 * time.Second):
		t.Fatal("Wait did not return after Add")
	}

	errc := make(chan error, 1)
	go func() { _, err := h.Wait(context.Background(), last); errc <- err }()
	time.Sleep(20 * time.Millisecond)
	h.Close()
	select {
	case err := <-errc:
		assert.ErrorIs(t, err, ErrShuttingDown)
	case <-time.After(2 * time.Second):
		t.Fatal("Wait did not return after Close")
	}
}

// historyService is a WorkerService over a ChangeHistory, for router tests.
type historyService struct {
	h         *ChangeHistory
	full      ChangeRequestsSnapshot
	assigned  []string
	assignErr error
	enabled   bool
	shutdown  []string
	logs      map[string]string
}

func (s *historyService) HostAndPort() string { return "mm-0.mm:8091" }
func (s *historyService) AssignTask(_ context.Context, t *task.Task) error {
	if s.assignErr != nil {
		return s.assignErr
	}
	s.assigned = append(s.assigned, t.ID)
	return nil
}
func (s *historyService) Changes(ctx context.Context, c Counter) (ChangeRequestsSnapshot, error) {
	if c.Counter < 0 {
		return s.full, nil
	}
	return s.h.Wait(ctx, c)
}
func (s *historyService) ShutdownTask(_ context.Context, id string) error {
	s.shutdown = append(s.shutdown, id)
	return nil
}
func (s *historyService) TaskLog(_ context.Context, id string, offset int64) (io.ReadCloser, error) {
	l, ok := s.logs[id]
	if !ok {
		return nil, fmt.Errorf("task %s: %w", id, ErrNotFound)
	}
	return io.NopCloser(strings.NewReader(l[offset:])), nil
}
func (s *historyService) Tasks(context.Context) ([]string, error) {
	return []string{"index_kafka_wiki_0e905aa31037879_nommnaeg", "kill_wiki_abc"}, nil
}
func (s *historyService) Enabled(context.Context) (bool, error) { return s.enabled, nil }
func (s *historyService) SetEnabled(_ context.Context, on bool) error {
	s.enabled = on
	return nil
}

func newHistoryService(t *testing.T) *historyService {
	var full ChangeRequestsSnapshot
	require.NoError(t, json.Unmarshal(golden(t, "sync_full.json"), &full))
	h := NewChangeHistory(0, (&fakeClock{ms: []int64{1716379999000, 1716380000000}}).now)
	h.Add(Metadata(true), Metadata(false))
	return &historyService{h: h, full: full, enabled: true, logs: map[string]string{"T-running": "line1\nline2\n"}}
}

func serve(h http.Handler, method, target string, body []byte, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandlerEndpoints(t *testing.T) {
	jsonHdr := map[string]string{"Content-Type": ContentTypeJSON, "Accept": ContentTypeJSON}
	cases := []struct {
		name       string
		method     string
		target     string
		body       []byte
		hdr        map[string]string
		wantCode   int
		wantGolden string // compared byte for byte (compacted)
		wantText   string // exact body when not golden
	}{
		{"full sync", "GET", "/druid-internal/v1/worker?counter=-1&timeout=1000", nil, jsonHdr, 200, "sync_full.json", ""},
		{"full sync trailing slash", "GET", "/druid-internal/v1/worker/?counter=-1&timeout=1000", nil, jsonHdr, 200, "sync_full.json", ""},
		{"reset: counter ahead", "GET", "/druid-internal/v1/worker?counter=13&hash=1716372129001&timeout=1000", nil, jsonHdr, 200, "sync_reset.json", ""},
		{"timeout zero", "GET", "/druid-internal/v1/worker?counter=-1&timeout=0", nil, jsonHdr, 400, "", "timeout must be positive."},
		{"timeout missing", "GET", "/druid-internal/v1/worker?counter=-1", nil, jsonHdr, 400, "", "timeout must be positive."},
		{"timeout not a number", "GET", "/druid-internal/v1/worker?counter=-1&timeout=x", nil, jsonHdr, 404, "", "counter, hash and timeout must be integers"},
		{"idle timeout", "GET", "/druid-internal/v1/worker?counter=2&hash=1716380000000&timeout=20", nil, jsonHdr, 204, "", ""},
		{"assign", "POST", "/druid-internal/v1/worker/assignTask", golden(t, "assign_task_request.json"), jsonHdr, 200, "", ""},
		{"assign bad content type", "POST", "/druid-internal/v1/worker/assignTask", []byte("x"), map[string]string{"Content-Type": "text/plain"}, 415, "", `Content-Type "text/plain" is not supported; use application/json or application/x-jackson-smile`},
		{"assign bad task", "POST", "/druid-internal/v1/worker/assignTask", []byte(`{"id":"x"}`), jsonHdr, 400, "", `{"error":"task field \"type\": is required"}`},
		{"shutdown", "POST", "/druid/worker/v1/task/index_kafka_wiki_0e905aa31037879_nommnaeg/shutdown", nil, nil, 200, "shutdown_response.json", ""},
		{"log from offset", "GET", "/druid/worker/v1/task/T-running/log?offset=6", nil, nil, 200, "", "line2\n"},
		{"log unknown task", "GET", "/druid/worker/v1/task/T-none/log?offset=0", nil, nil, 404, "", "task T-none: not found"},
		{"tasks", "GET", "/druid/worker/v1/tasks", nil, nil, 200, "tasks_response.json", ""},
		{"enabled", "GET", "/druid/worker/v1/enabled", nil, nil, 200, "enabled_response.json", ""},
		{"disable", "POST", "/druid/worker/v1/disable", nil, nil, 200, "disable_response.json", ""},
		{"enable", "POST", "/druid/worker/v1/enable", nil, nil, 200, "enable_response.json", ""},
	}
	svc := newHistoryService(t)
	h := NewHandler(svc)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(h, tc.method, tc.target, tc.body, tc.hdr)
			require.Equal(t, tc.wantCode, rec.Code, rec.Body.String())
			if tc.wantGolden != "" {
				assert.Equal(t, ContentTypeJSON, rec.Header().Get("Content-Type"))
				assert.Equal(t, string(golden(t, tc.wantGolden)), rec.Body.String())
				return
			}
			assert.Equal(t, tc.wantText, rec.Body.String())
		})
	}
	assert.Equal(t, []string{"noop_wiki_2024-05-01T10:00:00.000Z"}, svc.assigned)
	assert.Equal(t, []string{"index_kafka_wiki_0e905aa31037879_nommnaeg"}, svc.shutdown)
	assert.True(t, svc.enabled)
}

func TestHandlerAssignFailureIs500Text(t *testing.T) {
	svc := newHistoryService(t)
	svc.assignErr = errors.New("cannot persist task file")
	rec := serve(NewHandler(svc), "POST", PathAssignTask, golden(t, "assign_task_request.json"), map[string]string{"Content-Type": ContentTypeJSON})
	assert.Equal(t, 500, rec.Code)
	assert.Equal(t, "cannot persist task file", rec.Body.String())
}

func TestHandlerSyncErrors(t *testing.T) {
	svc := newHistoryService(t)
	h := NewHandler(svc)
	svc.h.Close()
	rec := serve(h, "GET", "/druid-internal/v1/worker?counter=2&hash=1716380000000&timeout=1000", nil, nil)
	assert.Equal(t, 500, rec.Code)
	assert.Equal(t, "Server is shutting down.", rec.Body.String())
}

func newTestClient(t *testing.T, url string, attempts int) *Client {
	c, err := NewClient(ClientConfig{BaseURL: url, Attempts: attempts, RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond, RequestTimeout: 2 * time.Second})
	require.NoError(t, err)
	return c
}

func TestClientRetries(t *testing.T) {
	cases := []struct {
		name       string
		failures   int32 // answers 500 this many times, then 200
		failCode   int
		wantCalls  int32
		wantErrSub string
	}{
		{"fails twice then succeeds", 2, 500, 3, ""},
		{"always fails: bounded to 3 attempts", 100, 500, 3, "HTTP 500: boom"},
		{"4xx is not retried", 100, 400, 1, "HTTP 400: boom"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var calls int32
			var bodies []string
			var mu sync.Mutex
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := atomic.AddInt32(&calls, 1)
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				bodies = append(bodies, string(b))
				mu.Unlock()
				assert.Equal(t, PathAssignTask, r.URL.Path)
				assert.Equal(t, ContentTypeJSON, r.Header.Get("Content-Type"))
				if n <= tc.failures {
					http.Error(w, "boom", tc.failCode)
					return
				}
			}))
			defer srv.Close()
			c := newTestClient(t, srv.URL, 3)
			body := golden(t, "assign_task_request.json")
			err := c.AssignTask(context.Background(), body)
			if tc.wantErrSub == "" {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErrSub)
			}
			assert.Equal(t, tc.wantCalls, atomic.LoadInt32(&calls))
			for _, b := range bodies {
				assert.Equal(t, string(body), b, "every attempt sends the task unchanged")
			}
		})
	}
}

func TestClientHonoursContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	c, err := NewClient(ClientConfig{BaseURL: srv.URL, Attempts: 10, RetryWaitMin: time.Second, RetryWaitMax: time.Second})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = c.ShutdownTask(ctx, "x")
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 900*time.Millisecond)
}

func TestClientEscapesTaskIDAsDruid(t *testing.T) {
	var gotRaw string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotRaw = r.URL.RequestURI()
		_, _ = w.Write([]byte(`{"task":"x"}`))
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, 1)
	require.NoError(t, c.ShutdownTask(context.Background(), "index_wiki_2024-05-01T10:00:00.000Z"))
	assert.Equal(t, "/druid/worker/v1/task/index_wiki_2024-05-01T10%3A00%3A00.000Z/shutdown", gotRaw)
}

func TestClientConfigValidate(t *testing.T) {
	cases := []struct {
		cfg  ClientConfig
		want string
	}{
		{ClientConfig{}, "BaseURL is required"},
		{ClientConfig{BaseURL: "ftp://x"}, "scheme must be http or https"},
		{ClientConfig{BaseURL: "http://"}, "host is required"},
		{ClientConfig{BaseURL: "http://x", Attempts: -1}, "Attempts must be at least 1"},
		{ClientConfig{BaseURL: "http://x", RetryWaitMin: 2 * time.Second, RetryWaitMax: time.Second}, "RetryWaitMin"},
	}
	for _, tc := range cases {
		err := tc.cfg.Validate()
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want)
	}
	require.NoError(t, ClientConfig{BaseURL: "http://mm:8091"}.Validate())
}

func TestClientAgainstHandler(t *testing.T) {
	svc := newHistoryService(t)
	srv := httptest.NewServer(NewHandler(svc))
	defer srv.Close()
	c := newTestClient(t, srv.URL, 3)
	ctx := context.Background()

	snap, err := c.Sync(ctx, nil, time.Second)
	require.NoError(t, err)
	require.NotNil(t, snap)
	assert.Equal(t, svc.full.Counter, snap.Counter)

	snap, err = c.Sync(ctx, &Counter{13, 1716372129001}, time.Second)
	require.NoError(t, err)
	assert.True(t, snap.ResetCounter)

	snap, err = c.Sync(ctx, &Counter{2, 1716380000000}, 20*time.Millisecond)
	require.NoError(t, err)
	assert.Nil(t, snap, "204 means no change")

	_, err = c.Sync(ctx, nil, 0)
	require.Error(t, err)

	rc, err := c.TaskLog(ctx, "T-running", 0)
	require.NoError(t, err)
	b, _ := io.ReadAll(rc)
	_ = rc.Close()
	assert.Equal(t, "line1\nline2\n", string(b))
	_, err = c.TaskLog(ctx, "nope", 0)
	assert.ErrorIs(t, err, ErrNotFound)

	require.NoError(t, c.Disable(ctx))
	on, err := c.Enabled(ctx)
	require.NoError(t, err)
	assert.False(t, on)
	require.NoError(t, c.Enable(ctx))
	on, err = c.Enabled(ctx)
	require.NoError(t, err)
	assert.True(t, on)
	ids, err := c.Tasks(ctx)
	require.NoError(t, err)
	assert.Len(t, ids, 2)
}
