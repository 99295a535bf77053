package api

import (
	"context"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/taskgate/taskgate/routing"
	"github.com/taskgate/taskgate/task"
)

// memRunner is an in-memory TaskRunner for tests: it keeps work items and
// logs in maps, lets tests inject errors, and records what it was asked.
type memRunner struct {
	mu        sync.Mutex
	items     map[string]routing.WorkItem
	order     []string
	logs      map[string]string
	logReader map[string]func(offset int64) io.ReadCloser
	logErr    error
	decide    func(*task.Task) routing.Decision
	submitErr error
	shutErr   error
	// submitted and shutdowns record calls, in order.
	submitted  []*task.Task
	shutdowns  []shutdownCall
	logOffsets []int64
	listeners  map[int]routing.Listener
	nextListen int

	total, idle, used       map[string]int
	totalCap, usedCap       int
	unsubscribed, subscribe int
}

type shutdownCall struct{ id, reason string }

var _ TaskRunner = (*memRunner)(nil)

func newMemRunner() *memRunner {
	return &memRunner{
		items:     map[string]routing.WorkItem{},
		logs:      map[string]string{},
		logReader: map[string]func(int64) io.ReadCloser{},
		listeners: map[int]routing.Listener{},
		decide: func(*task.Task) routing.Decision {
			return routing.Decision{Runner: routing.RunnerK8s, Rule: "type=k8s"}
		},
		totalCap: -1,
		usedCap:  -1,
	}
}

func (m *memRunner) put(wi routing.WorkItem) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.items[wi.TaskID]; !ok {
		m.order = append(m.order, wi.TaskID)
	}
	m.items[wi.TaskID] = wi
}

// emit delivers an event to every listener, as a runner's goroutine would.
func (m *memRunner) emit(e routing.Event) {
	m.mu.Lock()
	ls := make([]routing.Listener, 0, len(m.listeners))
	for _, l := range m.listeners {
		ls = append(ls, l)
	}
	m.mu.Unlock()
	for _, l := range ls {
		l(e)
	}
}

func (m *memRunner) Submit(_ context.Context, t *task.Task) (routing.Decision, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.submitted = append(m.submitted, t)
	if wi, ok := m.items[t.ID]; ok {
		return routing.Decision{Runner: wi.Runner, Rule: "alreadyKnown"}, true, nil
	}
	d := m.decide(t)
	if m.submitErr != nil {
		return d, false, m.submitErr
	}
	now := time.Now()
	m.items[t.ID] = routing.WorkItem{
		TaskID: t.ID, TaskType: t.Type, DataSource: t.DataSource, GroupID: t.GroupID,
		Runner: d.Runner, State: task.RunnerStatePending, Location: task.UnknownLocation(),
		CreatedTime: now, QueueInsertionTime: now,
	}
	m.order = append(m.order, t.ID)
	return d, false, nil
}

func (m *memRunner) Name() string                                        { return "mem" }
func (m *memRunner) Start(context.Context) error                         { return nil }
func (m *memRunner) Stop(context.Context) error                          { return nil }
func (m *memRunner) Restore(context.Context) ([]routing.WorkItem, error) { return nil, nil }

func (m *memRunner) Run(ctx context.Context, t *task.Task) error {
	_, _, err := m.Submit(ctx, t)
	return err
}

func (m *memRunner) Shutdown(_ context.Context, id, reason string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.shutdowns = append(m.shutdowns, shutdownCall{id, reason})
	return m.shutErr
}

func (m *memRunner) Get(id string) (routing.WorkItem, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	wi, ok := m.items[id]
	return wi, ok
}

// StreamLog applies Druid's offset rule to the stored log text.
func (m *memRunner) StreamLog(_ context.Context, id string, offset int64) (io.ReadCloser, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.logOffsets = append(m.logOffsets, offset)
	if m.logErr != nil {
		return nil, false, m.logErr
	}
	if f, ok := m.logReader[id]; ok {
		return f(offset), true, nil
	}
	text, ok := m.logs[id]
	if !ok {
		return nil, false, nil
	}
	size := int64(len(text))
	start := offset
	switch {
	case offset < 0:
		start = max(size+offset, 0)
	case offset > size:
		start = size
	}
	return io.NopCloser(strings.NewReader(text[start:])), true, nil
}

func (m *memRunner) list(keep func(routing.WorkItem) bool) []routing.WorkItem {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []routing.WorkItem
	for _, id := range m.order {
		if wi := m.items[id]; keep(wi) {
			out = append(out, wi)
		}
	}
	return out
}

func (m *memRunner) Running() []routing.WorkItem {
	return m.list(func(wi routing.WorkItem) bool { return wi.State == task.RunnerStateRunning })
}

func (m *memRunner) Pending() []routing.WorkItem {
	return m.list(func(wi routing.WorkItem) bool { return wi.State == task.RunnerStatePending })
}

func (m *memRunner) Known() []routing.WorkItem {
	return m.list(func(routing.WorkItem) bool { return true })
}

func (m *memRunner) TotalSlots() map[string]int { return m.total }
func (m *memRunner) IdleSlots() map[string]int  { return m.idle }
func (m *memRunner) UsedSlots() map[string]int  { return m.used }
func (m *memRunner) TotalCapacity() int         { return m.totalCap }
func (m *memRunner) UsedCapacity() int          { return m.usedCap }

func (m *memRunner) Subscribe(l routing.Listener) func() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subscribe++
	id := m.nextListen
	m.nextListen++
	m.listeners[id] = l
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if _, ok := m.listeners[id]; ok {
			delete(m.listeners, id)
			m.unsubscribed++
		}
	}
}

func (m *memRunner) listenerCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.listeners)
}
