package tasklogs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/taskgate/taskgate/task"
)

// File is Druid's FileTaskLogs: every file of task T lives directly in one
// directory as "T.<name>" (T.log, T.report.json, T.status.json, T.task.json).
// The directory is typically a volume shared with the peons.
type File struct {
	dir string
}

var _ Store = (*File)(nil)

// NewFile returns the file store over dir. The directory need not exist yet:
// it is created on the first push, as Druid does, and reads of a missing
// directory find nothing.
func NewFile(dir string) (*File, error) {
	if dir == "" {
		return nil, errors.New("file task log store: directory is empty")
	}
	return &File{dir: dir}, nil
}

// Dir returns the store's directory.
func (f *File) Dir() string { return f.dir }

// Path returns where the store keeps file name ("log", "report.json",
// "status.json", "task.json") of taskID.
func (f *File) Path(taskID, name string) string {
	return filepath.Join(f.dir, taskID+"."+name)
}

func (f *File) open(ctx context.Context, taskID, name string) (*os.File, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if err := checkID(taskID); err != nil {
		return nil, false, err
	}
	p := f.Path(taskID, name)
	fh, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("open %s: %w", p, err)
	}
	return fh, true, nil
}

// StreamLog implements Store.
func (f *File) StreamLog(ctx context.Context, taskID string, offset int64) (io.ReadCloser, bool, error) {
	fh, ok, err := f.open(ctx, taskID, nameLog)
	if !ok || err != nil {
		return nil, ok, err
	}
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, false, fmt.Errorf("stat %s: %w", fh.Name(), err)
	}
	start, empty := logStart(offset, fi.Size())
	if empty {
		fh.Close()
		return emptyReadCloser(), true, nil
	}
	if _, err := fh.Seek(start, io.SeekStart); err != nil {
		fh.Close()
		return nil, false, fmt.Errorf("seek %s to %d: %w", fh.Name(), start, err)
	}
	return fh, true, nil
}

// Report implements Store.
func (f *File) Report(ctx context.Context, taskID string) (io.ReadCloser, bool, error) {
	fh, ok, err := f.open(ctx, taskID, nameReport)
	if !ok || err != nil {
		return nil, ok, err
	}
	return fh, true, nil
}

// Status implements Store.
func (f *File) Status(ctx context.Context, taskID string) (*task.Status, bool, error) {
	fh, ok, err := f.open(ctx, taskID, nameStatus)
	if !ok || err != nil {
		return nil, ok, err
	}
	defer fh.Close()
	b, err := readLimited(fh, maxStatusBytes, fh.Name())
	if err != nil {
		return nil, false, err
	}
	st, err := parseStatus(b, fh.Name())
	if err != nil {
		return nil, false, err
	}
	return st, true, nil
}

// PushTaskPayload implements Store (and adapters.PayloadStore). The file is
// written under a temporary name and renamed, so a peon never reads half a
// payload.
func (f *File) PushTaskPayload(ctx context.Context, taskID string, payload []byte) error {
	return f.push(ctx, taskID, namePayload, bytes.NewReader(payload))
}

// PushTaskLog stores a task's log as Druid's pushTaskLog does, where
// StreamLog finds it (the Overlord's Kubernetes runner saves the pod log this
// way when a peon ends).
func (f *File) PushTaskLog(ctx context.Context, taskID string, log io.Reader) error {
	return f.push(ctx, taskID, nameLog, log)
}

// TaskPayload implements Store (and adapters.PayloadSource).
func (f *File) TaskPayload(ctx context.Context, taskID string) ([]byte, error) {
	fh, ok, err := f.open(ctx, taskID, namePayload)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("task payload %s: %w", f.Path(taskID, namePayload), ErrNotFound)
	}
	defer fh.Close()
	return readLimited(fh, maxPayloadBytes, fh.Name())
}

// push writes one file of a task atomically. Besides payloads it lets tests
// (and tools) lay out what a peon would leave.
func (f *File) push(ctx context.Context, taskID, name string, data io.Reader) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkID(taskID); err != nil {
		return err
	}
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		return fmt.Errorf("create task log directory %s: %w", f.dir, err)
	}
	p := f.Path(taskID, name)
	tmp, err := os.CreateTemp(f.dir, "."+taskID+"."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if _, err := io.Copy(tmp, ctxReader{ctx, data}); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	// CreateTemp makes the file 0600; peons may run as another user.
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}
