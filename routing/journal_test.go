package routing

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskgate/taskgate/internal/journal"
	"github.com/taskgate/taskgate/task"
)

// A gateway restart loses no accepted task: what waited in a runner's
// memory is run again by the next gateway; what had started or ended is
// not.
func TestHybridJournalReplaysOnlyTasksNoRunnerKnows(t *testing.T) {
	dir := t.TempDir()
	j, err := journal.Open(dir)
	require.NoError(t, err)
	k8s, worker := newFakeRunner(RunnerK8s), newFakeRunner(RunnerWorker)
	h, err := NewHybrid(k8s, worker, mustStrategy(t, taskTypeSplit), WithJournal(j))
	require.NoError(t, err)
	ctx := context.Background()
	for _, tk := range []*task.Task{
		newTask(t, "queued-k8s", "index", "wiki"),
		newTask(t, "queued-worker", "index_kafka", "wiki"),
		newTask(t, "started", "index", "wiki"),
		newTask(t, "ended", "index_kafka", "wiki"),
	} {
		_, _, err := h.Submit(ctx, tk)
		require.NoError(t, err)
	}
	listed, err := j.List()
	require.NoError(t, err)
	assert.Len(t, listed, 4, "journaled before Run returned")
	k8s.emit(Event{Kind: EventLocationChanged, TaskID: "started", Runner: RunnerK8s, Location: task.Location{Host: "10.0.0.1", Port: 8100, TLSPort: -1}})
	st := task.Success("ended", 5)
	worker.emit(Event{Kind: EventStatusChanged, TaskID: "ended", Runner: RunnerWorker, Status: &st})
	listed, err = j.List()
	require.NoError(t, err)
	ids := []string{}
	for _, tk := range listed {
		ids = append(ids, tk.ID)
	}
	assert.ElementsMatch(t, []string{"queued-k8s", "queued-worker"}, ids)

	// The gateway restarts: new runners that know only what really
	// started ("started" restored from its Job).
	k8s2, worker2 := newFakeRunner(RunnerK8s), newFakeRunner(RunnerWorker)
	k8s2.add("started", task.RunnerStateRunning)
	j2, err := journal.Open(dir)
	require.NoError(t, err)
	h2, err := NewHybrid(k8s2, worker2, mustStrategy(t, taskTypeSplit), WithJournal(j2))
	require.NoError(t, err)
	_, err = h2.Restore(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, k8s2.runs("queued-k8s"))
	assert.Equal(t, 1, worker2.runs("queued-worker"))
	assert.Zero(t, k8s2.runs("started")+worker2.runs("ended")+k8s2.runs("ended"))

	// A failed Run leaves nothing behind.
	k8s2.runErr = assert.AnError
	_, _, err = h2.Submit(ctx, newTask(t, "refused", "index", "wiki"))
	require.Error(t, err)
	listed, err = j2.List()
	require.NoError(t, err)
	for _, tk := range listed {
		assert.NotEqual(t, "refused", tk.ID)
	}
}

// BenchmarkHybridSubmitJournal measures what the journal (one fsynced file
// per task) adds to a submission, against the same submission without it.
func BenchmarkHybridSubmitJournal(b *testing.B) {
	for _, withJournal := range []bool{false, true} {
		name := "no-journal"
		if withJournal {
			name = "journal"
		}
		b.Run(name, func(b *testing.B) {
			k8s, worker := newFakeRunner(RunnerK8s), newFakeRunner(RunnerWorker)
			opts := []HybridOption{WithLogger(discardLogger())}
			if withJournal {
				j, err := journal.Open(b.TempDir())
				require.NoError(b, err)
				opts = append(opts, WithJournal(j))
			}
			h, err := NewHybrid(k8s, worker, mustStrategy(b, StrategyConfig{}), opts...)
			require.NoError(b, err)
			tasks := make([]*task.Task, b.N)
			for i := range tasks {
				tasks[i] = newTask(b, fmt.Sprintf("bench-%d", i), "index", "wiki")
			}
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, _, err := h.Submit(ctx, tasks[i]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
