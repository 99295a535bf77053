package k8srunner

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/taskgate/taskgate/adapters"
	"github.com/taskgate/taskgate/internal/testcluster"
	"github.com/taskgate/taskgate/task"
)

// fixedCapacity is a CapacitySource the test turns like an operator posting
// the execution config's capacity.
type fixedCapacity struct{ n atomic.Int64 }

func (f *fixedCapacity) Capacity() int { return int(f.n.Load()) }

func (e *env) jobCount(t *testing.T) int {
	t.Helper()
	jobs, err := e.cs.BatchV1().Jobs(e.ns).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	n := 0
	for _, j := range jobs.Items {
		if j.DeletionTimestamp == nil {
			n++
		}
	}
	return n
}

// Live capacity (apache/druid#18591): the execution config's capacity
// applies without a restart; lowering it never kills running tasks.
func TestLiveCapacity(t *testing.T) {
	e := newEnv(t, nil)
	src := &fixedCapacity{}
	src.n.Store(1)
	const static = 10
	r := e.start(e.config(func(c *Config) { c.Capacity = static }), func(d *Deps) { d.Capacity = src })
	e.builder.def = testcluster.Behavior{Stay: testcluster.StayRunning}

	first := []*task.Task{newTask(t, "live_cap_a", "index", 0), newTask(t, "live_cap_b", "index", 0), newTask(t, "live_cap_c", "index", 0)}
	for _, tk := range first {
		require.NoError(t, r.Run(context.Background(), tk))
	}
	waitState(t, r, first[0].ID, task.RunnerStateRunning, 20*time.Second)
	time.Sleep(time.Second) // room for a wrong second launch to show up
	assert.Equal(t, 1, e.jobCount(t), "capacity 1: one Job")
	assert.Len(t, r.Pending(), 2)
	assert.Equal(t, map[string]int{WorkerCategory: 1}, r.TotalSlots())
	assert.Equal(t, 1, r.TotalCapacity())
	assert.Equal(t, map[string]int{WorkerCategory: 0}, r.IdleSlots())

	src.n.Store(3)
	r.CapacityChanged()
	for _, tk := range first {
		waitState(t, r, tk.ID, task.RunnerStateRunning, 20*time.Second)
	}
	assert.Equal(t, 3, e.jobCount(t), "capacity 3: the queued two started")
	assert.Equal(t, map[string]int{WorkerCategory: 3}, r.TotalSlots())
	assert.Empty(t, r.Pending())

	src.n.Store(1)
	r.CapacityChanged()
	fourth := newTask(t, "live_cap_d", "index", 0)
	require.NoError(t, r.Run(context.Background(), fourth))
	time.Sleep(2 * time.Second)
	for _, tk := range first {
		w, ok := r.Get(tk.ID)
		require.True(t, ok)
		assert.Equal(t, task.RunnerStateRunning, w.State, "lowering capacity never stops %s", tk.ID)
		assert.False(t, e.jobGone(adapters.JobName(tk.ID)), "Job of %s kept", tk.ID)
	}
	w, ok := r.Get(fourth.ID)
	require.True(t, ok)
	assert.Equal(t, task.RunnerStatePending, w.State, "over capacity: the new task waits")
	assert.False(t, e.jobExists(adapters.JobName(fourth.ID)))
	assert.Equal(t, 3, r.UsedCapacity())
	assert.Equal(t, 1, r.TotalCapacity())
	assert.Equal(t, map[string]int{WorkerCategory: 0}, r.IdleSlots(), "idle never negative")

	// The held task starts once the running ones are below the new capacity.
	for _, tk := range first {
		require.NoError(t, r.Shutdown(context.Background(), tk.ID, "make room"))
	}
	waitState(t, r, fourth.ID, task.RunnerStateRunning, 20*time.Second)

	// A source without a value leaves the static capacity in force.
	src.n.Store(0)
	r.CapacityChanged()
	assert.Equal(t, static, r.TotalCapacity())
}
