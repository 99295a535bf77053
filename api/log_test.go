package api

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskgate/taskgate/routing"
)

func TestTaskLog(t *testing.T) {
	const text = "line one\nline two\nline three\n" // 29 bytes
	tests := []struct {
		name       string
		query      string
		logErr     error
		want       int
		wantBody   string
		wantOffset int64
		wantField  string
	}{
		{name: "whole log", query: "", want: 200, wantBody: text, wantOffset: 0},
		{name: "offset 0", query: "?offset=0", want: 200, wantBody: text, wantOffset: 0},
		{name: "positive offset skips bytes", query: "?offset=9", want: 200, wantBody: "line two\nline three\n", wantOffset: 9},
		{name: "negative offset is the tail", query: "?offset=-11", want: 200, wantBody: "line three\n", wantOffset: -11},
		{name: "negative offset past the start is the whole log", query: "?offset=-1000", want: 200, wantBody: text, wantOffset: -1000},
		{name: "offset past the end is empty", query: "?offset=1000", want: 200, wantBody: "", wantOffset: 1000},
		{name: "offset not a number", query: "?offset=abc", want: 400, wantField: "offset"},
		{name: "offset a fraction", query: "?offset=1.5", want: 400, wantField: "offset"},
		{name: "offset overflows", query: "?offset=99999999999999999999", want: 400, wantField: "offset"},
		{name: "runner not configured", logErr: fmt.Errorf("k8s: %w", routing.ErrNotConfigured), want: 503},
		{name: "runner failure", logErr: errors.New("read s3://bucket/log: access denied"), want: 500},
		{name: "runner says unknown task", logErr: fmt.Errorf("log of t1: %w", routing.ErrUnknownTask), want: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemRunner()
			m.logs["t1"] = text
			m.logErr = tc.logErr
			s, _ := newTestServer(t, m)
			rec := serve(t, s.Handler(), req{method: http.MethodGet, target: "/taskgate/v1/task/t1/log" + tc.query})
			require.Equal(t, tc.want, rec.Code, rec.Body.String())
			if tc.want != 200 {
				assert.Equal(t, tc.wantField, decodeErr(t, rec).Field)
				if tc.wantField != "" {
					assert.Empty(t, m.logOffsets, "bad input must not reach the runner")
				}
				return
			}
			assert.Equal(t, "text/plain; charset=utf-8", rec.Header().Get("Content-Type"))
			assert.Equal(t, tc.wantBody, rec.Body.String())
			assert.Equal(t, []int64{tc.wantOffset}, m.logOffsets, "the offset reaches the runner unchanged")
		})
	}

	t.Run("no log is 404 with Druid's message", func(t *testing.T) {
		s, _ := newTestServer(t, newMemRunner())
		rec := serve(t, s.Handler(), req{method: http.MethodGet, target: "/taskgate/v1/task/none/log"})
		require.Equal(t, 404, rec.Code)
		assert.Equal(t, noLogMessage, decodeErr(t, rec).Error)
	})
	t.Run("empty id", func(t *testing.T) {
		s, _ := newTestServer(t, newMemRunner())
		rec := serve(t, s.Handler(), req{method: http.MethodGet, target: "/taskgate/v1/task//log"})
		require.Equal(t, 400, rec.Code)
		assert.Equal(t, "id", decodeErr(t, rec).Field)
	})
}

// TestTaskLogStreams checks that log bytes reach the client as the runner
// produces them, not when the log ends: the second line is only written after
// the client has read the first.
func TestTaskLogStreams(t *testing.T) {
	m := newMemRunner()
	pr, pw := io.Pipe()
	m.logReader["live"] = func(int64) io.ReadCloser { return pr }
	s, _ := newTestServer(t, m)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	defer pw.Close() // before srv.Close, which waits for the handler

	resp, err := http.Get(srv.URL + "/taskgate/v1/task/live/log?offset=-100")
	// Headers arrive before any log byte: the log exists, it is just slow.
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	br := bufio.NewReader(resp.Body)

	for i := range 3 {
		want := fmt.Sprintf("line %d\n", i)
		go func() { _, _ = io.WriteString(pw, want) }()
		got := make(chan string, 1)
		go func() {
			l, _ := br.ReadString('\n')
			got <- l
		}()
		select {
		case l := <-got:
			assert.Equal(t, want, l)
		case <-time.After(5 * time.Second):
			t.Fatalf("line %d not delivered while the log is still open: the handler does not flush", i)
		}
	}
	require.NoError(t, pw.Close())
	rest, err := io.ReadAll(br)
	require.NoError(t, err)
	assert.Empty(t, rest)
	assert.Equal(t, []int64{-100}, m.logOffsets)
}

// TestTaskLogFailsMidStream checks that a log that breaks half way does not
// look complete: the client gets a read error, not a clean end.
func TestTaskLogFailsMidStream(t *testing.T) {
	m := newMemRunner()
	m.logReader["broken"] = func(int64) io.ReadCloser {
		return io.NopCloser(io.MultiReader(strings.NewReader("first part\n"), errReader{errors.New("connection to deep storage lost")}))
	}
	s, logs := newTestServer(t, m)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/taskgate/v1/task/broken/log")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.Error(t, err, "a truncated stream must surface as an error")
	assert.Equal(t, "first part\n", string(body))
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "connection to deep storage lost") }, 5*time.Second, 10*time.Millisecond)
	assert.Contains(t, logs.String(), `"aborted":true`)
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
