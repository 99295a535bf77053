package workerrunner

import (
	"fmt"
	"sort"
)

// SetDraining replaces the set of Middle Managers (host:port) that get no
// new task. Tasks already assigned to them run to the end; their slots stop
// counting as idle. The routing config's drain.workers feeds it.
func (r *Runner) SetDraining(hosts []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.draining = make(map[string]bool, len(hosts))
	for _, h := range hosts {
		r.draining[h] = true
	}
	r.wakeLocked()
}

// Draining returns the hosts SetDraining named, sorted.
func (r *Runner) Draining() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.draining))
	for h := range r.draining {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

// RunningByWorker counts, per Middle Manager (host:port), the tasks being
// assigned to it or running on it; every known worker is listed, idle ones
// with 0, so a drain can tell when a Middle Manager may be shut down.
func (r *Runner) RunningByWorker() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.workers))
	for _, w := range r.workers {
		out[w.info.Host] = 0
	}
	for _, it := range r.items {
		if (it.state == stateAssigning || it.state == stateRunning) && it.worker != "" {
			out[it.worker]++
		}
	}
	return out
}

// Unreachable implements routing.Reachability: why no Middle Manager can
// take a task now, or "" when at least one syncs and is enabled.
func (r *Runner) Unreachable() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.workers) == 0 {
		return "no Middle Manager discovered"
	}
	syncing, enabled := 0, 0
	for _, w := range r.workers {
		if w.removed || !w.initialized || w.syncFailing {
			continue
		}
		syncing++
		if !w.disabled && !r.draining[w.info.Host] {
			enabled++
		}
	}
	switch {
	case syncing == 0:
		return fmt.Sprintf("none of %d Middle Managers answers its sync", len(r.workers))
	case enabled == 0:
		return fmt.Sprintf("all %d syncing Middle Managers are disabled or draining", syncing)
	}
	return ""
}
