package protocol

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskgate/taskgate/internal/smile"
	"github.com/taskgate/taskgate/task"
)

// druidHeader is what Druid's Smile mapper writes first: ":)\n" and flags
// shared names (0x01) | raw binary (0x04).
var druidHeader = []byte{0x3A, 0x29, 0x0A, 0x05}

func smileOf(t *testing.T, j []byte) []byte {
	t.Helper()
	b, err := smile.FromJSON(j, smile.EncodeOptions{})
	require.NoError(t, err)
	return b
}

// TestHandlerSyncSmile: the sync endpoint answers Smile exactly when Accept
// is application/x-jackson-smile, as TaskManagementResource does, and the
// Smile decodes to the same golden JSON.
func TestHandlerSyncSmile(t *testing.T) {
	smileAccept := map[string]string{"Accept": ContentTypeSmile}
	cases := []struct {
		name       string
		target     string
		hdr        map[string]string
		wantCode   int
		wantSmile  bool
		wantGolden string
		wantText   string
	}{
		{"full sync", "/druid-internal/v1/worker?counter=-1&timeout=1000", smileAccept, 200, true, "sync_full.json", ""},
		{"reset", "/druid-internal/v1/worker?counter=13&hash=1716372129001&timeout=1000", smileAccept, 200, true, "sync_reset.json", ""},
		{"Overlord headers", "/druid-internal/v1/worker?counter=-1&timeout=1000", map[string]string{"Accept": ContentTypeSmile, "Content-Type": ContentTypeSmile}, 200, true, "sync_full.json", ""},
		{"Accept list is not exactly Smile", "/druid-internal/v1/worker?counter=-1&timeout=1000", map[string]string{"Accept": ContentTypeSmile + ", " + ContentTypeJSON}, 200, false, "sync_full.json", ""},
		{"JSON", "/druid-internal/v1/worker?counter=-1&timeout=1000", map[string]string{"Accept": ContentTypeJSON}, 200, false, "sync_full.json", ""},
		{"idle timeout", "/druid-internal/v1/worker?counter=2&hash=1716380000000&timeout=20", smileAccept, 204, false, "", ""},
		{"bad timeout stays text", "/druid-internal/v1/worker?counter=-1&timeout=0", smileAccept, 400, false, "", "timeout must be positive."},
	}
	h := NewHandler(newHistoryService(t))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(h, "GET", tc.target, nil, tc.hdr)
			require.Equal(t, tc.wantCode, rec.Code, rec.Body.String())
			body := rec.Body.Bytes()
			switch {
			case tc.wantSmile:
				assert.Equal(t, ContentTypeSmile, rec.Header().Get("Content-Type"))
				require.True(t, bytes.HasPrefix(body, druidHeader), "starts with Druid's Smile header, got % X", body[:min(4, len(body))])
				j, err := smile.ToJSON(body)
				require.NoError(t, err)
				want := golden(t, tc.wantGolden)
				assert.Equal(t, string(want), string(j))
				assert.Equal(t, smileOf(t, want), body, "the bytes Jackson's generator writes for this JSON")
				assert.Less(t, len(body), len(want), "shared names make the answer smaller")
			case tc.wantGolden != "":
				assert.Equal(t, ContentTypeJSON, rec.Header().Get("Content-Type"))
				assert.Equal(t, string(golden(t, tc.wantGolden)), string(body))
			default:
				assert.Equal(t, tc.wantText, string(body))
			}
		})
	}
}

// lockedService records assignments under a lock: the HTTP server calls it
// from its own goroutines.
type lockedService struct {
	*historyService
	mu  sync.Mutex
	ids []string
	raw [][]byte
}

func (s *lockedService) AssignTask(ctx context.Context, t *task.Task) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids = append(s.ids, t.ID)
	s.raw = append(s.raw, t.Raw())
	return nil
}

func (s *lockedService) assigned() ([]string, [][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ids...), append([][]byte(nil), s.raw...)
}

func TestHandlerAssignSmile(t *testing.T) {
	taskJSON := golden(t, "assign_task_request.json")
	// 300 objects with one 60-byte key each: 1.3 KB of Smile (the key is a
	// one-byte back reference after the first), 20 KB of JSON.
	var big strings.Builder
	big.WriteString(`{"type":"noop","id":"big","context":{"x":[`)
	for i := 0; i < 300; i++ {
		if i > 0 {
			big.WriteByte(',')
		}
		big.WriteString(`{"` + strings.Repeat("k", 60) + `":1}`)
	}
	big.WriteString(`]}}`)
	bigSmile := smileOf(t, []byte(big.String()))
	require.Less(t, len(bigSmile), 2000)

	smileCT := map[string]string{"Content-Type": ContentTypeSmile}
	cases := []struct {
		name     string
		body     []byte
		hdr      map[string]string
		maxBytes int64
		wantCode int
		wantID   string
		wantBody string // substring
	}{
		{"Smile task", smileOf(t, taskJSON), smileCT, 0, 200, "noop_wiki_2024-05-01T10:00:00.000Z", ""},
		{"Smile with parameters", smileOf(t, taskJSON), map[string]string{"Content-Type": ContentTypeSmile + "; charset=UTF-8"}, 0, 200, "noop_wiki_2024-05-01T10:00:00.000Z", ""},
		{"JSON still works", taskJSON, map[string]string{"Content-Type": ContentTypeJSON}, 0, 200, "noop_wiki_2024-05-01T10:00:00.000Z", ""},
		{"JSON sent as Smile", taskJSON, smileCT, 0, 400, "", `decode Smile task body: smile input: offset 0: no Smile header: first byte 0x7B`},
		{"truncated Smile", smileOf(t, taskJSON)[:20], smileCT, 0, 400, "", "decode Smile task body: smile input: offset 20: unexpected end of input"},
		{"Smile task without type", smileOf(t, []byte(`{"id":"x"}`)), smileCT, 0, 400, "", `task field \"type\": is required`},
		{"Smile expanding beyond the limit", bigSmile, smileCT, 2000, 413, "", "task JSON larger than 2000 bytes"},
		{"Smile body beyond the limit", bigSmile, smileCT, 1000, 413, "", "task JSON larger than 1000 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc := &lockedService{historyService: newHistoryService(t)}
			var opts []HandlerOption
			if tc.maxBytes > 0 {
				opts = append(opts, WithMaxTaskBytes(tc.maxBytes))
			}
			rec := serve(NewHandler(svc, opts...), "POST", PathAssignTask, tc.body, tc.hdr)
			require.Equal(t, tc.wantCode, rec.Code, rec.Body.String())
			assert.Contains(t, rec.Body.String(), tc.wantBody)
			ids, raw := svc.assigned()
			if tc.wantID == "" {
				assert.Empty(t, ids)
				return
			}
			require.Equal(t, []string{tc.wantID}, ids)
			assert.JSONEq(t, string(taskJSON), string(raw[0]), "the service gets the task's JSON")
		})
	}
}

// TestClientSmileAgainstHandler drives the router as the Overlord does:
// assignTask bodies in Smile, sync with Accept Smile, answers decoded as Smile.
func TestClientSmileAgainstHandler(t *testing.T) {
	svc := &lockedService{historyService: newHistoryService(t)}
	type seen struct{ path, contentType, accept string }
	var mu sync.Mutex
	var requests []seen
	inner := NewHandler(svc)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests = append(requests, seen{r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Accept")})
		mu.Unlock()
		if r.URL.Path == PathAssignTask {
			b, _ := io.ReadAll(r.Body)
			assert.True(t, bytes.HasPrefix(b, druidHeader), "assign body is Smile: % X", b[:min(4, len(b))])
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		inner.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c, err := NewClient(ClientConfig{BaseURL: srv.URL, Attempts: 1, Smile: true, RequestTimeout: 2 * time.Second})
	require.NoError(t, err)
	ctx := context.Background()

	taskJSON := golden(t, "assign_task_request.json")
	require.NoError(t, c.AssignTask(ctx, taskJSON))
	ids, raw := svc.assigned()
	assert.Equal(t, []string{"noop_wiki_2024-05-01T10:00:00.000Z"}, ids)
	assert.JSONEq(t, string(taskJSON), string(raw[0]))

	snap, err := c.Sync(ctx, nil, time.Second)
	require.NoError(t, err)
	require.NotNil(t, snap)
	got, err := Marshal(snap)
	require.NoError(t, err)
	assert.Equal(t, string(golden(t, "sync_full.json")), string(got))

	snap, err = c.Sync(ctx, &Counter{13, 1716372129001}, time.Second)
	require.NoError(t, err)
	assert.True(t, snap.ResetCounter)

	snap, err = c.Sync(ctx, &Counter{2, 1716380000000}, 20*time.Millisecond)
	require.NoError(t, err)
	assert.Nil(t, snap, "204 means no change")

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, requests, 4)
	assert.Equal(t, seen{PathAssignTask, ContentTypeSmile, ""}, requests[0])
	for _, r := range requests[1:] {
		assert.Equal(t, PathWorkerSync, r.path)
		assert.Equal(t, ContentTypeSmile, r.accept)
	}

	err = c.AssignTask(ctx, []byte(`{"type":`))
	assert.ErrorContains(t, err, "encode task as Smile")
}

// TestClientSmileRejectsJSONAnswer: like the Overlord's Smile mapper, a
// Smile client fails on a JSON sync answer instead of guessing.
func TestClientSmileRejectsJSONAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ContentTypeJSON)
		_ = json.NewEncoder(w).Encode(SuccessSnapshot(Counter{1, 2}, nil))
	}))
	defer srv.Close()
	c, err := NewClient(ClientConfig{BaseURL: srv.URL, Attempts: 1, Smile: true})
	require.NoError(t, err)
	_, err = c.Sync(context.Background(), nil, time.Second)
	assert.ErrorContains(t, err, "decode Smile snapshot: smile input: offset 0: no Smile header")
}
