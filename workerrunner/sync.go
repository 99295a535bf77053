package workerrunner

import (
	"context"
	"math"
	"time"

	"github.com/taskgate/taskgate/internal/isoduration"
	"github.com/taskgate/taskgate/routing"
	"github.com/taskgate/taskgate/task"
	"github.com/taskgate/taskgate/workerrunner/protocol"
)

// WorkerAdded starts tracking a worker (DiscoverySink). A worker that comes
// back before its cleanup timeout keeps its tasks: the first full sync
// fails those it no longer knows.
func (r *Runner) WorkerAdded(info WorkerInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx == nil || r.ctx.Err() != nil {
		return
	}
	if old, ok := r.workers[info.Host]; ok {
		if old.info == info {
			return
		}
		r.stopWorkerLocked(old)
	}
	mk := func(attempts int, timeout time.Duration) (*protocol.Client, error) {
		return protocol.NewClient(protocol.ClientConfig{
			BaseURL: info.URL(), Attempts: attempts, RequestTimeout: timeout,
			RetryWaitMin: r.cfg.SyncBackoffMin, RetryWaitMax: r.cfg.SyncBackoffMax,
			Username: r.cfg.Username, Password: r.cfg.Password, Logger: r.log, Smile: r.cfg.Smile,
		})
	}
	c, err := mk(r.cfg.AssignRequestMaxRetries, r.cfg.AssignRequestHTTPTimeout)
	if err != nil {
		r.log.Error("ignoring worker with a bad address", "worker", info.Host, "err", err)
		return
	}
	sc, err := mk(r.cfg.ShutdownRequestMaxRetries, r.cfg.ShutdownRequestHTTPTimeout)
	if err != nil {
		r.log.Error("ignoring worker with a bad address", "worker", info.Host, "err", err)
		return
	}
	w := &workerState{info: info, client: c, shutdownCli: sc, disabled: true, firstSync: make(chan struct{}),
		tasks: map[string]protocol.TaskAnnouncement{}, done: make(chan struct{})}
	if t, ok := r.cleanups[info.Host]; ok {
		t.Stop()
		delete(r.cleanups, info.Host)
	}
	if ids, ok := r.lostTasks[info.Host]; ok {
		w.expected = map[string]bool{}
		for _, id := range ids {
			w.expected[id] = true
		}
		delete(r.lostTasks, info.Host)
	}
	ctx, cancel := context.WithCancel(r.ctx)
	w.cancel = cancel
	r.workers[info.Host] = w
	r.log.Info("worker added", "worker", info.Host, "capacity", info.Capacity, "category", info.Category, "version", info.Version)
	r.wg.Add(1)
	go r.syncLoop(ctx, w)
}

// WorkerRemoved stops a worker's sync and fails its tasks after
// taskCleanupTimeout unless it comes back (DiscoverySink).
func (r *Runner) WorkerRemoved(host string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w, ok := r.workers[host]
	if !ok {
		return
	}
	r.stopWorkerLocked(w)
	delete(r.workers, host)
	var ids []string
	for _, it := range r.items {
		if it.worker == host && (it.state == stateRunning) {
			ids = append(ids, it.id)
		}
	}
	r.lostTasks[host] = ids
	r.log.Warn("worker removed; its tasks fail unless it returns in time", "worker", host, "tasks", len(ids), "timeout", r.cfg.TaskCleanupTimeout)
	r.cleanups[host] = time.AfterFunc(r.cfg.TaskCleanupTimeout, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if _, back := r.workers[host]; back {
			return
		}
		delete(r.cleanups, host)
		delete(r.lostTasks, host)
		r.failTasksOnLocked(host)
	})
	r.wakeLocked()
}

func (r *Runner) stopWorkerLocked(w *workerState) {
	w.removed = true
	w.cancel()
	if w.cleanup != nil {
		w.cleanup.Stop()
	}
}

// failTasksOnLocked fails every unfinished task believed to run on host.
func (r *Runner) failTasksOnLocked(host string) {
	for _, it := range r.items {
		if it.worker == host && it.state == stateRunning {
			r.completeLocked(it, task.Failure(it.id, msgCleanupFmt, isoduration.Format(r.cfg.TaskCleanupTimeout)), "")
		}
	}
}

// syncLoop is one worker's long poll: counter=-1 first and after a reset,
// then back to back from the last counter; failures back off (1 s doubling,
// cap 2 min) keeping the counter.
func (r *Runner) syncLoop(ctx context.Context, w *workerState) {
	defer r.wg.Done()
	var counter *protocol.Counter
	failures := 0
	for ctx.Err() == nil {
		snap, err := w.client.Sync(ctx, counter, r.cfg.SyncRequestTimeout)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			failures++
			r.syncFailed(w, failures, err)
			if !sleepCtx(ctx, backoff(r.cfg.SyncBackoffMin, r.cfg.SyncBackoffMax, failures)) {
				return
			}
			continue
		}
		failures = 0
		if snap == nil {
			r.syncOK(w)
			continue
		}
		if snap.ResetCounter {
			r.log.Info("worker reset the sync counter; full resync", "worker", w.info.Host, "cause", snap.ResetCause)
			counter = nil
			continue
		}
		r.apply(w, snap, counter == nil)
		c := *snap.Counter
		counter = &c
	}
}

func backoff(base, max time.Duration, n int) time.Duration {
	d := float64(base) * math.Pow(2, float64(n-1))
	if d > float64(max) {
		return max
	}
	return time.Duration(d)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// syncFailed marks the worker unusable and, on the first failure, starts
// the cleanup timer: a static worker never leaves discovery, so a worker
// whose sync keeps failing for taskCleanupTimeout is treated as gone.
func (r *Runner) syncFailed(w *workerState, n int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if w.removed {
		return
	}
	if !w.syncFailing {
		w.syncFailing = true
		w.failingAt = r.now()
		r.log.Warn("worker sync failing", "worker", w.info.Host, "err", err)
		w.cleanup = time.AfterFunc(r.cfg.TaskCleanupTimeout, func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			if !w.syncFailing || w.removed {
				return
			}
			r.log.Warn("worker unreachable past the cleanup timeout; failing its tasks", "worker", w.info.Host, "since", w.failingAt)
			r.failTasksOnLocked(w.info.Host)
		})
	} else {
		r.log.Debug("worker sync still failing", "worker", w.info.Host, "failures", n, "err", err)
	}
}

func (r *Runner) syncOK(w *workerState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.syncOKLocked(w)
}

func (r *Runner) syncOKLocked(w *workerState) {
	if w.syncFailing {
		w.syncFailing = false
		if w.cleanup != nil {
			w.cleanup.Stop()
			w.cleanup = nil
		}
		r.log.Info("worker sync recovered", "worker", w.info.Host)
		r.wakeLocked()
	}
}

// apply applies a full or delta snapshot as Druid's WorkerHolder does.
func (r *Runner) apply(w *workerState, snap *protocol.ChangeRequestsSnapshot, full bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if w.removed {
		return
	}
	r.syncOKLocked(w)
	disabled := w.disabled
	if full {
		newTasks := map[string]protocol.TaskAnnouncement{}
		for _, it := range snap.Requests {
			switch it.Type {
			case protocol.ItemTaskUpdate:
				newTasks[it.TaskAnnouncement.ID()] = *it.TaskAnnouncement
			case protocol.ItemMetadata:
				disabled = it.Disabled
			}
		}
		prev := w.tasks
		w.tasks = newTasks
		first := !w.initialized
		for _, it := range snap.Requests {
			if it.Type == protocol.ItemTaskUpdate {
				r.announcedLocked(w, *it.TaskAnnouncement, first)
			}
		}
		gone := map[string]bool{}
		for id, a := range prev {
			if !a.State().IsComplete() {
				gone[id] = true
			}
		}
		for id := range w.expected {
			gone[id] = true
		}
		// Tasks this runner placed here whose assignment the worker has not
		// reported count as expected too: a worker that restarted empty
		// will never report them.
		for _, it := range r.items {
			if it.worker == w.info.Host && it.state == stateRunning {
				gone[it.id] = true
			}
		}
		for id := range gone {
			if _, ok := newTasks[id]; !ok {
				r.disappearedLocked(w, id)
			}
		}
		w.expected = nil
	} else {
		for _, it := range snap.Requests {
			switch it.Type {
			case protocol.ItemTaskUpdate:
				a := *it.TaskAnnouncement
				w.tasks[a.ID()] = a
				r.announcedLocked(w, a, false)
			case protocol.ItemTaskRemoval:
				a, ok := w.tasks[it.TaskID]
				delete(w.tasks, it.TaskID)
				if ok && !a.State().IsComplete() {
					r.disappearedLocked(w, it.TaskID)
				}
			case protocol.ItemMetadata:
				disabled = it.Disabled
			default:
				r.log.Warn("ignoring unknown worker history item", "worker", w.info.Host, "type", it.Type)
			}
		}
	}
	w.disabled = disabled
	if !w.initialized {
		w.initialized = true
		close(w.firstSync)
		r.log.Info("worker synced", "worker", w.info.Host, "tasks", len(w.tasks), "disabled", w.disabled)
	}
	r.wakeLocked()
}

func (r *Runner) disappearedLocked(w *workerState, id string) {
	it, ok := r.items[id]
	if !ok || it.worker != w.info.Host || it.state != stateRunning {
		return
	}
	r.completeLocked(it, task.Failure(id, "%s", msgDisappeared), w.info.Host)
}

// announcedLocked is HRTR's taskAddedOrUpdated (section 2.9) for taskgate,
// which has no task storage: a running task nobody asked for is adopted
// (so a restarted gateway re-attaches instead of re-running it); a
// finished one is adopted only during the worker's first sync, so the
// result of a task that ended while the gateway was down is not lost.
func (r *Runner) announcedLocked(w *workerState, a protocol.TaskAnnouncement, firstSync bool) {
	id := a.ID()
	it, ok := r.items[id]
	if !ok {
		if a.State().IsComplete() && !firstSync {
			return
		}
		now := r.now()
		it = &item{id: id, taskType: a.TaskType, dataSource: a.TaskDataSource, state: stateRunning, worker: w.info.Host,
			location: task.UnknownLocation(), created: now, queued: now, acked: make(chan struct{}), restored: firstSync}
		close(it.acked)
		r.items[id] = it
		r.log.Info("adopted task from worker", "task", id, "worker", w.info.Host, "status", a.State())
		r.setLocationLocked(it, a.TaskLocation)
	}
	switch it.state {
	case statePending, stateAssigning:
		if it.state == statePending {
			r.removePendingLocked(it)
		}
		it.state = stateRunning
		it.worker = w.info.Host
		close(it.acked)
		if it.shutdown != "" {
			r.shutdownAsync(w, id)
		}
	case stateRunning:
		if it.worker != w.info.Host {
			if !a.State().IsComplete() {
				r.log.Warn("task runs on a second worker; shutting that copy down", "task", id, "worker", w.info.Host, "owner", it.worker)
				r.shutdownAsync(w, id)
			}
			return
		}
	case stateComplete:
		if !a.State().IsComplete() && it.worker == w.info.Host {
			r.shutdownAsync(w, id)
		}
		return
	}
	r.setLocationLocked(it, a.TaskLocation)
	if a.State().IsComplete() {
		r.completeLocked(it, a.TaskStatus, w.info.Host)
	}
}

func (r *Runner) setLocationLocked(it *item, loc task.Location) {
	if loc == it.location {
		return
	}
	it.location = loc
	r.emitLocked(routing.Event{Kind: routing.EventLocationChanged, TaskID: it.id, Location: loc})
}
