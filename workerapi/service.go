// Package workerapi lets an unmodified Druid Overlord use taskgate as a
// worker: it serves the Middle Manager HTTP API (assignTask, the sync long
// poll, shutdown, logs, enable/disable; Smile or JSON, see
// workerrunner/protocol) from the gateway's runner, and announces the
// gateway as a middleManager through Druid's Kubernetes node discovery
// (Announcer). An Overlord with druid.indexer.runner.type=httpRemote then
// assigns its tasks to taskgate, which routes each to Kubernetes or to a
// Middle Manager and reports it back with the peon's real location.
//
// The Overlord must see taskgate as its only worker and be its only client:
// the service reports every task the gateway runs, and an Overlord shuts
// down running tasks it does not know (docs/migration.md).
package workerapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/taskgate/taskgate/routing"
	"github.com/taskgate/taskgate/task"
	"github.com/taskgate/taskgate/workerrunner/protocol"
)

// Runner is what the service needs from the gateway's runner
// (routing.Hybrid satisfies it).
type Runner interface {
	Run(ctx context.Context, t *task.Task) error
	Shutdown(ctx context.Context, taskID, reason string) error
	Get(taskID string) (routing.WorkItem, bool)
	Known() []routing.WorkItem
	StreamLog(ctx context.Context, taskID string, offset int64) (io.ReadCloser, bool, error)
	Subscribe(l routing.Listener) (unsubscribe func())
}

// Defaults of Config.
const (
	DefaultCapacity           = 1000
	DefaultVersion            = "0"
	DefaultCompletedRetention = 15 * time.Minute
)

// Config configures the Service.
type Config struct {
	// HostAndPort is the address the Overlord reaches this API at (the
	// worker's "host"); required, e.g. "taskgate-0.taskgate.druid.svc:8091".
	HostAndPort string
	// IP is announced as the worker's ip; default: HostAndPort's host.
	IP string
	// Capacity is the worker capacity announced to the Overlord; default
	// DefaultCapacity. The Overlord assigns no more than this many tasks at
	// once; taskgate's own runners queue beyond their slots.
	Capacity int
	// Category is the worker category (default Druid's
	// "_default_worker_category").
	Category string
	// Version is druid.worker.version as announced (default "0"); it must be
	// at least the Overlord's minWorkerVersion.
	Version string
	// CompletedRetention is how long a completed task stays in the sync
	// state before a taskRemoval drops it (default 15 minutes), as a
	// Middle Manager forgets completed tasks once the Overlord has them.
	CompletedRetention time.Duration
	// HistorySize bounds the sync change history (default Druid's 1000).
	HistorySize int
	Logger      *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Validate checks c.
func (c Config) Validate() error {
	if c.HostAndPort == "" {
		return errors.New("worker API: host:port is required (taskgate.workerApi.host)")
	}
	host, port, err := net.SplitHostPort(c.HostAndPort)
	if err != nil || host == "" {
		return fmt.Errorf("worker API: host:port %q: must be host:port", c.HostAndPort)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("worker API: host:port %q: port must be 1..65535", c.HostAndPort)
	}
	if c.Capacity < 0 {
		return fmt.Errorf("worker API: capacity must be >= 0 (0 = default %d), got %d", DefaultCapacity, c.Capacity)
	}
	if c.CompletedRetention < 0 {
		return errors.New("worker API: completed retention must not be negative")
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.IP == "" {
		c.IP, _, _ = net.SplitHostPort(c.HostAndPort)
	}
	if c.Capacity == 0 {
		c.Capacity = DefaultCapacity
	}
	if c.Category == "" {
		c.Category = protocol.DefaultWorkerCategory
	}
	if c.Version == "" {
		c.Version = DefaultVersion
	}
	if c.CompletedRetention == 0 {
		c.CompletedRetention = DefaultCompletedRetention
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Service is a protocol.WorkerService over the gateway's runner.
type Service struct {
	cfg     Config
	runner  Runner
	log     *slog.Logger
	history *protocol.ChangeHistory

	mu        sync.Mutex
	anns      map[string]*entry
	order     []string // ids in first-seen order, for full snapshots
	disabled  bool
	started   bool
	unsub     func()
	stop      chan struct{}
	loopDone  chan struct{}
	pruneTick time.Duration
}

type entry struct {
	ann       protocol.TaskAnnouncement
	completed time.Time // zero while not complete
}

var _ protocol.WorkerService = (*Service)(nil)

// New returns a stopped service; Start it before serving.
func New(cfg Config, runner Runner) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if runner == nil {
		return nil, errors.New("worker API: runner is nil")
	}
	cfg = cfg.withDefaults()
	return &Service{cfg: cfg, runner: runner, log: cfg.Logger.With("component", "workerapi"),
		history: protocol.NewChangeHistory(cfg.HistorySize, cfg.Now), anns: map[string]*entry{}, pruneTick: time.Minute}, nil
}

// Worker is how the service describes itself (the Overlord's Worker).
func (s *Service) Worker() protocol.Worker {
	return protocol.Worker{Scheme: "http", Host: s.cfg.HostAndPort, IP: s.cfg.IP, Capacity: s.cfg.Capacity, Version: s.cfg.Version, Category: s.cfg.Category}
}

// Start loads every task the runner knows (so the first full sync after a
// gateway restart lists them all: the Overlord fails any task missing from
// it) and follows the runner's events. Call it after the runner restored.
func (s *Service) Start(context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("worker API: already started")
	}
	s.started = true
	s.stop, s.loopDone = make(chan struct{}), make(chan struct{})
	s.mu.Unlock()
	// Subscribe first so no change between the listing and the subscription
	// is lost; an event for a task the listing also had only updates it.
	unsub := s.runner.Subscribe(s.onEvent)
	for _, wi := range s.runner.Known() {
		s.observe(wi)
	}
	s.mu.Lock()
	s.unsub = unsub
	s.mu.Unlock()
	go s.pruneLoop()
	return nil
}

// Stop stops following the runner and wakes parked syncs.
func (s *Service) Stop() {
	s.mu.Lock()
	if !s.started || s.unsub == nil {
		s.mu.Unlock()
		return
	}
	unsub := s.unsub
	s.unsub = nil
	close(s.stop)
	s.mu.Unlock()
	unsub()
	<-s.loopDone
	s.history.Close()
}

// observe records a work item's state (used for the initial listing).
func (s *Service) observe(wi routing.WorkItem) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entryLocked(wi.TaskID, wi.TaskType, wi.DataSource, task.Resource{})
	if wi.Status != nil && wi.Status.Status.IsComplete() {
		s.completeLocked(e, *wi.Status, wi.Location)
		return
	}
	if wi.Location != e.ann.TaskLocation {
		e.ann.TaskLocation = wi.Location
		s.history.Add(protocol.TaskUpdate(e.ann))
	}
}

// entryLocked returns the task's entry, creating a RUNNING one with an
// unknown location (recorded in the history) when there is none.
func (s *Service) entryLocked(id, taskType, dataSource string, res task.Resource) *entry {
	if e, ok := s.anns[id]; ok {
		return e
	}
	if res.AvailabilityGroup == "" {
		res.AvailabilityGroup = id
	}
	if res.RequiredCapacity == 0 {
		res.RequiredCapacity = 1
	}
	e := &entry{ann: protocol.TaskAnnouncement{
		TaskType:       taskType,
		TaskStatus:     task.Status{ID: id, Status: task.StateRunning, Duration: -1, Location: task.UnknownLocation()},
		TaskResource:   res,
		TaskLocation:   task.UnknownLocation(),
		TaskDataSource: dataSource,
	}}
	s.anns[id] = e
	s.order = append(s.order, id)
	s.history.Add(protocol.TaskUpdate(e.ann))
	return e
}

func (s *Service) completeLocked(e *entry, st task.Status, loc task.Location) {
	if !e.completed.IsZero() {
		return
	}
	if loc != (task.Location{}) && loc != task.UnknownLocation() {
		e.ann.TaskLocation = loc
	}
	st.Location = e.ann.TaskLocation
	e.ann.TaskStatus = st
	e.completed = s.cfg.Now()
	s.history.Add(protocol.TaskUpdate(e.ann))
}

// onEvent is the runner listener: it must not block, and does not (a map
// update and a history append under one lock).
func (s *Service) onEvent(ev routing.Event) {
	s.mu.Lock()
	_, known := s.anns[ev.TaskID]
	s.mu.Unlock()
	var wi routing.WorkItem
	if !known {
		// Started through another path, or its event overtook AssignTask.
		// Asked outside the lock: a runner may hold its own while it calls.
		wi, _ = s.runner.Get(ev.TaskID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entryLocked(ev.TaskID, wi.TaskType, wi.DataSource, task.Resource{})
	switch ev.Kind {
	case routing.EventLocationChanged:
		if e.completed.IsZero() && ev.Location != e.ann.TaskLocation {
			e.ann.TaskLocation = ev.Location
			s.history.Add(protocol.TaskUpdate(e.ann))
		}
	case routing.EventStatusChanged:
		if ev.Status != nil && ev.Status.Status.IsComplete() {
			s.completeLocked(e, *ev.Status, ev.Location)
		}
	}
}

func (s *Service) pruneLoop() {
	defer close(s.loopDone)
	t := time.NewTicker(s.pruneTick)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.prune()
		}
	}
}

// prune drops completed tasks older than the retention with a taskRemoval.
func (s *Service) prune() {
	s.mu.Lock()
	defer s.mu.Unlock()
	cutoff := s.cfg.Now().Add(-s.cfg.CompletedRetention)
	kept := s.order[:0]
	for _, id := range s.order {
		e := s.anns[id]
		if !e.completed.IsZero() && e.completed.Before(cutoff) {
			delete(s.anns, id)
			s.history.Add(protocol.TaskRemoval(id))
			continue
		}
		kept = append(kept, id)
	}
	s.order = kept
}

// HostAndPort implements protocol.WorkerService.
func (s *Service) HostAndPort() string { return s.cfg.HostAndPort }

// AssignTask implements protocol.WorkerService: the task is routed and
// started, and its RUNNING update recorded before the Overlord hears 200.
func (s *Service) AssignTask(ctx context.Context, t *task.Task) error {
	s.mu.Lock()
	if _, ok := s.anns[t.ID]; ok {
		s.mu.Unlock()
		return nil
	}
	disabled := s.disabled
	s.mu.Unlock()
	if disabled {
		// A disabled Middle Manager still accepts what the Overlord sends
		// (the Overlord stops sending); taskgate does the same.
		s.log.Warn("task assigned while disabled; running it", "task", t.ID)
	}
	if err := s.runner.Run(ctx, t); err != nil {
		return fmt.Errorf("run task %s: %w", t.ID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entryLocked(t.ID, t.Type, t.DataSource, t.Resource)
	// An event may have created the entry first, without the payload's
	// details; later updates carry these.
	e.ann.TaskType, e.ann.TaskDataSource = t.Type, t.DataSource
	if t.Resource.RequiredCapacity > 0 {
		e.ann.TaskResource = t.Resource
	}
	return nil
}

// Changes implements protocol.WorkerService.
func (s *Service) Changes(ctx context.Context, since protocol.Counter) (protocol.ChangeRequestsSnapshot, error) {
	if since.Counter < 0 {
		s.mu.Lock()
		defer s.mu.Unlock()
		items := []protocol.WorkerHistoryItem{protocol.Metadata(s.disabled)}
		for _, id := range s.order {
			items = append(items, protocol.TaskUpdate(s.anns[id].ann))
		}
		return protocol.SuccessSnapshot(s.history.LastCounter(), items), nil
	}
	return s.history.Wait(ctx, since)
}

// ShutdownTask implements protocol.WorkerService.
func (s *Service) ShutdownTask(ctx context.Context, taskID string) error {
	return s.runner.Shutdown(ctx, taskID, "shutdown requested by the Overlord")
}

// TaskLog implements protocol.WorkerService.
func (s *Service) TaskLog(ctx context.Context, taskID string, offset int64) (io.ReadCloser, error) {
	rc, ok, err := s.runner.StreamLog(ctx, taskID, offset)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("no log for task %s: %w", taskID, protocol.ErrNotFound)
	}
	return rc, nil
}

// Tasks implements protocol.WorkerService: ids not yet complete.
func (s *Service) Tasks(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := []string{}
	for _, id := range s.order {
		if s.anns[id].completed.IsZero() {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// Enabled implements protocol.WorkerService.
func (s *Service) Enabled(context.Context) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.disabled, nil
}

// SetEnabled implements protocol.WorkerService.
func (s *Service) SetEnabled(_ context.Context, enabled bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.disabled == !enabled {
		return nil
	}
	s.disabled = !enabled
	s.history.Add(protocol.Metadata(s.disabled))
	return nil
}
