package k8srunner

import (
	"context"
	"time"
)

// reachProbeInterval is how often the runner asks the API server's /readyz
// whether it can be reached. Informers cannot tell: client-go's reflector
// retries a refused watch by itself and reports nothing while the API
// server is down.
const reachProbeInterval = 3 * time.Second

// Unreachable implements routing.Reachability: why the Kubernetes API
// cannot take a task now, or "". It answers from memory (the last probe); a
// routing rule's fallback spills tasks to the Middle Managers meanwhile.
func (r *Runner) Unreachable() string {
	r.reachMu.Lock()
	defer r.reachMu.Unlock()
	return r.unreachable
}

// probeLoop is the runner's reachability probe: one GET /readyz per
// interval, answered within the interval or counted as a failure.
func (r *Runner) probeLoop() {
	t := time.NewTicker(reachProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stopCh:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), reachProbeInterval)
		err := r.deps.Client.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).Error()
		cancel()
		reason := ""
		if err != nil {
			reason = "kubernetes API unreachable: " + err.Error()
		}
		r.reachMu.Lock()
		was := r.unreachable
		r.unreachable = reason
		r.reachMu.Unlock()
		switch {
		case was == "" && reason != "":
			r.log.Warn("kubernetes API unreachable", "error", err)
		case was != "" && reason == "":
			r.log.Info("kubernetes API reachable again")
		}
	}
}
