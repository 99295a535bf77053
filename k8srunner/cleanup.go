package k8srunner

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/labels"
)

// cleanupLoop is the runner's one ticker: every taskCleanupInterval it
// deletes finished peon Jobs older than taskCleanupDelay (unless debugJobs)
// and forgets finished tasks past their retention.
func (r *Runner) cleanupLoop() {
	t := time.NewTicker(r.cfg.TaskCleanupInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stopCh:
			return
		case <-t.C:
			r.cleanup(context.Background())
		}
	}
}

// cleanup runs one cleanup pass and returns how many Jobs it deleted. It
// reads the informer cache, so a pass costs no LIST.
func (r *Runner) cleanup(ctx context.Context) int {
	r.mu.Lock()
	r.pruneLocked()
	r.mu.Unlock()
	if r.cfg.DebugJobs {
		return 0
	}
	jobs, err := r.jobLister.Jobs(r.cfg.Namespace).List(labels.Everything())
	if err != nil {
		r.log.Warn("cleanup: list peon jobs", "err", err)
		return 0
	}
	now := r.now()
	n := 0
	for _, j := range jobs {
		if j.DeletionTimestamp != nil {
			continue
		}
		end, ok := jobFinishedAt(j)
		if !ok || now.Sub(end) < r.cfg.TaskCleanupDelay {
			continue
		}
		r.mu.Lock()
		it := r.items[r.byJob[j.Name]]
		busy := it != nil && it.phase != phaseDone
		r.mu.Unlock()
		if busy { // its status is still being read
			continue
		}
		if err := r.deleteJob(ctx, j.Name); err == nil {
			n++
			r.log.Info("cleanup: deleted finished peon job", "job", j.Name, "finished", end)
		}
	}
	return n
}
