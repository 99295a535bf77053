package tasklogs

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskgate/taskgate/task"
)

// harness is one Store plus a way to lay files out exactly where Druid's
// peons and Overlord write them, computed by the test itself (not by the
// store), so the layout is checked, not assumed.
type harness struct {
	store Store
	// put writes raw bytes as Druid would write file name of taskID.
	put func(t *testing.T, taskID, name string, data []byte)
	// get reads the raw bytes at Druid's location; ok false when absent.
	get func(t *testing.T, taskID, name string) ([]byte, bool)
	// where is a substring errors about file name of taskID must contain.
	where func(taskID, name string) string
	// pushLog is the store's PushTaskLog.
	pushLog func(ctx context.Context, taskID string, r io.Reader) error
}

const (
	taskA   = "index_parallel_wiki_abcdefgh_2024-05-01T10:00:00.000Z"
	logText = "0123456789abcdef"
)

func readAll(t *testing.T, r io.ReadCloser) string {
	t.Helper()
	defer r.Close()
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	return string(b)
}

func runContract(t *testing.T, h harness) {
	ctx := context.Background()

	t.Run("log offsets", func(t *testing.T) {
		id := "log_offsets"
		h.put(t, id, "log", []byte(logText))
		cases := []struct {
			name   string
			offset int64
			want   string
		}{
			{"zero is the whole log", 0, logText},
			{"positive starts at the byte", 5, "56789abcdef"},
			{"positive last byte", 15, "f"},
			{"positive at the end is empty", 16, ""},
			{"positive past the end is empty", 100, ""},
			{"negative is the tail", -4, "cdef"},
			{"negative one", -1, "f"},
			{"negative the whole size", -16, logText},
			{"negative past the start is the whole log", -100, logText},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r, ok, err := h.store.StreamLog(ctx, id, tc.offset)
				require.NoError(t, err)
				require.True(t, ok)
				assert.Equal(t, tc.want, readAll(t, r))
			})
		}
	})

	t.Run("empty log", func(t *testing.T) {
		id := "log_empty"
		h.put(t, id, "log", nil)
		for _, off := range []int64{0, 3, -3} {
			r, ok, err := h.store.StreamLog(ctx, id, off)
			require.NoError(t, err, "offset %d", off)
			require.True(t, ok, "offset %d", off)
			assert.Empty(t, readAll(t, r), "offset %d", off)
		}
	})

	t.Run("missing log is absent", func(t *testing.T) {
		for _, off := range []int64{0, 5, -5} {
			r, ok, err := h.store.StreamLog(ctx, "no_such_task", off)
			require.NoError(t, err)
			assert.False(t, ok)
			assert.Nil(t, r)
		}
	})

	t.Run("pushed log streams back", func(t *testing.T) {
		id := "log_pushed"
		body := strings.Repeat("line of peon log\n", 1000)
		require.NoError(t, h.pushLog(ctx, id, strings.NewReader(body)))
		raw, ok := h.get(t, id, "log")
		require.True(t, ok, "log not at Druid's location")
		assert.Equal(t, body, string(raw))
		r, ok, err := h.store.StreamLog(ctx, id, -17)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, "line of peon log\n", readAll(t, r))
	})

	t.Run("status", func(t *testing.T) {
		cases := []struct {
			name    string
			content string // "" = no file
			ok      bool
			want    *task.Status
			wantErr string
		}{
			{
				name:    "success as a peon writes it",
				content: `{"id":"st_success","status":"SUCCESS","duration":-1,"errorMsg":null,"location":{"host":null,"port":-1,"tlsPort":-1}}`,
				ok:      true,
				want:    &task.Status{ID: "st_success", Status: task.StateSuccess, Duration: -1, Location: task.UnknownLocation()},
			},
			{
				name:    "failure keeps the message and location",
				content: `{"id":"st_failed","status":"FAILED","duration":1234,"errorMsg":"boom","location":{"host":"10.0.0.7","port":8100,"tlsPort":-1}}`,
				ok:      true,
				want:    &task.Status{ID: "st_failed", Status: task.StateFailed, Duration: 1234, ErrorMsg: "boom", Location: task.Location{Host: "10.0.0.7", Port: 8100, TLSPort: -1}},
			},
			{name: "absent", content: "", ok: false},
			{name: "not JSON", content: `{"id": "st_bad", "status":`, wantErr: "parse task status"},
			{name: "unknown state", content: `{"id":"st_state","status":"DONE"}`, wantErr: "must be RUNNING, SUCCESS or FAILED"},
			{name: "no id", content: `{"status":"SUCCESS"}`, wantErr: `"id" is missing`},
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				id := "status_case_" + string(rune('a'+i))
				if tc.content != "" {
					h.put(t, id, "status.json", []byte(tc.content))
				}
				st, ok, err := h.store.Status(ctx, id)
				if tc.wantErr != "" {
					require.Error(t, err)
					assert.Contains(t, err.Error(), tc.wantErr)
					assert.Contains(t, err.Error(), h.where(id, "status.json"), "error must name the file")
					assert.False(t, ok)
					return
				}
				require.NoError(t, err)
				assert.Equal(t, tc.ok, ok)
				assert.Equal(t, tc.want, st)
			})
		}
	})

	t.Run("report", func(t *testing.T) {
		id := "report_present"
		report := `{"ingestionStatsAndErrors":{"type":"ingestionStatsAndErrors","payload":{"ingestionState":"COMPLETED"}}}`
		h.put(t, id, "report.json", []byte(report))
		r, ok, err := h.store.Report(ctx, id)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, report, readAll(t, r))

		r, ok, err = h.store.Report(ctx, "report_absent")
		require.NoError(t, err)
		assert.False(t, ok)
		assert.Nil(t, r)
	})

	t.Run("payload push and read back", func(t *testing.T) {
		payload := []byte(`{"type":"index_parallel","id":"` + taskA + `","spec":{"big":"` + strings.Repeat("x", 200_000) + `"}}`)
		require.NoError(t, h.store.PushTaskPayload(ctx, taskA, payload))
		raw, ok := h.get(t, taskA, "task.json")
		require.True(t, ok, "payload not at Druid's location")
		assert.Equal(t, payload, raw)
		got, err := h.store.TaskPayload(ctx, taskA)
		require.NoError(t, err)
		assert.Equal(t, payload, got)

		// A second push (a retried submit) replaces the first.
		require.NoError(t, h.store.PushTaskPayload(ctx, taskA, []byte(`{"v":2}`)))
		got, err = h.store.TaskPayload(ctx, taskA)
		require.NoError(t, err)
		assert.Equal(t, `{"v":2}`, string(got))
	})

	t.Run("missing payload is ErrNotFound", func(t *testing.T) {
		_, err := h.store.TaskPayload(ctx, "payload_absent")
		require.Error(t, err)
		assert.True(t, errors.Is(err, ErrNotFound), "got %v", err)
		assert.Contains(t, err.Error(), h.where("payload_absent", "task.json"))
	})

	t.Run("invalid task ids are rejected", func(t *testing.T) {
		for _, id := range []string{"", "../escape", "a/b", ".hidden", "tab\tid"} {
			_, _, err := h.store.StreamLog(ctx, id, 0)
			assert.Error(t, err, "StreamLog %q", id)
			_, _, err = h.store.Status(ctx, id)
			assert.Error(t, err, "Status %q", id)
			_, _, err = h.store.Report(ctx, id)
			assert.Error(t, err, "Report %q", id)
			assert.Error(t, h.store.PushTaskPayload(ctx, id, []byte("{}")), "PushTaskPayload %q", id)
			_, err = h.store.TaskPayload(ctx, id)
			assert.Error(t, err, "TaskPayload %q", id)
			assert.False(t, errors.Is(err, ErrNotFound), "TaskPayload %q: a bad id is not 'not found'", id)
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		h.put(t, "ctx_task", "status.json", []byte(`{"id":"ctx_task","status":"SUCCESS"}`))
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, _, err := h.store.Status(cctx, "ctx_task")
		assert.ErrorIs(t, err, context.Canceled)
		assert.ErrorIs(t, h.store.PushTaskPayload(cctx, "ctx_task", []byte("{}")), context.Canceled)
	})
}
