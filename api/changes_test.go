package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskgate/taskgate/routing"
	"github.com/taskgate/taskgate/task"
)

func statusEvent(id string, st task.State) routing.Event {
	s := task.Status{ID: id, Status: st, Duration: -1, Location: task.UnknownLocation()}
	return routing.Event{Kind: routing.EventStatusChanged, TaskID: id, Runner: routing.RunnerK8s, Status: &s, Time: time.Now()}
}

func getChanges(t *testing.T, h http.Handler, query string) (ChangesResponse, *httptest.ResponseRecorder) {
	t.Helper()
	rec := serve(t, h, req{method: http.MethodGet, target: "/taskgate/v1/changes" + query})
	var resp ChangesResponse
	if rec.Code == http.StatusOK {
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp), rec.Body.String())
	}
	return resp, rec
}

func TestChangesImmediate(t *testing.T) {
	m := newMemRunner()
	s, _ := newTestServer(t, m)
	h := s.Handler()

	first, _ := getChanges(t, h, "")
	assert.True(t, first.Reset, "a client without a counter must list first")
	assert.Empty(t, first.Events)
	start := first.Counter

	m.emit(statusEvent("a", task.StateRunning))
	m.emit(routing.Event{Kind: routing.EventLocationChanged, TaskID: "a", Runner: "k8s",
		Location: task.Location{Host: "10.0.0.1", Port: 8100, TLSPort: -1}, Time: time.Now()})
	m.emit(statusEvent("a", task.StateSuccess))

	resp, rec := getChanges(t, h, "?since="+strconv.FormatInt(start, 10))
	require.Equal(t, 200, rec.Code)
	assert.False(t, resp.Reset)
	assert.Equal(t, start+3, resp.Counter)
	require.Len(t, resp.Events, 3)
	for i, e := range resp.Events {
		assert.Equal(t, start+int64(i)+1, e.Counter)
		assert.Equal(t, "a", e.TaskID)
	}
	assert.Equal(t, routing.EventLocationChanged, resp.Events[1].Kind)
	assert.Equal(t, "10.0.0.1", resp.Events[1].Location.Host)
	require.NotNil(t, resp.Events[2].Status)
	assert.Equal(t, task.StateSuccess, resp.Events[2].Status.Status)
	assert.Contains(t, rec.Body.String(), `"kind":"statusChanged"`, "events use routing.Event's JSON names")

	resp, _ = getChanges(t, h, "?since="+strconv.FormatInt(start+2, 10))
	require.Len(t, resp.Events, 1, "only events after since")
	assert.Equal(t, start+3, resp.Events[0].Counter)
}

func TestChangesWaitsForEvent(t *testing.T) {
	m := newMemRunner()
	s, _ := newTestServer(t, m)
	first, _ := getChanges(t, s.Handler(), "")

	type result struct {
		resp ChangesResponse
		took time.Duration
	}
	done := make(chan result, 1)
	go func() {
		start := time.Now()
		resp, _ := getChanges(t, s.Handler(), fmt.Sprintf("?since=%d&timeout=30s", first.Counter))
		done <- result{resp, time.Since(start)}
	}()
	select {
	case r := <-done:
		t.Fatalf("long poll returned before any event: %+v", r.resp)
	case <-time.After(100 * time.Millisecond):
	}
	m.emit(statusEvent("b", task.StateFailed))
	select {
	case r := <-done:
		require.Len(t, r.resp.Events, 1)
		assert.Equal(t, "b", r.resp.Events[0].TaskID)
		assert.Equal(t, first.Counter+1, r.resp.Counter)
		assert.Less(t, r.took, 10*time.Second, "answered on the event, not on the timeout")
	case <-time.After(10 * time.Second):
		t.Fatal("long poll did not return on the event")
	}
}

func TestChangesTimeout(t *testing.T) {
	m := newMemRunner()
	s, _ := newTestServer(t, m)
	first, _ := getChanges(t, s.Handler(), "")

	start := time.Now()
	resp, rec := getChanges(t, s.Handler(), fmt.Sprintf("?since=%d&timeout=150ms", first.Counter))
	took := time.Since(start)
	require.Equal(t, 200, rec.Code)
	assert.False(t, resp.Reset)
	assert.Empty(t, resp.Events)
	assert.Equal(t, first.Counter, resp.Counter)
	assert.GreaterOrEqual(t, took, 150*time.Millisecond)
	assert.Less(t, took, 5*time.Second)

	// Milliseconds as Druid's sync takes them; 0 means do not wait.
	start = time.Now()
	_, rec = getChanges(t, s.Handler(), fmt.Sprintf("?since=%d&timeout=0", first.Counter))
	require.Equal(t, 200, rec.Code)
	assert.Less(t, time.Since(start), time.Second)
	start = time.Now()
	_, rec = getChanges(t, s.Handler(), fmt.Sprintf("?since=%d&timeout=120", first.Counter))
	require.Equal(t, 200, rec.Code)
	assert.GreaterOrEqual(t, time.Since(start), 120*time.Millisecond)
}

func TestChangesTimeoutIsCapped(t *testing.T) {
	m := newMemRunner()
	s, err := NewServer(Config{LongPollTimeout: 50 * time.Millisecond, LongPollMaxTimeout: 100 * time.Millisecond}, m,
		WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	defer s.Close()
	first, _ := getChanges(t, s.Handler(), "")

	start := time.Now()
	_, rec := getChanges(t, s.Handler(), fmt.Sprintf("?since=%d&timeout=1h", first.Counter))
	require.Equal(t, 200, rec.Code)
	took := time.Since(start)
	assert.GreaterOrEqual(t, took, 100*time.Millisecond)
	assert.Less(t, took, 5*time.Second, "an hour is capped to LongPollMaxTimeout")

	start = time.Now()
	_, rec = getChanges(t, s.Handler(), fmt.Sprintf("?since=%d", first.Counter))
	require.Equal(t, 200, rec.Code)
	assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond, "no timeout means LongPollTimeout")
}

func TestChangesReset(t *testing.T) {
	m := newMemRunner()
	s, err := NewServer(Config{ChangesBufferSize: 4}, m, WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	defer s.Close()
	h := s.Handler()
	first, _ := getChanges(t, h, "?since=-1")
	require.True(t, first.Reset)
	base := first.Counter
	for i := range 6 {
		m.emit(statusEvent(fmt.Sprintf("t%d", i), task.StateRunning))
	}
	head := base + 6

	tests := []struct {
		name      string
		since     int64
		wantReset bool
		wantIDs   []string
	}{
		{"events pushed out of the buffer", base, true, nil},
		{"just inside the buffer", head - 4, false, []string{"t2", "t3", "t4", "t5"}},
		{"one short of the buffer", head - 5, true, nil},
		{"counter from the future (another server)", head + 10, true, nil},
		{"counter from a previous instance", 17, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, rec := getChanges(t, h, fmt.Sprintf("?since=%d&timeout=0", tc.since))
			require.Equal(t, 200, rec.Code)
			assert.Equal(t, tc.wantReset, resp.Reset)
			assert.Equal(t, head, resp.Counter, "the counter to continue from is always the newest")
			var ids []string
			for _, e := range resp.Events {
				ids = append(ids, e.TaskID)
			}
			assert.Equal(t, tc.wantIDs, ids)
		})
	}
}

func TestChangesBadInput(t *testing.T) {
	s, _ := newTestServer(t, newMemRunner())
	tests := []struct{ query, field string }{
		{"?since=abc", "since"},
		{"?since=-2", "since"},
		{"?since=1.5", "since"},
		{"?timeout=soon", "timeout"},
		{"?timeout=-1s", "timeout"},
		{"?timeout=-5", "timeout"},
		{"?timeout=99999999999999999999", "timeout"},
		{"?timeout=9223372036854775807", "timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			_, rec := getChanges(t, s.Handler(), tc.query)
			require.Equal(t, 400, rec.Code, rec.Body.String())
			assert.Equal(t, tc.field, decodeErr(t, rec).Field)
		})
	}
}

func TestChangesHonoursCancellationAndClose(t *testing.T) {
	m := newMemRunner()
	s, _ := newTestServer(t, m)
	first, _ := getChanges(t, s.Handler(), "")

	t.Run("client cancellation ends the wait", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		r := httptest.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("/taskgate/v1/changes?since=%d&timeout=1m", first.Counter), nil)
		done := make(chan struct{})
		go func() {
			s.Handler().ServeHTTP(httptest.NewRecorder(), r)
			close(done)
		}()
		time.Sleep(50 * time.Millisecond)
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("handler kept waiting after the client went away")
		}
	})

	t.Run("Close answers waiting polls at once", func(t *testing.T) {
		done := make(chan ChangesResponse, 1)
		go func() {
			resp, _ := getChanges(t, s.Handler(), fmt.Sprintf("?since=%d&timeout=1m", first.Counter))
			done <- resp
		}()
		time.Sleep(50 * time.Millisecond)
		require.NoError(t, s.Close())
		select {
		case resp := <-done:
			assert.Empty(t, resp.Events)
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not release the long poll")
		}
		m.emit(statusEvent("late", task.StateRunning))
		resp, _ := getChanges(t, s.Handler(), fmt.Sprintf("?since=%d&timeout=1m", first.Counter))
		assert.Empty(t, resp.Events, "no events after Close, and no waiting either")
	})
}

// TestHTTPServerDeadlines runs the real net/http server with timeouts much
// shorter than a long poll and a slow log, and checks both still complete:
// the handlers move their own write deadlines. It also checks that Shutdown is not
// held up by a waiting long poll.
func TestHTTPServerDeadlines(t *testing.T) {
	m := newMemRunner()
	pr, pw := io.Pipe()
	m.logReader["slow"] = func(int64) io.ReadCloser { return pr }
	s, err := NewServer(Config{
		ListenAddress: "127.0.0.1:0", ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond,
		ReadHeaderTimeout: 100 * time.Millisecond,
	}, m, WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	hs := s.HTTPServer()
	ln, err := net.Listen("tcp", hs.Addr)
	require.NoError(t, err)
	go func() { _ = hs.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	// No keep-alive: a reused connection that the server cut would make the
	// client retry the GET and hide the failure this test looks for.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

	resp, err := client.Get(base + "/taskgate/v1/changes")
	require.NoError(t, err)
	var first ChangesResponse
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&first))
	resp.Body.Close()

	t.Run("long poll outlives the write timeout", func(t *testing.T) {
		go func() {
			time.Sleep(400 * time.Millisecond)
			m.emit(statusEvent("c", task.StateSuccess))
		}()
		resp, err := client.Get(fmt.Sprintf("%s/taskgate/v1/changes?since=%d&timeout=5s", base, first.Counter))
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		var got ChangesResponse
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
		require.Len(t, got.Events, 1)
		assert.Equal(t, "c", got.Events[0].TaskID)
	})

	t.Run("slow log outlives the read and write timeouts", func(t *testing.T) {
		go func() {
			for i := range 4 {
				_, _ = fmt.Fprintf(pw, "tick %d\n", i)
				time.Sleep(100 * time.Millisecond)
			}
			_ = pw.Close()
		}()
		resp, err := client.Get(base + "/taskgate/v1/task/slow/log")
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, "tick 0\ntick 1\ntick 2\ntick 3\n", string(body))
	})

	t.Run("Shutdown releases waiting long polls", func(t *testing.T) {
		done := make(chan error, 1)
		go func() {
			resp, err := client.Get(fmt.Sprintf("%s/taskgate/v1/changes?since=%d&timeout=1m", base, first.Counter+1))
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			done <- err
		}()
		time.Sleep(100 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		require.NoError(t, hs.Shutdown(ctx))
		assert.Less(t, time.Since(start), 3*time.Second)
		require.NoError(t, <-done)
	})
}
