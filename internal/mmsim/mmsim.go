// Package mmsim is a simulated Druid Middle Manager: a real HTTP server
// speaking Druid's worker protocol (workerrunner/protocol) that "runs" tasks
// by sleeping, ends them as their context asks, writes task logs the way
// FileTaskLogs stores them, and can be restarted (tasks kept or lost),
// killed and disabled. Tests and `make run` use it in place of real workers.
//
// A task's behaviour comes from its context:
//
//	"simulate": {"durationMs": 500, "result": "SUCCESS" | "FAILED", "errorMsg": "..."}
//
// Like a real Middle Manager it does not check capacity on assignTask (the
// Overlord does); it counts assignments that exceed it instead.
package mmsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/taskgate/taskgate/task"
	"github.com/taskgate/taskgate/workerrunner/protocol"
)

// Druid's failure texts the simulator reports.
const (
	// ShutdownErrorMsg ends a task stopped by a shutdown request: the text
	// ForkingTaskRunner reports when the peon exits non-zero, with 143 (the
	// exit code of a process ended by SIGTERM).
	ShutdownErrorMsg = "Task execution process exited unsuccessfully with code[143]. See middleManager logs for more details."
	// DefaultFailureMsg ends a task whose simulate.result is FAILED without errorMsg.
	DefaultFailureMsg = "Task execution process exited unsuccessfully with code[1]. See middleManager logs for more details."
)

// ContextKeySimulate is the task context key read for the behaviour.
const ContextKeySimulate = "simulate"

// Config configures a simulated Middle Manager.
type Config struct {
	// Listen is the address to bind. Default "127.0.0.1:0" (a free port,
	// kept across restarts).
	Listen string
	// Host is the host name announced (worker host and task locations).
	// Default "127.0.0.1".
	Host string
	// Capacity is druid.worker.capacity. Default 2.
	Capacity int
	// Category is druid.worker.category. Default "_default_worker_category".
	Category string
	// Version is druid.worker.version. Default "0".
	Version string
	// TaskLogDir receives <taskId>.log, <taskId>.report.json and
	// <taskId>.status.json, FileTaskLogs' layout. Empty: nothing is written.
	TaskLogDir string
	// StartPort is the first fake peon port (druid.indexer.runner.startPort).
	// Default 8100.
	StartPort int
	// DefaultDuration and DefaultResult apply when a task's context has no
	// simulate settings. Defaults 100 ms and SUCCESS.
	DefaultDuration time.Duration
	DefaultResult   task.State
	// StartDelay is the time between accepting a task and its peon starting
	// (location known). Default 5 ms.
	StartDelay time.Duration
	// HistorySize is the change history length. Default 1000.
	HistorySize int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:0"
	}
	if c.Host == "" {
		c.Host = "127.0.0.1"
	}
	if c.Capacity == 0 {
		c.Capacity = 2
	}
	if c.Category == "" {
		c.Category = protocol.DefaultWorkerCategory
	}
	if c.Version == "" {
		c.Version = "0"
	}
	if c.StartPort == 0 {
		c.StartPort = 8100
	}
	if c.DefaultDuration == 0 {
		c.DefaultDuration = 100 * time.Millisecond
	}
	if c.DefaultResult == "" {
		c.DefaultResult = task.StateSuccess
	}
	if c.StartDelay == 0 {
		c.StartDelay = 5 * time.Millisecond
	}
	if c.HistorySize == 0 {
		c.HistorySize = protocol.DefaultHistorySize
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate checks the configuration after defaults.
func (c Config) Validate() error {
	d := c.withDefaults()
	switch {
	case d.Capacity < 1:
		return fmt.Errorf("mmsim config: Capacity must be at least 1, got %d", d.Capacity)
	case d.StartPort < 1 || d.StartPort > 65535:
		return fmt.Errorf("mmsim config: StartPort must be in 1..65535, got %d", d.StartPort)
	case d.DefaultDuration < 0 || d.StartDelay < 0:
		return errors.New("mmsim config: DefaultDuration and StartDelay must not be negative")
	case !d.DefaultResult.IsComplete():
		return fmt.Errorf("mmsim config: DefaultResult must be SUCCESS or FAILED, got %q", d.DefaultResult)
	case d.HistorySize < 1:
		return fmt.Errorf("mmsim config: HistorySize must be at least 1, got %d", d.HistorySize)
	}
	if _, _, err := net.SplitHostPort(d.Listen); err != nil {
		return fmt.Errorf("mmsim config: Listen %q: %w", d.Listen, err)
	}
	return nil
}

// Simulate is a task's context.simulate.
type Simulate struct {
	DurationMs *int64     `json:"durationMs"`
	Result     task.State `json:"result"`
	ErrorMsg   string     `json:"errorMsg"`
}

// Stats are counters over the simulator's lifetime (not reset by restarts).
type Stats struct {
	// Assigned counts accepted (new) assignments.
	Assigned int
	// Duplicates counts assignTask calls for an id already known.
	Duplicates int
	// OverCapacity counts accepted assignments that took the slots in use
	// past Capacity; a correct Overlord never causes one.
	OverCapacity int
	// MaxSlotsUsed is the most slots ever in use at once.
	MaxSlotsUsed int
	Succeeded    int
	Failed       int
	Shutdowns    int
}

type simTask struct {
	t        *task.Task
	sim      Simulate
	ann      protocol.TaskAnnouncement
	started  time.Time
	log      bytes.Buffer
	stop     chan struct{} // closed by shutdown
	stopOnce sync.Once
	done     bool
	running  bool // the peon "process" exists: log is served
}

// MM is one simulated Middle Manager.
type MM struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	addr     string // bound address, fixed after the first Start
	srv      *http.Server
	history  *protocol.ChangeHistory
	tasks    map[string]*simTask
	order    []string // assignment order, for stable full snapshots
	disabled bool
	nextPort int
	freePort []int
	stats    Stats
	gen      int // bumped on Stop/Kill so goroutines of lost tasks stop reporting
	serving  bool
}

// New returns a stopped simulator; call Start.
func New(cfg Config) (*MM, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := cfg.withDefaults()
	return &MM{cfg: d, log: d.Logger, tasks: map[string]*simTask{}, nextPort: d.StartPort}, nil
}

// Start binds (the same address as before on a restart) and serves. The
// change history starts empty, so a caller's old counter gets a reset; the
// worker starts enabled, as a real one does.
func (m *MM) Start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.serving {
		return errors.New("mmsim: already started")
	}
	addr := m.cfg.Listen
	if m.addr != "" {
		addr = m.addr
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("mmsim: listen on %s: %w", addr, err)
	}
	m.addr = ln.Addr().String()
	m.history = protocol.NewChangeHistory(m.cfg.HistorySize, m.cfg.Now)
	m.disabled = false
	m.srv = &http.Server{
		Handler:           protocol.NewHandler(service{m}, protocol.WithLogger(m.log)),
		ReadHeaderTimeout: 10 * time.Second,
	}
	m.serving = true
	srv := m.srv
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("mmsim serve", "addr", ln.Addr().String(), "err", err)
		}
	}()
	m.log.Info("simulated middle manager started", "addr", m.addr, "host", m.hostAndPortLocked(), "capacity", m.cfg.Capacity, "category", m.cfg.Category)
	return nil
}

// Stop shuts the server down gracefully (parked long polls get Druid's
// "Server is shutting down." 500). keepTasks true: every task is remembered
// and running ones keep running, as restorable tasks on a restarted Middle
// Manager; false: all tasks are forgotten, as if their peons died with it.
func (m *MM) Stop(ctx context.Context, keepTasks bool) error {
	m.mu.Lock()
	if !m.serving {
		m.mu.Unlock()
		return nil
	}
	srv, hist := m.srv, m.history
	m.serving = false
	if !keepTasks {
		m.forgetLocked()
	}
	m.mu.Unlock()
	hist.Close()
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("mmsim: stop: %w", err)
	}
	return nil
}

// Kill closes the listener and every connection at once and forgets every
// task, like a crashed Middle Manager whose peons died with it. Start brings
// it back empty on the same address.
func (m *MM) Kill() {
	m.mu.Lock()
	if !m.serving {
		m.mu.Unlock()
		return
	}
	srv, hist := m.srv, m.history
	m.serving = false
	m.forgetLocked()
	m.mu.Unlock()
	_ = srv.Close()
	hist.Close()
}

func (m *MM) forgetLocked() {
	m.gen++
	for _, st := range m.tasks {
		st.stopOnce.Do(func() { close(st.stop) })
	}
	m.tasks = map[string]*simTask{}
	m.order = nil
	m.nextPort = m.cfg.StartPort
	m.freePort = nil
}

// URL is the base URL ("http://127.0.0.1:port"); empty before Start.
func (m *MM) URL() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.addr == "" {
		return ""
	}
	return "http://" + m.addr
}

// HostAndPort is the announced host:port (Config.Host and the bound port).
func (m *MM) HostAndPort() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hostAndPortLocked()
}

func (m *MM) hostAndPortLocked() string {
	_, port, err := net.SplitHostPort(m.addr)
	if err != nil {
		return m.cfg.Host
	}
	return net.JoinHostPort(m.cfg.Host, port)
}

// Worker is the Druid Worker this simulator would announce.
func (m *MM) Worker() protocol.Worker {
	m.mu.Lock()
	defer m.mu.Unlock()
	return protocol.Worker{
		Scheme: "http", Host: m.hostAndPortLocked(), IP: m.cfg.Host,
		Capacity: m.cfg.Capacity, Version: m.cfg.Version, Category: m.cfg.Category,
	}
}

// Stats returns a copy of the counters.
func (m *MM) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// Announcement returns the current announcement of a task, if known.
func (m *MM) Announcement(taskID string) (protocol.TaskAnnouncement, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.tasks[taskID]
	if !ok {
		return protocol.TaskAnnouncement{}, false
	}
	return st.ann, true
}

// RemoveCompleted forgets a completed task and records a taskRemoval, as a
// real worker does once the Overlord has stored the result. It reports
// whether the task was known and complete.
func (m *MM) RemoveCompleted(taskID string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.tasks[taskID]
	if !ok || !st.done {
		return false
	}
	delete(m.tasks, taskID)
	for i, id := range m.order {
		if id == taskID {
			m.order = append(m.order[:i], m.order[i+1:]...)
			break
		}
	}
	m.history.Add(protocol.TaskRemoval(taskID))
	return true
}

func (m *MM) slotsUsedLocked() int {
	n := 0
	for _, st := range m.tasks {
		if !st.done {
			n += st.t.Resource.RequiredCapacity
		}
	}
	return n
}

func (m *MM) record(st *simTask) {
	m.history.Add(protocol.TaskUpdate(st.ann))
}

func parseSimulate(t *task.Task, def Config) (Simulate, time.Duration, error) {
	s := Simulate{Result: def.DefaultResult}
	raw, ok := t.Context[ContextKeySimulate]
	if ok && string(bytes.TrimSpace(raw)) != "null" {
		if err := json.Unmarshal(raw, &s); err != nil {
			return s, 0, &task.FieldError{Field: "context.simulate", Reason: err.Error()}
		}
		if s.Result == "" {
			s.Result = def.DefaultResult
		}
		if !s.Result.IsComplete() {
			return s, 0, &task.FieldError{Field: "context.simulate.result", Reason: fmt.Sprintf("must be SUCCESS or FAILED, got %q", s.Result)}
		}
	}
	d := def.DefaultDuration
	if s.DurationMs != nil {
		if *s.DurationMs < 0 {
			return s, 0, &task.FieldError{Field: "context.simulate.durationMs", Reason: "must not be negative"}
		}
		d = time.Duration(*s.DurationMs) * time.Millisecond
	}
	return s, d, nil
}

func (m *MM) assign(t *task.Task) error {
	sim, dur, err := parseSimulate(t, m.cfg)
	if err != nil {
		// A real MM accepts any task its Jackson mapper can read; the
		// simulator refuses behaviour it cannot follow, naming the field.
		return fmt.Errorf("assign task %s: %w", t.ID, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.serving {
		return errors.New("WorkerTaskManager is not started")
	}
	if _, ok := m.tasks[t.ID]; ok {
		m.stats.Duplicates++
		return nil
	}
	st := &simTask{t: t, sim: sim, stop: make(chan struct{})}
	st.ann = protocol.TaskAnnouncement{
		TaskType: t.Type, TaskStatus: task.Running(t.ID), TaskResource: t.Resource,
		TaskLocation: task.UnknownLocation(), TaskDataSource: t.DataSource,
	}
	m.tasks[t.ID] = st
	m.order = append(m.order, t.ID)
	m.stats.Assigned++
	used := m.slotsUsedLocked()
	if used > m.cfg.Capacity {
		m.stats.OverCapacity++
		m.log.Warn("assignment exceeds capacity", "task", t.ID, "slotsUsed", used, "capacity", m.cfg.Capacity)
	}
	if used > m.stats.MaxSlotsUsed {
		m.stats.MaxSlotsUsed = used
	}
	m.record(st) // before answering 200, as WorkerTaskManager.assignTask
	go m.run(st, dur, m.gen)
	return nil
}

func (m *MM) allocPortLocked() int {
	if n := len(m.freePort); n > 0 {
		sort.Ints(m.freePort)
		p := m.freePort[0]
		m.freePort = m.freePort[1:]
		return p
	}
	p := m.nextPort
	m.nextPort++
	return p
}

func (m *MM) logf(st *simTask, format string, args ...any) {
	fmt.Fprintf(&st.log, "%s INFO [task-runner] %s\n", m.cfg.Now().UTC().Format("2006-01-02T15:04:05,000"), fmt.Sprintf(format, args...))
}

// run is the fake peon: start, locate, sleep, finish.
func (m *MM) run(st *simTask, dur time.Duration, gen int) {
	select {
	case <-time.After(m.cfg.StartDelay):
	case <-st.stop:
	}
	m.mu.Lock()
	if gen != m.gen {
		m.mu.Unlock()
		return
	}
	port := m.allocPortLocked()
	st.started = m.cfg.Now()
	st.running = true
	m.logf(st, "Running task: %s (type %s)", st.t.ID, st.t.Type)
	if m.serving {
		m.record(st) // process started: RUNNING, location unknown
	}
	st.ann.TaskLocation = task.Location{Host: m.cfg.Host, Port: port, TLSPort: -1}
	if m.serving {
		m.record(st) // location known
	}
	m.mu.Unlock()

	shutdown := false
	timer := time.NewTimer(dur)
	select {
	case <-timer.C:
	case <-st.stop:
		timer.Stop()
		shutdown = true
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if gen != m.gen {
		return
	}
	elapsed := m.cfg.Now().Sub(st.started).Milliseconds()
	var status task.Status
	switch {
	case shutdown:
		status = task.Failure(st.t.ID, "%s", ShutdownErrorMsg)
		m.stats.Shutdowns++
	case st.sim.Result == task.StateFailed:
		msg := st.sim.ErrorMsg
		if msg == "" {
			msg = DefaultFailureMsg
		}
		status = task.Failure(st.t.ID, "%s", msg)
	default:
		status = task.Success(st.t.ID, elapsed)
	}
	status.Duration = elapsed
	if status.Status == task.StateSuccess {
		m.stats.Succeeded++
	} else {
		m.stats.Failed++
	}
	m.logf(st, "Task completed with status: %s", status.Status)
	st.ann.TaskStatus = status
	st.done = true
	st.running = false
	m.freePort = append(m.freePort, st.ann.TaskLocation.Port)
	if err := m.pushLogs(st); err != nil {
		m.log.Warn("push task logs", "task", st.t.ID, "err", err)
	}
	// A stopped simulator keeping its tasks records nothing: the next Start
	// begins a fresh history, and the full sync reports the final state.
	if m.serving {
		m.record(st)
	}
}

// pushLogs writes FileTaskLogs' files: <dir>/<id>.log, <id>.report.json and
// the peon's <id>.status.json.
func (m *MM) pushLogs(st *simTask) error {
	if m.cfg.TaskLogDir == "" {
		return nil
	}
	if err := os.MkdirAll(m.cfg.TaskLogDir, 0o755); err != nil {
		return fmt.Errorf("create task log dir %s: %w", m.cfg.TaskLogDir, err)
	}
	status, err := json.Marshal(st.ann.TaskStatus)
	if err != nil {
		return fmt.Errorf("encode status of %s: %w", st.t.ID, err)
	}
	report, err := json.Marshal(map[string]any{
		"ingestionStatsAndErrors": map[string]any{
			"type":   "ingestionStatsAndErrors",
			"taskId": st.t.ID,
			"payload": map[string]any{
				"ingestionState": "COMPLETED",
				"errorMsg":       nilIfEmpty(st.ann.TaskStatus.ErrorMsg),
			},
		},
	})
	if err != nil {
		return fmt.Errorf("encode report of %s: %w", st.t.ID, err)
	}
	files := []struct {
		name string
		data []byte
	}{
		{st.t.ID + ".log", st.log.Bytes()},
		{st.t.ID + ".report.json", report},
		{st.t.ID + ".status.json", status},
	}
	for _, f := range files {
		if err := writeFileAtomic(filepath.Join(m.cfg.TaskLogDir, f.name), f.data); err != nil {
			return err
		}
	}
	return nil
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}

// fullSnapshotLocked is WorkerTaskManager's answer to counter=-1.
func (m *MM) fullSnapshotLocked() protocol.ChangeRequestsSnapshot {
	items := []protocol.WorkerHistoryItem{protocol.Metadata(m.disabled)}
	for _, id := range m.order {
		items = append(items, protocol.TaskUpdate(m.tasks[id].ann))
	}
	return protocol.SuccessSnapshot(m.history.LastCounter(), items)
}

// service adapts MM to protocol.WorkerService.
type service struct{ m *MM }

func (s service) HostAndPort() string { return s.m.HostAndPort() }

func (s service) AssignTask(_ context.Context, t *task.Task) error { return s.m.assign(t) }

func (s service) Changes(ctx context.Context, since protocol.Counter) (protocol.ChangeRequestsSnapshot, error) {
	m := s.m
	m.mu.Lock()
	hist := m.history
	if since.Counter < 0 {
		defer m.mu.Unlock()
		return m.fullSnapshotLocked(), nil
	}
	m.mu.Unlock()
	return hist.Wait(ctx, since)
}

func (s service) ShutdownTask(_ context.Context, id string) error {
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if st, ok := m.tasks[id]; ok && !st.done {
		st.stopOnce.Do(func() { close(st.stop) })
	}
	return nil
}

func (s service) TaskLog(_ context.Context, id string, offset int64) (io.ReadCloser, error) {
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.tasks[id]
	if !ok || !st.running {
		return nil, fmt.Errorf("no running task %s on this worker: %w", id, protocol.ErrNotFound)
	}
	b := st.log.Bytes()
	b = sliceFromOffset(b, offset)
	return io.NopCloser(bytes.NewReader(append([]byte(nil), b...))), nil
}

// sliceFromOffset applies Druid's LogUtils offset rule: >0 skip that many
// bytes, <0 the last -offset bytes, 0 everything.
func sliceFromOffset(b []byte, offset int64) []byte {
	n := int64(len(b))
	switch {
	case offset > 0:
		if offset >= n {
			return nil
		}
		return b[offset:]
	case offset < 0:
		if -offset >= n {
			return b
		}
		return b[n+offset:]
	}
	return b
}

func (s service) Tasks(context.Context) ([]string, error) {
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []string
	for _, id := range m.order {
		if !m.tasks[id].done {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func (s service) Enabled(context.Context) (bool, error) {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	return !s.m.disabled, nil
}

func (s service) SetEnabled(_ context.Context, on bool) error {
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.disabled == !on {
		return nil
	}
	m.disabled = !on
	m.history.Add(protocol.Metadata(m.disabled))
	return nil
}

var _ protocol.WorkerService = service{}
