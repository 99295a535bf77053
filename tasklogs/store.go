package tasklogs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/taskgate/taskgate/task"
)

// Store reads a task's files from deep storage and keeps its payload.
// File and S3 implement it; both also satisfy adapters.PayloadStore and
// adapters.PayloadSource.
type Store interface {
	// StreamLog opens the task log from offset, as Druid's streamTaskLog:
	// 0 is the whole log, a positive offset starts at that byte, a negative
	// one is the last |offset| bytes (the whole log when it is shorter). An
	// offset at or past the end gives an empty stream. ok is false when
	// there is no log.
	StreamLog(ctx context.Context, taskID string, offset int64) (r io.ReadCloser, ok bool, err error)
	// Status reads status.json. ok is false when the peon wrote none; a file
	// that is not a TaskStatus is an error naming the file or key.
	Status(ctx context.Context, taskID string) (st *task.Status, ok bool, err error)
	// Report opens report.json; ok is false when there is none.
	Report(ctx context.Context, taskID string) (r io.ReadCloser, ok bool, err error)
	// PushTaskPayload stores the task JSON where a peon started without
	// TASK_JSON fetches it (Druid's TaskPayloadManager.pushTaskPayload).
	PushTaskPayload(ctx context.Context, taskID string, payload []byte) error
	// TaskPayload reads a pushed payload back; an error wrapping ErrNotFound
	// when there is none.
	TaskPayload(ctx context.Context, taskID string) ([]byte, error)
}

// ErrNotFound is wrapped by TaskPayload when no payload was pushed.
var ErrNotFound = errors.New("not found in the task log store")

// File names inside a task's folder (S3) or after "{taskId}." (file), as
// Druid's TaskLogs implementations name them.
const (
	nameLog     = "log"
	nameReport  = "report.json"
	nameStatus  = "status.json"
	namePayload = "task.json"
)

// Bounds on what is read into memory. status.json is a few hundred bytes
// (errorMsg is truncated to ~1 KiB by Druid); the payload bound matches what
// adapters.DecodeTaskJSON accepts.
const (
	maxStatusBytes  = 1 << 20
	maxPayloadBytes = 64 << 20
)

// checkID rejects ids that Druid would not accept and that could leave the
// store's folder or prefix ("../x", "a/b").
func checkID(taskID string) error {
	if err := task.ValidateID(taskID); err != nil {
		return fmt.Errorf("task id %q: %w", taskID, err)
	}
	return nil
}

// logStart is where a read of a log of size bytes starts for offset, and
// whether anything is left to read. Druid's FileTaskLogs seeks to a positive
// offset even past the end (an empty read) and clamps a negative one to the
// start; S3TaskLogs would return the whole object for a positive offset past
// the end, which would make a client that polls by offset read the log again,
// so taskgate gives an empty read for both stores.
func logStart(offset, size int64) (start int64, empty bool) {
	switch {
	case offset > 0:
		if offset >= size {
			return size, true
		}
		return offset, false
	case offset < 0:
		if -offset >= size {
			return 0, size == 0
		}
		return size + offset, false
	default:
		return 0, size == 0
	}
}

// parseStatus decodes a status.json; where names the file or key.
func parseStatus(b []byte, where string) (*task.Status, error) {
	var st task.Status
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("parse task status %s: %w", where, err)
	}
	if st.ID == "" {
		return nil, fmt.Errorf("parse task status %s: field \"id\" is missing", where)
	}
	return &st, nil
}

// readLimited reads r up to limit bytes and fails past it, so a corrupt or
// hostile object cannot make the gateway allocate without bound.
func readLimited(r io.Reader, limit int64, where string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", where, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("read %s: larger than %d bytes", where, limit)
	}
	return b, nil
}

// emptyReadCloser is the stream of a log read at or past its end.
func emptyReadCloser() io.ReadCloser { return io.NopCloser(eofReader{}) }

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// ctxReader stops a copy when ctx ends, for pushes of long logs.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
