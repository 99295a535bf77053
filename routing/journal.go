package routing

import (
	"context"
	"errors"
	"fmt"

	"github.com/taskgate/taskgate/task"
)

// Journal keeps accepted tasks on durable storage until they have started,
// because runners may hold a task only in memory before that (the
// Kubernetes runner's capacity queue, the worker runner's pending queue).
// internal/journal.Dir implements it.
type Journal interface {
	Put(t *task.Task) error
	Delete(taskID string) error
	List() ([]*task.Task, error)
}

// WithJournal makes Hybrid journal every task it starts: written before
// the runner's Run, removed once the task has a location or a final status,
// and replayed by Restore for tasks no runner knows after a restart.
func WithJournal(j Journal) HybridOption {
	return func(h *Hybrid) { h.journal = j }
}

// journalEvent forgets a task once it has left every in-memory queue:
// it runs somewhere (a location) or it ended.
func (h *Hybrid) journalEvent(e Event) {
	started := e.Kind == EventLocationChanged && e.Location.Host != ""
	ended := e.Kind == EventStatusChanged && e.Status != nil && e.Status.Status.IsComplete()
	if !started && !ended {
		return
	}
	if err := h.journal.Delete(e.TaskID); err != nil {
		h.log.Warn("journal", "task", e.TaskID, "error", err)
	}
}

// replayJournal runs, after the runners restored, every journaled task
// that no runner knows: it was accepted before a restart and still waited
// in a runner's memory. Tasks a runner knows and that have started or
// ended are forgotten.
func (h *Hybrid) replayJournal(ctx context.Context) error {
	tasks, listErr := h.journal.List()
	replayed := 0
	var errs []error
	if listErr != nil {
		errs = append(errs, listErr)
	}
	for _, t := range tasks {
		if name, ok := h.knownBy(t.ID); ok {
			r, _ := h.runnerFor(Decision{Runner: name})
			if wi, ok := r.Get(t.ID); ok && (wi.Status != nil || wi.Location.Host != "") {
				_ = h.journal.Delete(t.ID)
			}
			continue
		}
		if _, _, err := h.Submit(ctx, t); err != nil {
			errs = append(errs, fmt.Errorf("replay journaled task %s: %w", t.ID, err))
			continue
		}
		replayed++
	}
	if replayed > 0 {
		h.log.InfoContext(ctx, "replayed tasks accepted before the restart that no runner knew", "tasks", replayed)
	}
	return errors.Join(errs...)
}
