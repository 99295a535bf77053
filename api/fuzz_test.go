package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/taskgate/taskgate/routing"
)

// FuzzSubmit sends arbitrary bodies and content types to the submit
// endpoint: the answer is never a 5xx, always JSON, and a 2xx only for a task
// the runner actually got.
func FuzzSubmit(f *testing.F) {
	for _, seed := range []string{
		kafkaTask,
		`{"type":"noop","id":"n"}`,
		`{"type":"noop"}`,
		`{"id":"x"}`,
		`{"type":"noop","id":"x","context":{"priority":"9","tags":{"a":1,"b":null}}}`,
		`{"type":"noop","id":"x","resource":{"requiredCapacity":-1}}`,
		`{"type":"noop","id":".x"}`,
		`[]`, `null`, `"str"`, `{`, ``, "\xff\xfe", `{"type":"a","id":"b"} trailing`,
	} {
		f.Add([]byte(seed), "application/json")
	}
	f.Add([]byte(`{"type":"noop","id":"n"}`), "")
	f.Add([]byte(`{"type":"noop","id":"n"}`), "text/plain")

	m := newMemRunner()
	s, err := NewServer(Config{MaxRequestBodyBytes: 4096}, m, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	h := s.Handler()

	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		m.mu.Lock()
		if len(m.submitted) > 1000 { // keep a long fuzz run's memory flat
			m.submitted, m.items, m.order = nil, map[string]routing.WorkItem{}, nil
		}
		m.mu.Unlock()
		r := httptest.NewRequest(http.MethodPost, "/taskgate/v1/task", bytes.NewReader(body))
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code >= 500 {
			t.Fatalf("status %d for body %q: %s", rec.Code, body, rec.Body.String())
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("status %d with a non-JSON body %q", rec.Code, rec.Body.String())
		}
		if rec.Code < 300 {
			var resp SubmitResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.Task == "" {
				t.Fatalf("success without a task id: %s", rec.Body.String())
			}
			if _, ok := m.Get(resp.Task); !ok {
				t.Fatalf("answered %d for %q but the runner does not have it", rec.Code, resp.Task)
			}
		}
	})
}
