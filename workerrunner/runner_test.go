package workerrunner

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskgate/taskgate/internal/mmsim"
	"github.com/taskgate/taskgate/routing"
	"github.com/taskgate/taskgate/task"
	"github.com/taskgate/taskgate/tasklogs"
)

func TestRunnerManyTasksReachFinalStatusOnce(t *testing.T) {
	const n, capacity = 300, 4
	mms := startMMs(t, 3, capacity, "")
	r := newRunner(t, testConfig(mms, capacity), Options{})
	rec := newRecorder()
	r.Subscribe(rec.listen)
	startRunner(t, r)

	rnd := rand.New(rand.NewSource(1))
	want := map[string]task.State{}
	var ids []string
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("t-%03d", i)
		res := task.StateSuccess
		if rnd.Intn(4) == 0 {
			res = task.StateFailed
		}
		want[id] = res
		ids = append(ids, id)
		require.NoError(t, r.Run(context.Background(), simTask(t, id, 20+rnd.Intn(181), res, "")))
	}
	// Running a known id again is a no-op.
	require.NoError(t, r.Run(context.Background(), simTask(t, ids[0], 20, task.StateSuccess, "")))

	waitFor(t, 40*time.Second, "all tasks to finish", func() bool { return rec.done(ids) == n })
	time.Sleep(100 * time.Millisecond) // let any duplicate event arrive
	for _, id := range ids {
		st := rec.status(id)
		require.Len(t, st, 1, "task %s: status events", id)
		assert.Equal(t, want[id], st[0].Status, "task %s", id)
		if want[id] == task.StateFailed {
			assert.Equal(t, mmsim.DefaultFailureMsg, st[0].ErrorMsg)
		}
		wi, ok := r.Get(id)
		require.True(t, ok)
		assert.Equal(t, task.RunnerStateNone, wi.State)
		assert.False(t, wi.Location.IsUnknown(), "task %s ran somewhere", id)
	}
	assigned := 0
	for i, mm := range mms {
		s := mm.Stats()
		assert.Zero(t, s.OverCapacity, "worker %d over capacity", i)
		assert.LessOrEqual(t, s.MaxSlotsUsed, capacity)
		assert.Zero(t, s.Duplicates, "worker %d duplicate assignments", i)
		assert.Positive(t, s.Assigned, "worker %d got tasks", i)
		assigned += s.Assigned
	}
	assert.Equal(t, n, assigned, "every task assigned exactly once")
	assert.Equal(t, map[string]int{"_default_worker_category": 3 * capacity}, r.TotalSlots())
	assert.Equal(t, map[string]int{"_default_worker_category": 0}, r.UsedSlots())
	assert.Equal(t, map[string]int{"_default_worker_category": 3 * capacity}, r.IdleSlots())
	assert.Len(t, r.Known(), n)
	assert.Empty(t, r.Running())
	assert.Empty(t, r.Pending())
}

func TestRunnerPlacementByStrategy(t *testing.T) {
	cases := []struct {
		name     string
		strategy SelectStrategy
		// wantSpread: distinct workers used by 3 concurrent tasks
		wantSpread int
	}{
		{"equalDistribution", SelectStrategy{Type: StrategyEqualDistribution}, 3},
		{"fillCapacity", SelectStrategy{Type: StrategyFillCapacity}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mms := startMMs(t, 3, 4, "")
			cfg := testConfig(mms, 4)
			cfg.SelectStrategy = tc.strategy
			r := newRunner(t, cfg, Options{})
			startRunner(t, r)
			used := map[string]int{}
			for i := 0; i < 3; i++ {
				id := fmt.Sprintf("%s-%d", tc.name, i)
				require.NoError(t, r.Run(context.Background(), simTask(t, id, 3000, task.StateSuccess, "")))
				waitFor(t, 5*time.Second, id+" running", func() bool {
					wi, _ := r.Get(id)
					return wi.State == task.RunnerStateRunning
				})
				used[workerOf(r, id)]++
			}
			assert.Len(t, used, tc.wantSpread, "workers used: %v", used)
			assert.Equal(t, 3, r.UsedCapacity())
			assert.Equal(t, 9, r.IdleSlots()["_default_worker_category"])
			for id := range used {
				_ = id
			}
			for _, wi := range r.Running() {
				require.NoError(t, r.Shutdown(context.Background(), wi.TaskID, "test over"))
			}
		})
	}
}

func TestRunnerAffinityAndAvailabilityGroups(t *testing.T) {
	mms := startMMs(t, 3, 4, "")
	cfg := testConfig(mms, 4)
	pinned := mms[2].HostAndPort()
	cfg.SelectStrategy = SelectStrategy{Type: StrategyEqualDistribution, AffinityConfig: &AffinityConfig{
		Affinity: map[string][]string{"wiki": {pinned}}, Strong: true}}
	r := newRunner(t, cfg, Options{})
	startRunner(t, r)
	// Two tasks of one availability group: never together on a worker; with
	// strong affinity the second waits for the first.
	ag := `,"resource":{"availabilityGroup":"ag1","requiredCapacity":1}`
	require.NoError(t, r.Run(context.Background(), simTask(t, "ag-1", 300, task.StateSuccess, ag)))
	require.NoError(t, r.Run(context.Background(), simTask(t, "ag-2", 50, task.StateSuccess, ag)))
	waitFor(t, 5*time.Second, "ag-1 running", func() bool { wi, _ := r.Get("ag-1"); return wi.State == task.RunnerStateRunning })
	time.Sleep(100 * time.Millisecond)
	wi, _ := r.Get("ag-2")
	assert.Equal(t, task.RunnerStatePending, wi.State, "same availability group waits")
	waitFor(t, 5*time.Second, "ag-2 done", func() bool { wi, _ := r.Get("ag-2"); return wi.State == task.RunnerStateNone })
	assert.Equal(t, pinned, workerOf(r, "ag-1"))
	assert.Equal(t, pinned, workerOf(r, "ag-2"))
	// A task that needs more capacity than any worker has stays pending.
	require.NoError(t, r.Run(context.Background(), simTask(t, "big", 50, task.StateSuccess, `,"resource":{"availabilityGroup":"big","requiredCapacity":5}`)))
	time.Sleep(100 * time.Millisecond)
	wi, _ = r.Get("big")
	assert.Equal(t, task.RunnerStatePending, wi.State)
	require.NoError(t, r.Shutdown(context.Background(), "big", "no room"))
	wi, _ = r.Get("big")
	require.NotNil(t, wi.Status)
	assert.Equal(t, task.StateFailed, wi.Status.Status)
	assert.Equal(t, "shutdown: no room", wi.Status.ErrorMsg)
	assert.Zero(t, mms[0].Stats().Assigned+mms[1].Stats().Assigned, "strong affinity keeps wiki on the pinned worker")
}

func TestRunnerWorkerKilledAndBack(t *testing.T) {
	mms := startMMs(t, 3, 3, "")
	cfg := testConfig(mms, 3)
	cfg.TaskCleanupTimeout = 500 * time.Millisecond
	r := newRunner(t, cfg, Options{})
	rec := newRecorder()
	r.Subscribe(rec.listen)
	startRunner(t, r)

	var ids []string
	for i := 0; i < 30; i++ {
		id := fmt.Sprintf("k-%02d", i)
		ids = append(ids, id)
		require.NoError(t, r.Run(context.Background(), simTask(t, id, 400+10*i, task.StateSuccess, "")))
	}
	victim := mms[1]
	vh := victim.HostAndPort()
	var onVictim []string
	waitFor(t, 10*time.Second, "tasks running on the victim", func() bool {
		onVictim = nil
		for _, wi := range r.Running() {
			if workerOf(r, wi.TaskID) == vh {
				onVictim = append(onVictim, wi.TaskID)
			}
		}
		return len(onVictim) == 3
	})
	victim.Kill()
	killedAt := time.Now()
	waitFor(t, 10*time.Second, "victim's tasks to fail", func() bool { return rec.done(onVictim) == len(onVictim) })
	assert.GreaterOrEqual(t, time.Since(killedAt), cfg.TaskCleanupTimeout-50*time.Millisecond, "not failed before the cleanup timeout")
	for _, id := range onVictim {
		st := rec.status(id)
		require.Len(t, st, 1)
		assert.Equal(t, task.StateFailed, st[0].Status)
		assert.Equal(t, "The worker that this task was assigned disappeared and did not report cleanup within timeout[PT0.5S]. See overlord and middleManager/indexer logs for more details.", st[0].ErrorMsg)
	}
	before := victim.Stats().Assigned
	require.NoError(t, victim.Start(context.Background()))
	var more []string
	for i := 0; i < 12; i++ {
		id := fmt.Sprintf("k2-%02d", i)
		more = append(more, id)
		require.NoError(t, r.Run(context.Background(), simTask(t, id, 100, task.StateSuccess, "")))
	}
	all := append(append([]string(nil), ids...), more...)
	waitFor(t, 20*time.Second, "all tasks to finish", func() bool { return rec.done(all) == len(all) })
	for _, id := range all {
		st := rec.status(id)
		require.Len(t, st, 1, id)
		if !contains(onVictim, id) {
			assert.Equal(t, task.StateSuccess, st[0].Status, id)
		}
	}
	assert.Greater(t, victim.Stats().Assigned, before, "the returned worker gets new tasks")
	for _, mm := range mms {
		assert.Zero(t, mm.Stats().OverCapacity)
		assert.Zero(t, mm.Stats().Duplicates)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestRunnerRestartAdoptsRunningTasks(t *testing.T) {
	const n = 60
	mms := startMMs(t, 3, 4, "")
	cfg := testConfig(mms, 4)
	r1 := newRunner(t, cfg, Options{})
	rec1 := newRecorder()
	r1.Subscribe(rec1.listen)
	startRunner(t, r1)
	var ids []string
	tasks := map[string]*task.Task{}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("rs-%02d", i)
		ids = append(ids, id)
		tasks[id] = simTask(t, id, 150+5*i, task.StateSuccess, "")
		require.NoError(t, r1.Run(context.Background(), tasks[id]))
	}
	waitFor(t, 10*time.Second, "some tasks done", func() bool { return rec1.done(ids) >= 15 })
	require.NoError(t, r1.Stop(context.Background()))
	running := 0
	for _, mm := range mms {
		for _, id := range ids {
			if a, ok := mm.Announcement(id); ok && a.State() == task.StateRunning {
				running++
			}
		}
	}
	require.Positive(t, running, "tasks still running on workers at restart")

	r2 := newRunner(t, cfg, Options{})
	rec2 := newRecorder()
	r2.Subscribe(rec2.listen)
	startRunner(t, r2)
	restored, err := r2.Restore(context.Background())
	require.NoError(t, err)
	assert.NotEmpty(t, restored)
	// The Overlord runs its active tasks again after a restart: adopted ones
	// must not be assigned a second time.
	for _, id := range ids {
		if len(rec1.status(id)) == 0 {
			require.NoError(t, r2.Run(context.Background(), tasks[id]))
		}
	}
	waitFor(t, 30*time.Second, "all tasks done", func() bool {
		for _, id := range ids {
			if len(rec1.status(id)) == 0 && len(rec2.status(id)) == 0 {
				return false
			}
		}
		return true
	})
	time.Sleep(100 * time.Millisecond)
	assigned := 0
	for _, mm := range mms {
		s := mm.Stats()
		assigned += s.Assigned
		assert.Zero(t, s.Duplicates, "no task assigned twice")
		assert.Zero(t, s.OverCapacity)
		assert.Zero(t, s.Shutdowns, "no task stopped")
	}
	assert.Equal(t, n, assigned, "no task re-assigned after the restart")
	for _, id := range ids {
		assert.LessOrEqual(t, len(rec2.status(id)), 1, id)
		for _, st := range append(rec1.status(id), rec2.status(id)...) {
			assert.Equal(t, task.StateSuccess, st.Status, id)
		}
	}
}

func TestRunnerShutdownAndLogs(t *testing.T) {
	logDir := t.TempDir()
	mms := startMMs(t, 1, 2, logDir)
	store, err := tasklogs.NewFile(logDir)
	require.NoError(t, err)
	r := newRunner(t, testConfig(mms, 2), Options{Logs: store})
	rec := newRecorder()
	r.Subscribe(rec.listen)
	startRunner(t, r)
	ctx := context.Background()

	require.NoError(t, r.Run(ctx, simTask(t, "long", 10000, task.StateSuccess, "")))
	waitFor(t, 5*time.Second, "long running with a location", func() bool {
		wi, _ := r.Get("long")
		return wi.State == task.RunnerStateRunning && !wi.Location.IsUnknown()
	})
	var body []byte
	waitFor(t, 5*time.Second, "running log from the worker", func() bool {
		rc, ok, err := r.StreamLog(ctx, "long", 0)
		if err != nil || !ok {
			return false
		}
		defer rc.Close()
		body, _ = io.ReadAll(rc)
		return len(body) > 0
	})
	assert.Contains(t, string(body), "Running task: long")

	require.NoError(t, r.Shutdown(ctx, "long", "user asked"))
	waitFor(t, 5*time.Second, "long stopped", func() bool { return len(rec.status("long")) == 1 })
	st := rec.status("long")[0]
	assert.Equal(t, task.StateFailed, st.Status)
	assert.Equal(t, mmsim.ShutdownErrorMsg, st.ErrorMsg)
	assert.Len(t, rec.locs["long"], 1)

	waitFor(t, 5*time.Second, "status.json pushed", func() bool {
		_, err := os.Stat(filepath.Join(logDir, "long.log"))
		return err == nil
	})
	rc, ok, err := r.StreamLog(ctx, "long", 0)
	require.NoError(t, err)
	require.True(t, ok)
	b, _ := io.ReadAll(rc)
	_ = rc.Close()
	assert.Contains(t, string(b), "Task completed with status: FAILED")
	_, ok, err = r.StreamLog(ctx, "unknown-task", 0)
	require.NoError(t, err)
	assert.False(t, ok)
	require.NoError(t, r.Shutdown(ctx, "unknown-task", "nothing"))
}

func TestRunnerDisabledWorkerGetsNothing(t *testing.T) {
	mms := startMMs(t, 2, 2, "")
	cfg := testConfig(mms, 2)
	r := newRunner(t, cfg, Options{})
	startRunner(t, r)
	c := mustClient(t, mms[0].URL())
	require.NoError(t, c.Disable(context.Background()))
	waitFor(t, 5*time.Second, "disabled worker ineligible", func() bool { return r.IdleSlots()["_default_worker_category"] == 2 })
	for i := 0; i < 4; i++ {
		require.NoError(t, r.Run(context.Background(), simTask(t, fmt.Sprintf("d-%d", i), 30, task.StateSuccess, "")))
	}
	waitFor(t, 10*time.Second, "all done", func() bool { return len(r.Known()) == 4 && len(r.Pending()) == 0 && len(r.Running()) == 0 })
	assert.Zero(t, mms[0].Stats().Assigned)
	assert.Equal(t, 4, mms[1].Stats().Assigned)
}

func TestRunnerBlacklistsFailingWorker(t *testing.T) {
	mms := startMMs(t, 5, 1, "")
	cfg := testConfig(mms, 1)
	cfg.SelectStrategy = SelectStrategy{Type: StrategyFillCapacity}
	cfg.MaxRetriesBeforeBlacklist = 1
	r := newRunner(t, cfg, Options{})
	startRunner(t, r)
	// With every worker idle fillCapacity picks the lowest host: the same
	// worker gets each task, one after the other.
	first := ""
	for i := 0; i < 2; i++ {
		id := fmt.Sprintf("bl-%d", i)
		require.NoError(t, r.Run(context.Background(), simTask(t, id, 10, task.StateFailed, "")))
		waitFor(t, 5*time.Second, id+" done", func() bool { wi, _ := r.Get(id); return wi.State == task.RunnerStateNone })
		if first == "" {
			first = workerOf(r, id)
		}
		assert.Equal(t, first, workerOf(r, id))
	}
	assert.Equal(t, []string{first}, r.Blacklisted(), "two consecutive failures > maxRetriesBeforeBlacklist=1")
	require.NoError(t, r.Run(context.Background(), simTask(t, "bl-after", 10, task.StateSuccess, "")))
	waitFor(t, 5*time.Second, "bl-after done", func() bool { wi, _ := r.Get("bl-after"); return wi.State == task.RunnerStateNone })
	assert.NotEqual(t, first, workerOf(r, "bl-after"), "a blacklisted worker gets no tasks")
	assert.Less(t, r.IdleSlots()["_default_worker_category"], 5)
}

func TestRunnerSubscribeReplaysRunning(t *testing.T) {
	mms := startMMs(t, 1, 1, "")
	r := newRunner(t, testConfig(mms, 1), Options{})
	startRunner(t, r)
	require.NoError(t, r.Run(context.Background(), simTask(t, "rep", 5000, task.StateSuccess, "")))
	waitFor(t, 5*time.Second, "rep located", func() bool { wi, _ := r.Get("rep"); return !wi.Location.IsUnknown() })
	var got []routing.Event
	unsub := r.Subscribe(func(e routing.Event) { got = append(got, e) })
	unsub()
	require.Len(t, got, 1)
	assert.Equal(t, routing.EventLocationChanged, got[0].Kind)
	assert.Equal(t, "rep", got[0].TaskID)
	assert.Equal(t, "worker", got[0].Runner)
	require.NoError(t, r.Shutdown(context.Background(), "rep", "done"))
}

func TestRunnerPendingQueueByPriorityThenArrival(t *testing.T) {
	mms := startMMs(t, 1, 1, "")
	r := newRunner(t, testConfig(mms, 1), Options{})
	rec := newRecorder()
	r.Subscribe(rec.listen)
	startRunner(t, r)
	ctx := context.Background()
	require.NoError(t, r.Run(ctx, simTask(t, "blocker", 300, task.StateSuccess, "")))
	waitFor(t, 5*time.Second, "blocker running", func() bool { wi, _ := r.Get("blocker"); return wi.State == task.RunnerStateRunning })
	for _, q := range []struct {
		id   string
		prio int
	}{{"low-1", 10}, {"high", 90}, {"low-2", 10}} {
		tk, err := task.Parse([]byte(fmt.Sprintf(`{"type":"noop","id":%q,"context":{"priority":%d,"simulate":{"durationMs":20}}}`, q.id, q.prio)))
		require.NoError(t, err)
		require.NoError(t, r.Run(ctx, tk))
	}
	assert.Len(t, r.Pending(), 3)
	waitFor(t, 10*time.Second, "all done", func() bool { return rec.done([]string{"blocker", "low-1", "high", "low-2"}) == 4 })
	r.mu.Lock()
	hi, l1, l2 := r.items["high"].completed, r.items["low-1"].completed, r.items["low-2"].completed
	r.mu.Unlock()
	assert.True(t, hi.Before(l1), "higher priority first")
	assert.True(t, l1.Before(l2), "same priority: arrival order")
}

func TestRunnerCategorySpecAndSlotsByCategory(t *testing.T) {
	var mms []*mmsim.MM
	for _, cat := range []string{"hot", "cold"} {
		mm, err := mmsim.New(mmsim.Config{Capacity: 2, Category: cat, Logger: quietLogger()})
		require.NoError(t, err)
		require.NoError(t, mm.Start(context.Background()))
		t.Cleanup(mm.Kill)
		mms = append(mms, mm)
	}
	cfg := testConfig(nil, 0)
	cfg.Workers = []StaticWorker{{URL: mms[0].URL(), Capacity: 2, Category: "hot"}, {URL: mms[1].URL(), Capacity: 2, Category: "cold"}}
	s, err := ParseSelectStrategy([]byte(`{"type":"equalDistributionWithCategorySpec","workerCategorySpec":{"strong":true,"categoryMap":{"noop":{"defaultCategory":"cold"}}}}`))
	require.NoError(t, err)
	cfg.SelectStrategy = s
	r := newRunner(t, cfg, Options{})
	startRunner(t, r)
	assert.Equal(t, map[string]int{"hot": 2, "cold": 2}, r.TotalSlots())
	require.NoError(t, r.Run(context.Background(), simTask(t, "cat-1", 2000, task.StateSuccess, "")))
	waitFor(t, 5*time.Second, "cat-1 running", func() bool { wi, _ := r.Get("cat-1"); return wi.State == task.RunnerStateRunning })
	assert.Equal(t, map[string]int{"hot": 0, "cold": 1}, r.UsedSlots())
	assert.Equal(t, map[string]int{"hot": 2, "cold": 1}, r.IdleSlots())
	for i := 2; i <= 4; i++ {
		require.NoError(t, r.Run(context.Background(), simTask(t, fmt.Sprintf("cat-%d", i), 20, task.StateSuccess, "")))
	}
	waitFor(t, 10*time.Second, "cat-2..4 done", func() bool {
		for i := 2; i <= 4; i++ {
			if wi, _ := r.Get(fmt.Sprintf("cat-%d", i)); wi.State != task.RunnerStateNone {
				return false
			}
		}
		return true
	})
	assert.Zero(t, mms[0].Stats().Assigned, "strong category spec keeps noop tasks on cold workers")
	assert.Equal(t, 4, mms[1].Stats().Assigned)
	require.NoError(t, r.Shutdown(context.Background(), "cat-1", "done"))
}
