package workerrunner

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskgate/taskgate/task"
)

func TestRunnerDrainingWorkerFinishesRunningAndGetsNothingNew(t *testing.T) {
	mms := startMMs(t, 2, 2, "")
	r := newRunner(t, testConfig(mms, 2), Options{})
	startRunner(t, r)
	assert.Empty(t, r.Unreachable())
	ctx := context.Background()
	drained := mms[0].HostAndPort()

	// Fill both workers with long tasks, then drain the first.
	for i := range 4 {
		require.NoError(t, r.Run(ctx, simTask(t, fmt.Sprintf("long-%d", i), 400, task.StateSuccess, "")))
	}
	waitFor(t, 10*time.Second, "4 running", func() bool { return len(r.Running()) == 4 })
	r.SetDraining([]string{drained})
	assert.Equal(t, []string{drained}, r.Draining())
	assert.Equal(t, 2, r.RunningByWorker()[drained])

	for i := range 4 {
		require.NoError(t, r.Run(ctx, simTask(t, fmt.Sprintf("new-%d", i), 20, task.StateSuccess, "")))
	}
	waitFor(t, 20*time.Second, "all done", func() bool {
		return len(r.Pending()) == 0 && len(r.Running()) == 0 && len(r.Known()) == 8
	})
	assert.Equal(t, 0, r.RunningByWorker()[drained], "drained worker is empty")
	for i := range 4 {
		assert.NotEqual(t, drained, workerOf(r, fmt.Sprintf("new-%d", i)), "new task placed on the draining worker")
	}
	assert.Equal(t, 2, mms[0].Stats().Assigned, "the draining worker got only what it ran before")

	// Draining every worker makes the side unreachable for fallbacks.
	r.SetDraining([]string{mms[0].HostAndPort(), mms[1].HostAndPort()})
	assert.Contains(t, r.Unreachable(), "disabled or draining")
	r.SetDraining(nil)
	assert.Empty(t, r.Unreachable())

	// Killed workers: no sync answers.
	for _, mm := range mms {
		mm.Kill()
	}
	waitFor(t, 20*time.Second, "unreachable", func() bool { return r.Unreachable() != "" })
	t.Log(r.Unreachable())
}
