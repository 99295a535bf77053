package routing

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskgate/taskgate/task"
)

// fakeRunner is a small in-memory Runner for tests. Fields set before use
// configure it; the rest is guarded by mu.
type fakeRunner struct {
	name string

	// runErr fails Run; runGate, when set, blocks Run until closed and
	// runEntered (if set) receives each Run first.
	runErr     error
	runGate    chan struct{}
	runEntered chan string
	// listLate makes Run succeed without the task showing up in Get or the
	// listings until list() is called, like a runner that registers tasks
	// asynchronously.
	listLate bool

	shutdownErr, startErr, stopErr, restoreErr, logErr error
	restoreItems                                       []WorkItem
	logs                                               map[string]string
	total, idle, used                                  map[string]int
	totalCap, usedCap                                  int

	mu        sync.Mutex
	items     map[string]WorkItem
	order     []string
	unlisted  []*task.Task
	runCalls  map[string]int
	shutdowns []string
	starts    int
	stops     int
	restores  int
	nextSub   int
	listeners map[int]Listener
}

func newFakeRunner(name string) *fakeRunner {
	return &fakeRunner{
		name:      name,
		items:     map[string]WorkItem{},
		runCalls:  map[string]int{},
		listeners: map[int]Listener{},
		totalCap:  -1,
		usedCap:   -1,
	}
}

// add makes the runner know a task in the given state, as if it had run it.
func (f *fakeRunner) add(id string, state task.RunnerState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addLocked(WorkItem{TaskID: id, Runner: f.name, State: state, Location: task.UnknownLocation()})
}

func (f *fakeRunner) addLocked(wi WorkItem) {
	if _, ok := f.items[wi.TaskID]; !ok {
		f.order = append(f.order, wi.TaskID)
	}
	f.items[wi.TaskID] = wi
}

// list registers the tasks a listLate runner accepted.
func (f *fakeRunner) list() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range f.unlisted {
		f.addLocked(WorkItem{TaskID: t.ID, TaskType: t.Type, Runner: f.name, State: task.RunnerStatePending, Location: task.UnknownLocation()})
	}
	f.unlisted = nil
}

func (f *fakeRunner) runs(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.runCalls[id]
}

func (f *fakeRunner) totalRuns() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.runCalls {
		n += c
	}
	return n
}

func (f *fakeRunner) shutdownCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.shutdowns...)
}

func (f *fakeRunner) emit(e Event) {
	f.mu.Lock()
	ls := make([]Listener, 0, len(f.listeners))
	for _, l := range f.listeners {
		ls = append(ls, l)
	}
	f.mu.Unlock()
	for _, l := range ls {
		l(e)
	}
}

func (f *fakeRunner) Name() string { return f.name }

func (f *fakeRunner) Start(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts++
	return f.startErr
}

func (f *fakeRunner) Stop(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stops++
	return f.stopErr
}

func (f *fakeRunner) Restore(context.Context) ([]WorkItem, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restores++
	if f.restoreErr != nil {
		return nil, f.restoreErr
	}
	return f.restoreItems, nil
}

func (f *fakeRunner) Run(ctx context.Context, t *task.Task) error {
	if f.runEntered != nil {
		f.runEntered <- t.ID
	}
	if f.runGate != nil {
		select {
		case <-f.runGate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runCalls[t.ID]++
	if f.runErr != nil {
		return f.runErr
	}
	if _, ok := f.items[t.ID]; ok {
		return nil
	}
	if f.listLate {
		f.unlisted = append(f.unlisted, t)
		return nil
	}
	f.addLocked(WorkItem{TaskID: t.ID, TaskType: t.Type, DataSource: t.DataSource, GroupID: t.GroupID,
		Runner: f.name, State: task.RunnerStatePending, Location: task.UnknownLocation()})
	return nil
}

func (f *fakeRunner) Shutdown(_ context.Context, taskID, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shutdowns = append(f.shutdowns, taskID)
	if f.shutdownErr != nil {
		return f.shutdownErr
	}
	if wi, ok := f.items[taskID]; ok {
		st := task.Failure(taskID, "shut down")
		wi.State, wi.Status = task.RunnerStateNone, &st
		f.items[taskID] = wi
	}
	return nil
}

func (f *fakeRunner) Get(taskID string) (WorkItem, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	wi, ok := f.items[taskID]
	return wi, ok
}

func (f *fakeRunner) StreamLog(_ context.Context, taskID string, _ int64) (io.ReadCloser, bool, error) {
	if f.logErr != nil {
		return nil, false, f.logErr
	}
	l, ok := f.logs[taskID]
	if !ok {
		return nil, false, nil
	}
	return io.NopCloser(strings.NewReader(l)), true, nil
}

func (f *fakeRunner) listing(keep func(task.RunnerState) bool) []WorkItem {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []WorkItem
	for _, id := range f.order {
		if wi := f.items[id]; keep(wi.State) {
			out = append(out, wi)
		}
	}
	return out
}

func (f *fakeRunner) Running() []WorkItem {
	return f.listing(func(s task.RunnerState) bool { return s == task.RunnerStateRunning })
}

func (f *fakeRunner) Pending() []WorkItem {
	return f.listing(func(s task.RunnerState) bool { return s == task.RunnerStatePending })
}

func (f *fakeRunner) Known() []WorkItem {
	return f.listing(func(task.RunnerState) bool { return true })
}

func (f *fakeRunner) TotalSlots() map[string]int { return f.total }
func (f *fakeRunner) IdleSlots() map[string]int  { return f.idle }
func (f *fakeRunner) UsedSlots() map[string]int  { return f.used }
func (f *fakeRunner) TotalCapacity() int         { return f.totalCap }
func (f *fakeRunner) UsedCapacity() int          { return f.usedCap }

func (f *fakeRunner) Subscribe(l Listener) func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.nextSub
	f.nextSub++
	f.listeners[id] = l
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.listeners, id)
	}
}

func (f *fakeRunner) subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.listeners)
}

var _ Runner = (*fakeRunner)(nil)

// newTask parses a minimal Druid task, so tests use the real task model.
func newTask(tb testing.TB, id, taskType, dataSource string) *task.Task {
	tb.Helper()
	raw := fmt.Sprintf(`{"type":%q,"id":%q,"dataSource":%q,"groupId":"group-%s"}`, taskType, id, dataSource, id)
	t, err := task.Parse([]byte(raw))
	require.NoError(tb, err)
	return t
}
