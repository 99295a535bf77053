package mmsim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskgate/taskgate/task"
	"github.com/taskgate/taskgate/workerrunner/protocol"
)

func startMM(t *testing.T, cfg Config) (*MM, *protocol.Client) {
	t.Helper()
	if cfg.TaskLogDir == "" {
		cfg.TaskLogDir = t.TempDir()
	}
	mm, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, mm.Start(context.Background()))
	t.Cleanup(func() { _ = mm.Stop(context.Background(), false) })
	c, err := protocol.NewClient(protocol.ClientConfig{BaseURL: mm.URL(), RetryWaitMin: time.Millisecond, RetryWaitMax: 10 * time.Millisecond, RequestTimeout: 5 * time.Second})
	require.NoError(t, err)
	return mm, c
}

func taskJSON(id string, sim string) []byte {
	ctx := ""
	if sim != "" {
		ctx = fmt.Sprintf(`,"context":{"simulate":%s}`, sim)
	}
	return []byte(fmt.Sprintf(`{"type":"noop","id":%q,"dataSource":"wiki"%s}`, id, ctx))
}

// follower keeps a worker's task map from sync, as the Overlord does.
type follower struct {
	c       *protocol.Client
	counter *protocol.Counter
	tasks   map[string]protocol.TaskAnnouncement
	states  map[string][]task.State
	resets  int
}

func newFollower(c *protocol.Client) *follower {
	return &follower{c: c, tasks: map[string]protocol.TaskAnnouncement{}, states: map[string][]task.State{}}
}

// poll does one sync round; it reports whether a snapshot (not 204) came.
func (f *follower) poll(t *testing.T, timeout time.Duration) bool {
	t.Helper()
	s, err := f.c.Sync(context.Background(), f.counter, timeout)
	require.NoError(t, err)
	if s == nil {
		return false
	}
	if s.ResetCounter {
		f.resets++
		f.counter = nil
		return true
	}
	if f.counter == nil {
		f.tasks = map[string]protocol.TaskAnnouncement{}
	}
	for _, it := range s.Requests {
		switch it.Type {
		case protocol.ItemTaskUpdate:
			a := *it.TaskAnnouncement
			f.tasks[a.ID()] = a
			st := f.states[a.ID()]
			if len(st) == 0 || st[len(st)-1] != a.State() {
				f.states[a.ID()] = append(st, a.State())
			}
		case protocol.ItemTaskRemoval:
			delete(f.tasks, it.TaskID)
		}
	}
	f.counter = s.Counter
	return true
}

func (f *follower) until(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "condition not reached")
		f.poll(t, 200*time.Millisecond)
	}
}

func TestTaskOutcomes(t *testing.T) {
	cases := []struct {
		name    string
		sim     string
		want    task.State
		wantMsg string
	}{
		{"default success", "", task.StateSuccess, ""},
		{"explicit success", `{"durationMs":30,"result":"SUCCESS"}`, task.StateSuccess, ""},
		{"failed with message", `{"durationMs":30,"result":"FAILED","errorMsg":"boom"}`, task.StateFailed, "boom"},
		{"failed default message", `{"durationMs":10,"result":"FAILED"}`, task.StateFailed, DefaultFailureMsg},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			mm, c := startMM(t, Config{TaskLogDir: dir, Host: "mm-sim"})
			f := newFollower(c)
			f.poll(t, time.Second)
			id := "noop_" + string(tc.want)
			require.NoError(t, c.AssignTask(context.Background(), taskJSON(id, tc.sim)))
			f.until(t, func() bool { a, ok := f.tasks[id]; return ok && a.State().IsComplete() })
			a := f.tasks[id]
			assert.Equal(t, tc.want, a.State())
			assert.Equal(t, tc.wantMsg, a.TaskStatus.ErrorMsg)
			assert.Equal(t, []task.State{task.StateRunning, tc.want}, f.states[id])
			assert.Equal(t, task.Location{Host: "mm-sim", Port: 8100, TLSPort: -1}, a.TaskLocation)
			assert.Equal(t, "wiki", a.TaskDataSource)
			assert.GreaterOrEqual(t, a.TaskStatus.Duration, int64(0))

			log, err := os.ReadFile(filepath.Join(dir, id+".log"))
			require.NoError(t, err)
			assert.Contains(t, string(log), "Running task: "+id)
			var st task.Status
			b, err := os.ReadFile(filepath.Join(dir, id+".status.json"))
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(b, &st))
			assert.Equal(t, tc.want, st.Status)
			_, err = os.Stat(filepath.Join(dir, id+".report.json"))
			require.NoError(t, err)
			assert.Equal(t, 1, mm.Stats().Assigned)
		})
	}
}

func TestAssignIsIdempotentAndRecordedBeforeAnswer(t *testing.T) {
	mm, c := startMM(t, Config{})
	f := newFollower(c)
	f.poll(t, time.Second)
	body := taskJSON("t1", `{"durationMs":2000}`)
	require.NoError(t, c.AssignTask(context.Background(), body))
	// The RUNNING update is in the history already: a poll returns at once.
	start := time.Now()
	require.True(t, f.poll(t, 3*time.Second))
	assert.Less(t, time.Since(start), time.Second)
	assert.Equal(t, task.StateRunning, f.tasks["t1"].State())
	require.NoError(t, c.AssignTask(context.Background(), body))
	assert.Equal(t, 1, mm.Stats().Assigned)
	assert.Equal(t, 1, mm.Stats().Duplicates)
}

func TestBadSimulateIsRefused(t *testing.T) {
	_, c := startMM(t, Config{})
	err := c.AssignTask(context.Background(), taskJSON("bad", `{"result":"MAYBE"}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "context.simulate.result")
}

func TestShutdown(t *testing.T) {
	_, c := startMM(t, Config{})
	f := newFollower(c)
	f.poll(t, time.Second)
	require.NoError(t, c.AssignTask(context.Background(), taskJSON("long", `{"durationMs":60000}`)))
	f.until(t, func() bool { return !f.tasks["long"].TaskLocation.IsUnknown() })
	require.NoError(t, c.ShutdownTask(context.Background(), "long"))
	require.NoError(t, c.ShutdownTask(context.Background(), "unknown-task"))
	f.until(t, func() bool { return f.tasks["long"].State().IsComplete() })
	assert.Equal(t, task.StateFailed, f.tasks["long"].State())
	assert.Equal(t, ShutdownErrorMsg, f.tasks["long"].TaskStatus.ErrorMsg)
}

func TestLogWithOffsets(t *testing.T) {
	_, c := startMM(t, Config{})
	f := newFollower(c)
	f.poll(t, time.Second)
	require.NoError(t, c.AssignTask(context.Background(), taskJSON("logme", `{"durationMs":60000}`)))
	f.until(t, func() bool { return !f.tasks["logme"].TaskLocation.IsUnknown() })
	read := func(off int64) string {
		rc, err := c.TaskLog(context.Background(), "logme", off)
		require.NoError(t, err)
		defer rc.Close()
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		return string(b)
	}
	all := read(0)
	require.Contains(t, all, "Running task: logme")
	assert.Equal(t, all[5:], read(5))
	assert.Equal(t, all[len(all)-7:], read(-7))
	assert.Equal(t, "", read(int64(len(all)+10)))
	_, err := c.TaskLog(context.Background(), "absent", 0)
	assert.ErrorIs(t, err, protocol.ErrNotFound)
}

func TestLongPoll(t *testing.T) {
	_, c := startMM(t, Config{})
	f := newFollower(c)
	f.poll(t, time.Second)
	start := time.Now()
	assert.False(t, f.poll(t, 50*time.Millisecond), "no change: 204")
	assert.GreaterOrEqual(t, time.Since(start), 45*time.Millisecond)

	done := make(chan bool, 1)
	go func() {
		s, err := c.Sync(context.Background(), f.counter, 5*time.Second)
		done <- err == nil && s != nil && !s.ResetCounter
	}()
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, c.AssignTask(context.Background(), taskJSON("wake", "")))
	select {
	case ok := <-done:
		assert.True(t, ok)
	case <-time.After(3 * time.Second):
		t.Fatal("long poll did not return on change")
	}
}

func TestRestart(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keepTasks=%v", keep), func(t *testing.T) {
			mm, c := startMM(t, Config{})
			f := newFollower(c)
			f.poll(t, time.Second)
			require.NoError(t, c.AssignTask(context.Background(), taskJSON("done", `{"durationMs":1}`)))
			require.NoError(t, c.AssignTask(context.Background(), taskJSON("slow", `{"durationMs":60000}`)))
			f.until(t, func() bool { return f.tasks["done"].State().IsComplete() && !f.tasks["slow"].TaskLocation.IsUnknown() })
			url := mm.URL()
			require.NoError(t, mm.Stop(context.Background(), keep))
			require.NoError(t, mm.Start(context.Background()))
			require.Equal(t, url, mm.URL(), "restart keeps the address")

			f.poll(t, time.Second) // old counter: reset
			require.Equal(t, 1, f.resets)
			require.Nil(t, f.counter)
			f.poll(t, time.Second) // full sync
			if keep {
				assert.Contains(t, f.tasks, "slow")
				assert.Equal(t, task.StateSuccess, f.tasks["done"].State())
			} else {
				assert.Empty(t, f.tasks)
			}
		})
	}
}

func TestKill(t *testing.T) {
	mm, c := startMM(t, Config{})
	require.NoError(t, c.AssignTask(context.Background(), taskJSON("k", `{"durationMs":60000}`)))
	f0 := newFollower(c)
	f0.until(t, func() bool { return !f0.tasks["k"].TaskLocation.IsUnknown() })
	errc := make(chan error, 1)
	go func() {
		_, err := c.Sync(context.Background(), f0.counter, 10*time.Second)
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	mm.Kill()
	select {
	case err := <-errc:
		require.Error(t, err, "a killed worker drops the long poll")
	case <-time.After(3 * time.Second):
		t.Fatal("long poll survived Kill")
	}
	_, err := c.Sync(context.Background(), nil, time.Second)
	require.Error(t, err)
	require.NoError(t, mm.Start(context.Background()))
	f := newFollower(c)
	f.poll(t, time.Second)
	assert.Empty(t, f.tasks)
}

func TestEnableDisable(t *testing.T) {
	_, c := startMM(t, Config{})
	ctx := context.Background()
	f := newFollower(c)
	f.poll(t, time.Second)
	before := *f.counter
	require.NoError(t, c.Disable(ctx))
	on, err := c.Enabled(ctx)
	require.NoError(t, err)
	assert.False(t, on)
	s, err := c.Sync(ctx, &before, time.Second)
	require.NoError(t, err)
	require.Len(t, s.Requests, 1)
	assert.Equal(t, protocol.Metadata(true), s.Requests[0])
	// Disabling again changes nothing, so nothing is recorded.
	require.NoError(t, c.Disable(ctx))
	s2, err := c.Sync(ctx, s.Counter, 50*time.Millisecond)
	require.NoError(t, err)
	assert.Nil(t, s2)
	require.NoError(t, c.Enable(ctx))
	on, err = c.Enabled(ctx)
	require.NoError(t, err)
	assert.True(t, on)
}

func TestCapacityIsCountedNotEnforced(t *testing.T) {
	mm, c := startMM(t, Config{Capacity: 1})
	require.NoError(t, c.AssignTask(context.Background(), taskJSON("a", `{"durationMs":60000}`)))
	require.NoError(t, c.AssignTask(context.Background(), taskJSON("b", `{"durationMs":60000}`)))
	st := mm.Stats()
	assert.Equal(t, 2, st.Assigned)
	assert.Equal(t, 1, st.OverCapacity)
	assert.Equal(t, 2, st.MaxSlotsUsed)
	ids, err := c.Tasks(context.Background())
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"a", "b"}, ids)
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{Capacity: -1}, "Capacity"},
		{Config{StartPort: 70000}, "StartPort"},
		{Config{DefaultResult: task.StateRunning}, "DefaultResult"},
		{Config{Listen: "nope"}, "Listen"},
	}
	for _, tc := range cases {
		err := tc.cfg.Validate()
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want)
	}
	require.NoError(t, Config{}.Validate())
}
