package k8srunner

import (
	"context"
	"fmt"
	"io"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/taskgate/taskgate/adapters"
)

// StreamLog returns a task's log.
//
// While the task's pod exists and the task is not finished, the log is the
// peon container's ("main") from the Kubernetes API:
//   - offset 0 follows the log from its start, and a positive offset skips
//     that many bytes first; the stream ends when the container ends, and at
//     the latest a few seconds after the runner sees the task finish, so a
//     reader never hangs on a pod that is gone (Druid #14285);
//   - a negative offset returns the last |offset| bytes of the log as it is
//     now, without following (the API has no "tail bytes" option, so the
//     whole log is read and only its end kept).
//
// Once the task is finished (or before its pod exists), the log comes from
// the task log store (StatusStore.StreamLog), where peons push it. ok is
// false for a task the runner does not know, or when there is no log yet.
func (r *Runner) StreamLog(ctx context.Context, taskID string, offset int64) (io.ReadCloser, bool, error) {
	r.mu.Lock()
	it := r.items[taskID]
	if it == nil {
		r.mu.Unlock()
		return nil, false, nil
	}
	podName, ph, logCtx := it.podName, it.phase, it.logCtx
	r.mu.Unlock()

	if ph == phaseDone || ph == phaseCompleted || podName == "" {
		rc, ok, err := r.deps.Status.StreamLog(ctx, taskID, offset)
		if err != nil {
			return nil, false, fmt.Errorf("task %s log from the task log store: %w", taskID, err)
		}
		return rc, ok, nil
	}
	return r.podLog(ctx, logCtx, taskID, podName, offset)
}

func (r *Runner) podLog(ctx, logCtx context.Context, taskID, podName string, offset int64) (io.ReadCloser, bool, error) {
	opts := &corev1.PodLogOptions{Container: adapters.MainContainerName, Follow: offset >= 0}
	req := r.deps.Client.CoreV1().Pods(r.cfg.Namespace).GetLogs(podName, opts)
	if offset < 0 {
		rc, err := req.Stream(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("task %s: log of pod %s: %w", taskID, podName, err)
		}
		defer rc.Close()
		tail, err := lastBytes(rc, -offset)
		if err != nil {
			return nil, false, fmt.Errorf("task %s: read log of pod %s: %w", taskID, podName, err)
		}
		return io.NopCloser(&byteReader{b: tail}), true, nil
	}
	// The stream outlives this call; it ends with the caller's context, or
	// shortly after the task finishes.
	streamCtx, cancel := context.WithCancel(logCtx)
	stop := context.AfterFunc(ctx, cancel)
	rc, err := req.Stream(streamCtx)
	if err != nil {
		stop()
		cancel()
		return nil, false, fmt.Errorf("task %s: log of pod %s: %w", taskID, podName, err)
	}
	if offset > 0 {
		if _, err := io.CopyN(io.Discard, rc, offset); err != nil && err != io.EOF {
			rc.Close()
			stop()
			cancel()
			return nil, false, fmt.Errorf("task %s: skip %d bytes of pod %s log: %w", taskID, offset, podName, err)
		}
	}
	return &cancelReadCloser{ReadCloser: rc, cancel: func() { stop(); cancel() }}, true, nil
}

// lastBytes reads r to the end and keeps its last n bytes.
func lastBytes(r io.Reader, n int64) ([]byte, error) {
	ring := make([]byte, 0, min(n, 1<<20))
	buf := make([]byte, 32<<10)
	for {
		k, err := r.Read(buf)
		ring = append(ring, buf[:k]...)
		if int64(len(ring)) > n {
			ring = append(ring[:0], ring[int64(len(ring))-n:]...)
		}
		if err == io.EOF {
			return ring, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

type byteReader struct{ b []byte }

func (b *byteReader) Read(p []byte) (int, error) {
	if len(b.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, b.b)
	b.b = b.b[n:]
	return n, nil
}

type cancelReadCloser struct {
	io.ReadCloser
	cancel func()
	once   sync.Once
}

func (c *cancelReadCloser) Close() error {
	err := c.ReadCloser.Close()
	c.once.Do(c.cancel)
	return err
}
