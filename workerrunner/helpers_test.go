package workerrunner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskgate/taskgate/internal/mmsim"
	"github.com/taskgate/taskgate/internal/testcluster"
	"github.com/taskgate/taskgate/routing"
	"github.com/taskgate/taskgate/task"
	"github.com/taskgate/taskgate/workerrunner/protocol"
)

func TestMain(m *testing.M) { testcluster.Main(m) }

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startMMs starts n simulated Middle Managers writing logs to logDir.
func startMMs(t *testing.T, n, capacity int, logDir string) []*mmsim.MM {
	t.Helper()
	var out []*mmsim.MM
	for i := 0; i < n; i++ {
		mm, err := mmsim.New(mmsim.Config{Capacity: capacity, TaskLogDir: logDir, Logger: quietLogger(), StartPort: 8100 + 100*i})
		require.NoError(t, err)
		require.NoError(t, mm.Start(context.Background()))
		t.Cleanup(func() { mm.Kill() })
		out = append(out, mm)
	}
	return out
}

// testConfig is DefaultConfig with timeouts shortened for tests and the
// static list of mms.
func testConfig(mms []*mmsim.MM, capacity int) Config {
	c := DefaultConfig()
	c.SyncRequestTimeout = 2 * time.Second
	c.SyncBackoffMin = 20 * time.Millisecond
	c.SyncBackoffMax = 200 * time.Millisecond
	c.TaskAssignmentTimeout = 10 * time.Second
	c.StartSyncTimeout = 10 * time.Second
	c.AssignRequestHTTPTimeout = 5 * time.Second
	c.ShutdownRequestHTTPTimeout = 5 * time.Second
	for _, mm := range mms {
		c.Workers = append(c.Workers, StaticWorker{URL: mm.URL(), Capacity: capacity})
	}
	return c
}

func newRunner(t *testing.T, cfg Config, opts Options) *Runner {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	r, err := New(cfg, opts)
	require.NoError(t, err)
	return r
}

func startRunner(t *testing.T, r *Runner) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, r.Start(ctx))
	t.Cleanup(func() { _ = r.Stop(context.Background()) })
}

func simTask(t *testing.T, id string, durMs int, result task.State, extra string) *task.Task {
	t.Helper()
	raw := fmt.Sprintf(`{"type":"noop","id":%q,"dataSource":"wiki"%s,"context":{"simulate":{"durationMs":%d,"result":%q}}}`, id, extra, durMs, result)
	tk, err := task.Parse([]byte(raw))
	require.NoError(t, err)
	return tk
}

// recorder counts events per task.
type recorder struct {
	mu       sync.Mutex
	statuses map[string][]task.Status
	locs     map[string][]task.Location
}

func newRecorder() *recorder {
	return &recorder{statuses: map[string][]task.Status{}, locs: map[string][]task.Location{}}
}

func (rc *recorder) listen(e routing.Event) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	switch e.Kind {
	case routing.EventStatusChanged:
		rc.statuses[e.TaskID] = append(rc.statuses[e.TaskID], *e.Status)
	case routing.EventLocationChanged:
		rc.locs[e.TaskID] = append(rc.locs[e.TaskID], e.Location)
	}
}

func (rc *recorder) done(ids []string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, id := range ids {
		if len(rc.statuses[id]) > 0 {
			n++
		}
	}
	return n
}

func (rc *recorder) status(id string) []task.Status {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]task.Status(nil), rc.statuses[id]...)
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// workerOf returns the mm whose host:port runs the task.
func workerOf(r *Runner, id string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if it, ok := r.items[id]; ok {
		return it.worker
	}
	return ""
}

func mustClient(t *testing.T, url string) *protocol.Client {
	t.Helper()
	c, err := protocol.NewClient(protocol.ClientConfig{BaseURL: url, RetryWaitMin: time.Millisecond, RetryWaitMax: 10 * time.Millisecond})
	require.NoError(t, err)
	return c
}
