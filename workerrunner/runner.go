package workerrunner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/taskgate/taskgate/internal/isoduration"
	"github.com/taskgate/taskgate/routing"
	"github.com/taskgate/taskgate/task"
	"github.com/taskgate/taskgate/workerrunner/protocol"
)

// Druid's failure texts (HttpRemoteTaskRunner, WorkerHolder).
const (
	msgDisappeared      = "This task disappeared on the worker where it was assigned. See overlord logs for more details."
	msgAssignTimeoutFmt = "The worker that this task is assigned did not start it in timeout[%s]. See overlord and middleManager/indexer logs for more details."
	msgCleanupFmt       = "The worker that this task was assigned disappeared and did not report cleanup within timeout[%s]. See overlord and middleManager/indexer logs for more details."
)

// StatusStore streams the logs of finished tasks (tasklogs.Store satisfies it).
type StatusStore interface {
	StreamLog(ctx context.Context, taskID string, offset int64) (io.ReadCloser, bool, error)
}

// Options are the runner's collaborators.
type Options struct {
	// Discovery finds workers; default: the static list of the Config.
	Discovery Discovery
	// Logs serves logs of finished tasks; nil: none.
	Logs   StatusStore
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

type itemState int

const (
	statePending itemState = iota
	stateAssigning
	stateRunning
	stateComplete
)

type item struct {
	id         string
	t          *task.Task // nil for a task adopted from a worker before Run
	taskType   string
	dataSource string
	state      itemState
	worker     string
	location   task.Location
	status     *task.Status
	created    time.Time
	queued     time.Time
	completed  time.Time
	acked      chan struct{} // closed when the item leaves PENDING/assigning
	shutdown   string        // reason, when Shutdown arrived while assigning
	restored   bool
}

type workerState struct {
	info        WorkerInfo
	client      *protocol.Client
	shutdownCli *protocol.Client
	disabled    bool
	initialized bool
	firstSync   chan struct{}
	tasks       map[string]protocol.TaskAnnouncement
	inflight    bool
	syncFailing bool
	failingAt   time.Time
	cleanup     *time.Timer
	blacklisted time.Time // zero: not blacklisted
	failures    int
	expected    map[string]bool // tasks believed running here when re-added
	cancel      context.CancelFunc
	done        chan struct{}
	removed     bool
}

func (w *workerState) used() (int, map[string]bool) {
	n, groups := 0, map[string]bool{}
	for _, a := range w.tasks {
		if a.State() == task.StateRunning {
			n += a.TaskResource.RequiredCapacity
			groups[a.TaskResource.AvailabilityGroup] = true
		}
	}
	return n, groups
}

// parallelUsed is the capacity taken by running index_parallel tasks.
func (w *workerState) parallelUsed() int {
	n := 0
	for _, a := range w.tasks {
		if a.State() == task.StateRunning && a.TaskType == TypeParallelIndex {
			n += a.TaskResource.RequiredCapacity
		}
	}
	return n
}

// Runner runs tasks on Middle Managers (routing.Runner "worker").
type Runner struct {
	cfg  Config
	disc Discovery
	logs StatusStore
	log  *slog.Logger
	now  func() time.Time

	mu      sync.Mutex
	started bool
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	workers map[string]*workerState
	// draining holds hosts that get no new task (see SetDraining).
	draining  map[string]bool
	items     map[string]*item
	pending   []*item
	inflight  int
	lostTasks map[string][]string // host → tasks running there when it was removed
	cleanups  map[string]*time.Timer

	listeners map[int]routing.Listener
	nextLID   int
	events    []routing.Event
	evSignal  chan struct{}

	wake chan struct{}
}

var _ routing.Runner = (*Runner)(nil)

// New returns a stopped runner; cfg must be valid.
func New(cfg Config, opts Options) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("worker runner config: %w", err)
	}
	r := &Runner{
		cfg: cfg, disc: opts.Discovery, logs: opts.Logs, log: opts.Logger, now: opts.Now,
		workers: map[string]*workerState{}, items: map[string]*item{}, lostTasks: map[string][]string{},
		cleanups: map[string]*time.Timer{}, listeners: map[int]routing.Listener{},
		evSignal: make(chan struct{}, 1), wake: make(chan struct{}, 1),
	}
	if r.disc == nil {
		if cfg.Discovery != DiscoveryStatic {
			return nil, errors.New("worker runner: Options.Discovery is required with k8s discovery (see NewK8sDiscovery)")
		}
		r.disc = NewStaticDiscovery(cfg)
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	r.log = r.log.With("runner", routing.RunnerWorker)
	if r.now == nil {
		r.now = time.Now
	}
	return r, nil
}

// Name is "worker".
func (r *Runner) Name() string { return routing.RunnerWorker }

// Start starts discovery, one sync loop per worker, the assignment loop and
// the blacklist review, then waits (up to StartSyncTimeout) for the first
// sync of every worker discovered at start, which adopts the tasks they run.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	if r.started {
		r.mu.Unlock()
		return errors.New("worker runner: already started")
	}
	r.started = true
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.mu.Unlock()

	r.wg.Add(3)
	go r.dispatchLoop()
	go r.assignLoop()
	go r.maintenanceLoop()
	if err := r.disc.Start(r.ctx, r); err != nil {
		return fmt.Errorf("worker runner: start discovery: %w", err)
	}
	r.mu.Lock()
	var waits []chan struct{}
	var hosts []string
	for h, w := range r.workers {
		waits = append(waits, w.firstSync)
		hosts = append(hosts, h)
	}
	r.mu.Unlock()
	deadline := time.NewTimer(r.cfg.StartSyncTimeout)
	defer deadline.Stop()
	for i, ch := range waits {
		select {
		case <-ch:
		case <-deadline.C:
			r.log.Warn("worker did not complete a first sync in time; starting without it", "worker", hosts[i], "timeout", r.cfg.StartSyncTimeout)
			return nil
		case <-ctx.Done():
			return fmt.Errorf("worker runner: wait for first sync of %s: %w", hosts[i], ctx.Err())
		}
	}
	return nil
}

// Stop stops every loop; tasks on workers are not touched.
func (r *Runner) Stop(ctx context.Context) error {
	r.mu.Lock()
	if !r.started || r.cancel == nil {
		r.mu.Unlock()
		return nil
	}
	r.cancel()
	for _, t := range r.cleanups {
		t.Stop()
	}
	for _, w := range r.workers {
		if w.cleanup != nil {
			w.cleanup.Stop()
		}
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("worker runner: stop: %w", ctx.Err())
	}
}

// Restore returns the tasks adopted from the workers' first syncs.
func (r *Runner) Restore(context.Context) ([]routing.WorkItem, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []routing.WorkItem
	for _, it := range r.items {
		if it.restored {
			out = append(out, r.workItemLocked(it))
		}
	}
	sortItems(out)
	return out, nil
}

// Run queues a task; a known id is a no-op (the payload is attached when
// the task was adopted from a worker without one).
func (r *Runner) Run(_ context.Context, t *task.Task) error {
	if t == nil || t.ID == "" {
		return errors.New("worker runner: run: task with an id is required")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if it, ok := r.items[t.ID]; ok {
		if it.t == nil {
			it.t = t
			it.taskType, it.dataSource = t.Type, t.DataSource
		}
		return nil
	}
	now := r.now()
	it := &item{id: t.ID, t: t, taskType: t.Type, dataSource: t.DataSource, state: statePending,
		location: task.UnknownLocation(), created: now, queued: now, acked: make(chan struct{})}
	r.items[t.ID] = it
	r.pending = append(r.pending, it)
	r.wakeLocked()
	return nil
}

// Shutdown stops a task: a queued one leaves the queue as FAILED
// "shutdown: <reason>"; a running one gets a shutdown call to its worker
// and ends through the worker's sync; unknown or finished: no-op.
func (r *Runner) Shutdown(ctx context.Context, taskID, reason string) error {
	r.mu.Lock()
	it, ok := r.items[taskID]
	if !ok || it.state == stateComplete {
		r.mu.Unlock()
		return nil
	}
	switch it.state {
	case statePending:
		r.removePendingLocked(it)
		r.completeLocked(it, task.Failure(taskID, "shutdown: %s", reason), "")
		r.mu.Unlock()
		return nil
	case stateAssigning:
		it.shutdown = reason
		r.mu.Unlock()
		return nil
	}
	w := r.workers[it.worker]
	r.mu.Unlock()
	if w == nil {
		return nil
	}
	return r.sendShutdown(ctx, w, taskID)
}

func (r *Runner) sendShutdown(ctx context.Context, w *workerState, taskID string) error {
	if err := w.shutdownCli.ShutdownTask(ctx, taskID); err != nil {
		r.log.Warn("shutdown task on worker failed", "task", taskID, "worker", w.info.Host, "err", err)
		return fmt.Errorf("shutdown task %s on worker %s: %w", taskID, w.info.Host, err)
	}
	return nil
}

func (r *Runner) shutdownAsync(w *workerState, taskID string) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		_ = r.sendShutdown(r.ctx, w, taskID)
	}()
}

// Get returns the work item of a task.
func (r *Runner) Get(taskID string) (routing.WorkItem, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	it, ok := r.items[taskID]
	if !ok {
		return routing.WorkItem{}, false
	}
	return r.workItemLocked(it), true
}

// StreamLog serves a running task's log from its worker and a finished
// task's log from the task log store.
func (r *Runner) StreamLog(ctx context.Context, taskID string, offset int64) (io.ReadCloser, bool, error) {
	r.mu.Lock()
	it, ok := r.items[taskID]
	var w *workerState
	if ok && it.state == stateRunning {
		w = r.workers[it.worker]
	}
	r.mu.Unlock()
	if w != nil {
		rc, err := w.client.TaskLog(ctx, taskID, offset)
		if err == nil {
			return rc, true, nil
		}
		if !errors.Is(err, protocol.ErrNotFound) {
			r.log.Debug("worker log unavailable, trying the task log store", "task", taskID, "err", err)
		}
	}
	if r.logs == nil {
		return nil, false, nil
	}
	rc, found, err := r.logs.StreamLog(ctx, taskID, offset)
	if err != nil {
		return nil, false, fmt.Errorf("stream log of %s from the task log store: %w", taskID, err)
	}
	return rc, found, nil
}

// Running lists RUNNING items.
func (r *Runner) Running() []routing.WorkItem {
	return r.list(func(it *item) bool { return it.state == stateRunning })
}

// Pending lists queued items and items being assigned.
func (r *Runner) Pending() []routing.WorkItem {
	return r.list(func(it *item) bool { return it.state == statePending || it.state == stateAssigning })
}

// Known lists every item, including finished ones still remembered.
func (r *Runner) Known() []routing.WorkItem { return r.list(func(*item) bool { return true }) }

func (r *Runner) list(keep func(*item) bool) []routing.WorkItem {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []routing.WorkItem
	for _, it := range r.items {
		if keep(it) {
			out = append(out, r.workItemLocked(it))
		}
	}
	sortItems(out)
	return out
}

func sortItems(out []routing.WorkItem) {
	sort.Slice(out, func(i, j int) bool {
		if !out[i].QueueInsertionTime.Equal(out[j].QueueInsertionTime) {
			return out[i].QueueInsertionTime.Before(out[j].QueueInsertionTime)
		}
		return out[i].TaskID < out[j].TaskID
	})
}

func (r *Runner) workItemLocked(it *item) routing.WorkItem {
	wi := routing.WorkItem{TaskID: it.id, TaskType: it.taskType, DataSource: it.dataSource, Runner: routing.RunnerWorker,
		Location: it.location, CreatedTime: it.created, QueueInsertionTime: it.queued}
	if it.t != nil {
		wi.GroupID = it.t.GroupID
	}
	switch it.state {
	case statePending, stateAssigning:
		wi.State = task.RunnerStatePending
	case stateRunning:
		wi.State = task.RunnerStateRunning
	default:
		wi.State = task.RunnerStateNone
		st := *it.status
		wi.Status = &st
	}
	return wi
}

// eligibleLocked: initialised, enabled, not draining, not blacklisted, syncing, no
// unacknowledged assignment, version high enough.
func (r *Runner) eligibleLocked(w *workerState, now time.Time) bool {
	return w.initialized && !w.disabled && !w.removed && !w.syncFailing && !w.inflight && !r.draining[w.info.Host] &&
		(w.blacklisted.IsZero() || !now.Before(w.blacklisted)) && w.info.Version >= r.cfg.MinWorkerVersion
}

// TotalSlots is the capacity of every worker, by category.
func (r *Runner) TotalSlots() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for _, w := range r.workers {
		out[w.info.Category] += w.info.Capacity
	}
	return out
}

// IdleSlots is the free capacity of eligible workers, by category, as HRTR
// (workers with an unacknowledged assignment count as not eligible).
func (r *Runner) IdleSlots() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	now := r.now()
	for _, w := range r.workers {
		if _, ok := out[w.info.Category]; !ok {
			out[w.info.Category] = 0
		}
		if r.eligibleLocked(w, now) {
			u, _ := w.used()
			if free := w.info.Capacity - u; free > 0 {
				out[w.info.Category] += free
			}
		}
	}
	return out
}

// UsedSlots is the capacity taken by running tasks, by category.
func (r *Runner) UsedSlots() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for _, w := range r.workers {
		u, _ := w.used()
		out[w.info.Category] += u
	}
	return out
}

// TotalCapacity sums worker capacities.
func (r *Runner) TotalCapacity() int {
	n := 0
	for _, v := range r.TotalSlots() {
		n += v
	}
	return n
}

// UsedCapacity sums used capacity.
func (r *Runner) UsedCapacity() int {
	n := 0
	for _, v := range r.UsedSlots() {
		n += v
	}
	return n
}

// Subscribe registers a listener; it first receives locationChanged for
// every running task, as HRTR's registerListener.
func (r *Runner) Subscribe(l routing.Listener) func() {
	r.mu.Lock()
	id := r.nextLID
	r.nextLID++
	var replay []routing.Event
	for _, it := range r.items {
		if it.state == stateRunning {
			replay = append(replay, routing.Event{Kind: routing.EventLocationChanged, TaskID: it.id, Runner: routing.RunnerWorker, Location: it.location, Time: r.now()})
		}
	}
	r.mu.Unlock()
	for _, e := range replay {
		l(e)
	}
	r.mu.Lock()
	r.listeners[id] = l
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		delete(r.listeners, id)
		r.mu.Unlock()
	}
}

func (r *Runner) emitLocked(e routing.Event) {
	e.Runner = routing.RunnerWorker
	e.Time = r.now()
	r.events = append(r.events, e)
	select {
	case r.evSignal <- struct{}{}:
	default:
	}
}

// dispatchLoop delivers events in the order they happened, outside the lock.
func (r *Runner) dispatchLoop() {
	defer r.wg.Done()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-r.evSignal:
		}
		r.mu.Lock()
		evs := r.events
		r.events = nil
		ls := make([]routing.Listener, 0, len(r.listeners))
		ids := make([]int, 0, len(r.listeners))
		for id := range r.listeners {
			ids = append(ids, id)
		}
		sort.Ints(ids)
		for _, id := range ids {
			ls = append(ls, r.listeners[id])
		}
		r.mu.Unlock()
		for _, e := range evs {
			for _, l := range ls {
				l(e)
			}
		}
	}
}

func (r *Runner) wakeLocked() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *Runner) removePendingLocked(it *item) {
	for i, p := range r.pending {
		if p == it {
			r.pending = append(r.pending[:i], r.pending[i+1:]...)
			return
		}
	}
}

// completeLocked ends an item with a final status, once.
func (r *Runner) completeLocked(it *item, st task.Status, worker string) {
	if it.state == stateComplete {
		if it.status.Status != st.Status {
			r.log.Warn("task already complete with another status", "task", it.id, "have", it.status.Status, "got", st.Status)
		}
		return
	}
	if it.state == statePending || it.state == stateAssigning {
		r.removePendingLocked(it)
		close(it.acked)
	}
	it.state = stateComplete
	if st.Location.IsUnknown() && !it.location.IsUnknown() {
		st.Location = it.location
	}
	it.status = &st
	it.completed = r.now()
	r.emitLocked(routing.Event{Kind: routing.EventStatusChanged, TaskID: it.id, Location: it.location, Status: &st})
	if w := r.workers[worker]; w != nil {
		r.updateBlacklistLocked(w, st.Status)
	}
	r.wakeLocked()
}

// updateBlacklistLocked applies Druid's rule: a success clears the count,
// a failure adds one; past maxRetriesBeforeBlacklist the worker is
// blacklisted while the blacklist stays under its percentage cap.
func (r *Runner) updateBlacklistLocked(w *workerState, s task.State) {
	now := r.now()
	if s == task.StateSuccess {
		w.failures = 0
		w.blacklisted = time.Time{}
		return
	}
	w.failures++
	if w.failures > r.cfg.MaxRetriesBeforeBlacklist && (w.blacklisted.IsZero() || !now.Before(w.blacklisted)) {
		if r.blacklistedCountLocked(now) < r.cfg.MaxPercentageBlacklistWorkers*len(r.workers)/100 {
			w.blacklisted = now.Add(r.cfg.WorkerBlackListBackoffTime)
			r.log.Warn("blacklisting worker", "worker", w.info.Host, "consecutiveFailures", w.failures, "until", w.blacklisted)
		}
	}
}

func (r *Runner) blacklistedCountLocked(now time.Time) int {
	n := 0
	for _, w := range r.workers {
		if !w.blacklisted.IsZero() && now.Before(w.blacklisted) {
			n++
		}
	}
	return n
}

// Blacklisted lists the hosts of blacklisted workers.
func (r *Runner) Blacklisted() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	var out []string
	for h, w := range r.workers {
		if !w.blacklisted.IsZero() && now.Before(w.blacklisted) {
			out = append(out, h)
		}
	}
	sort.Strings(out)
	return out
}

// maintenanceLoop reviews the blacklist (workerBlackListCleanupPeriod) and
// forgets old finished tasks.
func (r *Runner) maintenanceLoop() {
	defer r.wg.Done()
	period := r.cfg.WorkerBlackListCleanupPeriod
	if r.cfg.CompletedRetention < period {
		period = r.cfg.CompletedRetention
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		r.mu.Lock()
		now := r.now()
		over := r.blacklistedCountLocked(now) > r.cfg.MaxPercentageBlacklistWorkers*len(r.workers)/100
		for _, w := range r.workers {
			if !w.blacklisted.IsZero() && (over || !now.Before(w.blacklisted)) {
				w.blacklisted = time.Time{}
				w.failures = 0
				r.wakeLocked()
			}
		}
		r.pruneCompletedLocked(now)
		r.mu.Unlock()
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Runner) pruneCompletedLocked(now time.Time) {
	var done []*item
	for _, it := range r.items {
		if it.state == stateComplete {
			if now.Sub(it.completed) > r.cfg.CompletedRetention {
				delete(r.items, it.id)
				continue
			}
			done = append(done, it)
		}
	}
	if len(done) > r.cfg.CompletedMax {
		sort.Slice(done, func(i, j int) bool { return done[i].completed.Before(done[j].completed) })
		for _, it := range done[:len(done)-r.cfg.CompletedMax] {
			delete(r.items, it.id)
		}
	}
}

// assignLoop hands pending tasks to workers: highest priority first, then
// arrival order; a task no worker can take does not hold back the others.
func (r *Runner) assignLoop() {
	defer r.wg.Done()
	for {
		r.mu.Lock()
		r.assignLocked()
		r.mu.Unlock()
		select {
		case <-r.ctx.Done():
			return
		case <-r.wake:
		case <-time.After(time.Minute):
		}
	}
}

func (r *Runner) assignLocked() {
	if len(r.pending) == 0 || r.inflight >= r.cfg.PendingTasksRunnerNumThreads {
		return
	}
	now := r.now()
	var cands []candidate
	usedByType, totalCapacity := map[string]int{}, 0
	for h, w := range r.workers {
		if r.eligibleLocked(w, now) {
			totalCapacity += w.info.Capacity
			for _, a := range w.tasks {
				if a.State() == task.StateRunning {
					usedByType[a.TaskType] += a.TaskResource.RequiredCapacity
				}
			}
			// Full workers are left out so that a long queue against a
			// busy cluster costs one pass over the workers, not one per task.
			if u, g := w.used(); u < w.info.Capacity {
				cands = append(cands, candidate{host: h, category: w.info.Category, capacity: w.info.Capacity, used: u, groups: g, version: w.info.Version,
					parallelUsed: w.parallelUsed(), eligibleW: w})
			}
		}
	}
	if len(cands) == 0 {
		return
	}
	order := make([]*item, len(r.pending))
	copy(order, r.pending)
	sort.SliceStable(order, func(i, j int) bool { return order[i].t.Priority > order[j].t.Priority })
	for _, it := range order {
		if r.inflight >= r.cfg.PendingTasksRunnerNumThreads || len(cands) == 0 {
			return
		}
		if it.state != statePending {
			continue
		}
		needs := taskNeeds{taskType: it.t.Type, dataSource: it.dataSource, req: it.t.Resource.RequiredCapacity, group: it.t.Resource.AvailabilityGroup,
			supervisorID: supervisorID(it.t), typeUsed: usedByType[it.t.Type], totalCapacity: totalCapacity}
		c := r.cfg.SelectStrategy.pick(cands, needs, r.cfg.MinWorkerVersion, r.cfg.ParallelIndexTaskSlotRatio)
		if c == nil {
			continue
		}
		w := c.eligibleW
		for i := range cands {
			if cands[i].host == c.host {
				cands = append(cands[:i], cands[i+1:]...)
				break
			}
		}
		// Count the assignment now, so one pass cannot overshoot a limit.
		usedByType[it.t.Type] += needs.req
		w.inflight = true
		r.inflight++
		it.state = stateAssigning
		it.worker = w.info.Host
		r.removePendingLocked(it)
		r.wg.Add(1)
		go r.assign(w, it)
	}
}

// assign sends one task to one worker and waits for the worker's sync to
// report it. As HRTR, a call that failed every attempt is treated as
// assigned ("not sure whether the task was assigned"): the acknowledgement
// wait then decides.
func (r *Runner) assign(w *workerState, it *item) {
	defer r.wg.Done()
	defer func() {
		r.mu.Lock()
		w.inflight = false
		r.inflight--
		r.wakeLocked()
		r.mu.Unlock()
	}()
	if err := w.client.AssignTask(r.ctx, it.t.Raw()); err != nil {
		if r.ctx.Err() != nil {
			return
		}
		r.log.Warn("assignTask failed; not sure whether the task was assigned, waiting for the worker to report it", "task", it.id, "worker", w.info.Host, "err", err)
	}
	timer := time.NewTimer(r.cfg.TaskAssignmentTimeout)
	defer timer.Stop()
	select {
	case <-it.acked:
	case <-r.ctx.Done():
		return
	case <-timer.C:
		r.mu.Lock()
		if it.state == stateAssigning {
			r.log.Error("worker did not acknowledge the task in time", "task", it.id, "worker", w.info.Host, "timeout", r.cfg.TaskAssignmentTimeout)
			r.completeLocked(it, task.Failure(it.id, msgAssignTimeoutFmt, isoduration.Format(r.cfg.TaskAssignmentTimeout)), "")
		}
		r.mu.Unlock()
	}
}

// supervisorID is the supervisorId of a streaming task (Druid's
// SeekableStreamIndexTask), which the category spec may route on.
func supervisorID(t *task.Task) string {
	switch t.Type {
	case "index_kafka", "index_kinesis", "index_rabbit_stream":
	default:
		return ""
	}
	var v struct {
		SupervisorID string `json:"supervisorId"`
	}
	_ = json.Unmarshal(t.Raw(), &v) // the task parsed once already; a missing field is ""
	return v.SupervisorID
}
