package routing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskgate/taskgate/task"
)

// HybridName is the hybrid runner's name, Druid's runner type for
// KubernetesAndWorkerTaskRunner (druid.indexer.runner.type=k8sAndWorker).
const HybridName = "k8sAndWorker"

// instrumentationName names this package's tracer.
const instrumentationName = "github.com/taskgate/taskgate/routing"

// SpanSubmit is the name of the span each Hybrid.Submit creates.
const SpanSubmit = "taskgate.submit"

// Span attribute keys of the submit span.
const (
	AttrTaskID       = attribute.Key("druid.task.id")
	AttrTaskType     = attribute.Key("druid.task.type")
	AttrDataSource   = attribute.Key("druid.task.datasource")
	AttrGroupID      = attribute.Key("druid.task.group_id")
	AttrRunner       = attribute.Key("taskgate.runner")
	AttrRule         = attribute.Key("taskgate.rule")
	AttrAlreadyKnown = attribute.Key("taskgate.already_known")
	// AttrDiverted says why the task runs elsewhere than its rule chose
	// (drain or fallback); absent when it runs where the rule chose.
	AttrDiverted = attribute.Key("taskgate.diverted")
	// AttrRuleName is the routing rule's name when a rule decided.
	AttrRuleName = attribute.Key("taskgate.rule_name")
)

// Observer hears of every task Hybrid started, with the decision that sent
// it (the migration view counts them). It must not block.
type Observer interface {
	TaskRouted(t *task.Task, d Decision)
}

// minSweepAt is the size of the started-id set at which Hybrid first prunes
// ids that their runner now lists itself (see Hybrid.started).
const minSweepAt = 1024

// HybridOption configures a Hybrid.
type HybridOption func(*Hybrid)

// WithTracerProvider sets where submit spans go; the default is the global
// provider (otel.GetTracerProvider), which follows a provider set later.
func WithTracerProvider(tp trace.TracerProvider) HybridOption {
	return func(h *Hybrid) {
		if tp != nil {
			h.tracer = tp.Tracer(instrumentationName)
		}
	}
}

// WithObserver adds an observer of routing decisions.
func WithObserver(o Observer) HybridOption {
	return func(h *Hybrid) {
		if o != nil {
			h.observers = append(h.observers, o)
		}
	}
}

// WithClock sets the clock the fallback's slot timing reads (tests).
func WithClock(now func() time.Time) HybridOption {
	return func(h *Hybrid) {
		if now != nil {
			h.now = now
		}
	}
}

// WithLogger sets the logger; the default is slog.Default().
func WithLogger(l *slog.Logger) HybridOption {
	return func(h *Hybrid) {
		if l != nil {
			h.log = l
		}
	}
}

// Hybrid presents a Kubernetes runner and a Middle Manager runner as one
// Runner, as Druid's KubernetesAndWorkerTaskRunner does: Run goes to the
// runner the strategy picks; Shutdown, Start, Stop, Restore and Subscribe go
// to both; listings are concatenated; slot counts are summed by category;
// Get and StreamLog ask the Kubernetes runner first.
//
// Unlike Druid, a task id that either runner already knows is never started
// again, even when two submissions of the same id race.
//
// A runner that answers ErrNotConfigured is treated as absent by the
// operations sent to both runners (so a gateway with one runner not yet set
// up still starts and shuts tasks down), but Run reports it to the caller.
type Hybrid struct {
	k8s, worker Runner
	strategy    atomic.Pointer[strategyRef]
	tracer      trace.Tracer
	log         *slog.Logger
	observers   []Observer
	now         func() time.Time
	journal     Journal

	mu sync.Mutex
	// inflight holds the ids being submitted; later submitters of the same
	// id wait on the channel, which is closed when the first one finishes.
	inflight map[string]chan struct{}
	// started holds ids whose Run succeeded but that their runner did not
	// list yet (runners may register a task asynchronously), mapped to the
	// runner name. Ids are pruned once their runner lists them, after which
	// the runner's own Get answers.
	started  map[string]string
	sweepAt  int
	sweeping bool
	// fullSince is, per runner name, since when it has had no idle slot, as
	// seen by submissions (a slot is only ever taken by a submission or by a
	// queued task, so sampling around each submission sees every start of a
	// full period). Absent: not full at the last look.
	fullSince map[string]time.Time
}

// strategyRef boxes a Strategy so it can be swapped atomically.
type strategyRef struct{ s Strategy }

var _ Runner = (*Hybrid)(nil)

// NewHybrid returns a Hybrid over the Kubernetes runner k8s (named "k8s") and
// the Middle Manager runner worker (named "worker"), routing with strategy.
// A runner that is not built yet must be passed as one that returns
// ErrNotConfigured, not as nil.
func NewHybrid(k8s, worker Runner, strategy Strategy, opts ...HybridOption) (*Hybrid, error) {
	switch {
	case k8s == nil:
		return nil, errors.New("new hybrid runner: kubernetes runner is nil")
	case worker == nil:
		return nil, errors.New("new hybrid runner: worker runner is nil")
	case strategy == nil:
		return nil, errors.New("new hybrid runner: strategy is nil")
	}
	// Names tie decisions, listings and stats together; a swapped pair of
	// arguments would silently send every task to the wrong place.
	if n := k8s.Name(); n != RunnerK8s {
		return nil, fmt.Errorf("new hybrid runner: kubernetes runner must be named %q, got %q", RunnerK8s, n)
	}
	if n := worker.Name(); n != RunnerWorker {
		return nil, fmt.Errorf("new hybrid runner: worker runner must be named %q, got %q", RunnerWorker, n)
	}
	h := &Hybrid{
		k8s:      k8s,
		worker:   worker,
		tracer:   otel.GetTracerProvider().Tracer(instrumentationName),
		log:      slog.Default(),
		inflight: make(map[string]chan struct{}),
		started:  make(map[string]string),
		sweepAt:  minSweepAt,
		now:      time.Now,

		fullSince: make(map[string]time.Time),
	}
	for _, o := range opts {
		o(h)
	}
	h.strategy.Store(&strategyRef{s: strategy})
	if h.journal != nil {
		// For the gateway's lifetime: entries are forgotten as tasks start.
		h.k8s.Subscribe(h.journalEvent)
		h.worker.Subscribe(h.journalEvent)
	}
	return h, nil
}

// Name returns "k8sAndWorker".
func (h *Hybrid) Name() string { return HybridName }

// Strategy returns the strategy in use.
func (h *Hybrid) Strategy() Strategy { return h.strategy.Load().s }

// SetStrategy replaces the strategy for the submissions that follow; ones in
// progress keep the decision they made.
func (h *Hybrid) SetStrategy(s Strategy) error {
	if s == nil {
		return errors.New("set strategy: strategy is nil")
	}
	h.strategy.Store(&strategyRef{s: s})
	return nil
}

// Route returns the decision the current strategy makes for t, without
// running anything (dry run).
func (h *Hybrid) Route(t *task.Task) Decision { return h.Strategy().Decide(t) }

// Run submits t; running a known id does nothing and returns nil.
func (h *Hybrid) Run(ctx context.Context, t *task.Task) error {
	_, _, err := h.Submit(ctx, t)
	return err
}

// Submit runs t on the runner the strategy picks and returns that decision.
// When either runner already knows t's id, or a submission of the same id
// already succeeded, nothing is started and alreadyKnown is true; the
// decision then names the runner that has the task and the rule
// RuleAlreadyKnown. Concurrent submissions of one id start it at most once.
func (h *Hybrid) Submit(ctx context.Context, t *task.Task) (d Decision, alreadyKnown bool, err error) {
	if t == nil {
		return Decision{}, false, errors.New("submit task: task is nil")
	}
	if err := task.ValidateID(t.ID); err != nil {
		return Decision{}, false, fmt.Errorf("submit task: %w", err)
	}
	ctx, span := h.tracer.Start(ctx, SpanSubmit, trace.WithAttributes(
		AttrTaskID.String(t.ID),
		AttrTaskType.String(t.Type),
		AttrDataSource.String(t.DataSource),
		AttrGroupID.String(t.GroupID),
	))
	defer span.End()

	d, alreadyKnown, err = h.submit(ctx, t)
	span.SetAttributes(AttrRunner.String(d.Runner), AttrRule.String(d.Rule), AttrAlreadyKnown.Bool(alreadyKnown))
	attrs := []any{"task", t.ID, "type", t.Type, "dataSource", t.DataSource, "runner", d.Runner, "rule", d.Rule}
	if d.RuleName != "" {
		span.SetAttributes(AttrRuleName.String(d.RuleName))
	}
	if d.Diverted != "" {
		span.SetAttributes(AttrDiverted.String(d.Diverted))
		attrs = append(attrs, "diverted", d.Diverted)
	}
	switch {
	case err != nil:
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		h.log.ErrorContext(ctx, "task submission failed", append(attrs, "error", err)...)
	case alreadyKnown:
		h.log.InfoContext(ctx, "task already known, not started again", attrs...)
	default:
		h.log.InfoContext(ctx, "task submitted", attrs...)
	}
	return d, alreadyKnown, err
}

func (h *Hybrid) submit(ctx context.Context, t *task.Task) (Decision, bool, error) {
	release, knownOn, err := h.acquire(ctx, t.ID)
	if err != nil {
		return Decision{}, false, fmt.Errorf("submit task %s: %w", t.ID, err)
	}
	if knownOn != "" {
		return Decision{Runner: knownOn, Rule: RuleAlreadyKnown}, true, nil
	}
	startedOn := ""
	defer func() { release(startedOn) }()

	if name, ok := h.knownBy(t.ID); ok {
		return Decision{Runner: name, Rule: RuleAlreadyKnown}, true, nil
	}
	d := h.applyFallback(h.Route(t))
	r, err := h.runnerFor(d)
	if err != nil {
		return d, false, fmt.Errorf("submit task %s: %w", t.ID, err)
	}
	if h.journal != nil {
		// Before Run: once Run returns, the task may wait in the runner's
		// memory only.
		if err := h.journal.Put(t); err != nil {
			return d, false, fmt.Errorf("submit task %s: %w", t.ID, err)
		}
	}
	if err := r.Run(ctx, t); err != nil {
		if h.journal != nil {
			_ = h.journal.Delete(t.ID)
		}
		return d, false, fmt.Errorf("run task %s on %s runner (%s): %w", t.ID, d.Runner, d.Rule, err)
	}
	if d.Fallback != nil && d.Fallback.NoSlotFor > 0 {
		// The task may have taken the last slot: start the full period now.
		h.sampleFull(r, h.now())
	}
	for _, o := range h.observers {
		o.TaskRouted(t, d)
	}
	// Only remember the id ourselves while the runner does not list it; once
	// it does, its own Get keeps the id from being started twice.
	if _, ok := r.Get(t.ID); !ok {
		startedOn = d.Runner
	}
	return d, false, nil
}

// applyFallback spills d to the other runner when its rule's fallback says
// so and the other runner can take the task.
func (h *Hybrid) applyFallback(d Decision) Decision {
	fb := d.Fallback
	if fb == nil || d.Diverted != "" {
		return d
	}
	chosen, err := h.runnerFor(d)
	if err != nil {
		return d
	}
	otherName := RunnerWorker
	if d.Runner == RunnerWorker {
		otherName = RunnerK8s
	}
	other, _ := h.runnerFor(Decision{Runner: otherName})
	var why, kind string
	if fb.Unreachable {
		if reason := unreachable(chosen); reason != "" {
			why, kind = fmt.Sprintf("fallback: %s runner unreachable (%s)", d.Runner, reason), DivertUnreachable
		}
	}
	if why == "" && fb.NoSlotFor > 0 {
		now := h.now()
		if since, full := h.sampleFull(chosen, now); full && now.Sub(since) >= fb.NoSlotFor {
			if _, otherFull := h.sampleFull(other, now); !otherFull {
				why = fmt.Sprintf("fallback: %s runner has had no idle slot for %s (limit %s)", d.Runner, now.Sub(since).Round(time.Second), fb.NoSlotFor)
				kind = DivertNoIdleSlot
			}
		}
	}
	if why == "" || unreachable(other) != "" {
		return d
	}
	d.Runner, d.Diverted, d.DivertReason = otherName, why, kind
	return d
}

// unreachable asks r's Reachability, if it has one.
func unreachable(r Runner) string {
	if rr, ok := r.(Reachability); ok {
		return rr.Unreachable()
	}
	return ""
}

// sampleFull looks at r's idle slots now and returns since when it has been
// full (full is false when it has an idle slot).
func (h *Hybrid) sampleFull(r Runner, now time.Time) (since time.Time, full bool) {
	idle := 0
	for _, n := range r.IdleSlots() {
		idle += n
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if idle > 0 {
		delete(h.fullSince, r.Name())
		return time.Time{}, false
	}
	since, ok := h.fullSince[r.Name()]
	if !ok {
		since = now
		h.fullSince[r.Name()] = now
	}
	return since, true
}

// acquire makes the caller the only submitter of id. It returns knownOn when
// an earlier submission of id succeeded; otherwise release, which the caller
// must call with the runner the task was started on ("" if none).
func (h *Hybrid) acquire(ctx context.Context, id string) (release func(startedOn string), knownOn string, err error) {
	for {
		h.mu.Lock()
		if name, ok := h.started[id]; ok {
			h.mu.Unlock()
			return nil, name, nil
		}
		wait, busy := h.inflight[id]
		if !busy {
			done := make(chan struct{})
			h.inflight[id] = done
			h.mu.Unlock()
			return func(startedOn string) {
				h.mu.Lock()
				delete(h.inflight, id)
				if startedOn != "" {
					h.started[id] = startedOn
				}
				sweep := len(h.started) >= h.sweepAt && !h.sweeping
				h.sweeping = h.sweeping || sweep
				h.mu.Unlock()
				close(done)
				if sweep {
					h.sweep()
				}
			}, "", nil
		}
		h.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, "", fmt.Errorf("wait for concurrent submission of the same id: %w", ctx.Err())
		}
	}
}

// sweep drops started ids that their runner now lists. It runs when the set
// doubles, so its cost per submission stays constant.
func (h *Hybrid) sweep() {
	h.mu.Lock()
	snapshot := make(map[string]string, len(h.started))
	for id, name := range h.started {
		snapshot[id] = name
	}
	h.mu.Unlock()

	var listed []string
	for id, name := range snapshot {
		if r, err := h.runnerFor(Decision{Runner: name}); err == nil {
			if _, ok := r.Get(id); ok {
				listed = append(listed, id)
			}
		}
	}

	h.mu.Lock()
	for _, id := range listed {
		delete(h.started, id)
	}
	h.sweepAt = max(minSweepAt, 2*len(h.started))
	h.sweeping = false
	h.mu.Unlock()
}

// knownBy returns the runner that knows id, Kubernetes first.
func (h *Hybrid) knownBy(id string) (string, bool) {
	if _, ok := h.k8s.Get(id); ok {
		return RunnerK8s, true
	}
	if _, ok := h.worker.Get(id); ok {
		return RunnerWorker, true
	}
	return "", false
}

func (h *Hybrid) runnerFor(d Decision) (Runner, error) {
	switch d.Runner {
	case RunnerK8s:
		return h.k8s, nil
	case RunnerWorker:
		return h.worker, nil
	}
	return nil, fmt.Errorf("strategy chose unknown runner %q (rule %q)", d.Runner, d.Rule)
}

// Shutdown asks both runners to stop the task, the worker runner first as
// Druid does; each treats an id it does not know as a no-op.
func (h *Hybrid) Shutdown(ctx context.Context, taskID, reason string) error {
	if taskID == "" {
		return errors.New("shutdown task: task id is empty")
	}
	return h.both("shutdown task "+taskID, []Runner{h.worker, h.k8s}, func(r Runner) error {
		return r.Shutdown(ctx, taskID, reason)
	})
}

// Start starts the Kubernetes runner, then the worker runner.
func (h *Hybrid) Start(ctx context.Context) error {
	return h.both("start", []Runner{h.k8s, h.worker}, func(r Runner) error { return r.Start(ctx) })
}

// Stop stops the Kubernetes runner, then the worker runner.
func (h *Hybrid) Stop(ctx context.Context) error {
	return h.both("stop", []Runner{h.k8s, h.worker}, func(r Runner) error { return r.Stop(ctx) })
}

// Restore restores both runners and returns their tasks, Kubernetes first,
// then (with a journal) runs again the accepted tasks no runner knows.
// Tasks restored by one runner are returned even when the other fails.
func (h *Hybrid) Restore(ctx context.Context) ([]WorkItem, error) {
	var items []WorkItem
	err := h.both("restore", []Runner{h.k8s, h.worker}, func(r Runner) error {
		got, err := r.Restore(ctx)
		items = append(items, got...)
		return err
	})
	if h.journal != nil {
		err = errors.Join(err, h.replayJournal(ctx))
	}
	return items, err
}

// both calls f on each runner in order, even when one fails, and joins the
// errors. ErrNotConfigured counts as success: that runner has nothing to do.
func (h *Hybrid) both(op string, runners []Runner, f func(Runner) error) error {
	var errs []error
	for _, r := range runners {
		err := f(r)
		switch {
		case err == nil:
		case errors.Is(err, ErrNotConfigured):
			h.log.Debug("runner not configured, skipped", "op", op, "runner", r.Name())
		default:
			errs = append(errs, fmt.Errorf("%s on %s runner: %w", op, r.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// Get returns the Kubernetes runner's work item for the task, else the
// worker runner's. Druid asks per field (location, state) with the same
// order; since an id is only ever started on one runner here, asking for
// the whole item gives the same answer.
func (h *Hybrid) Get(taskID string) (WorkItem, bool) {
	if wi, ok := h.k8s.Get(taskID); ok {
		return wi, true
	}
	return h.worker.Get(taskID)
}

// StreamLog returns the Kubernetes runner's log for the task, else the
// worker runner's. Unlike Druid, which gives up when the Kubernetes runner
// fails, a Kubernetes error still lets the worker runner answer; it is
// returned only when the worker runner has no log either.
func (h *Hybrid) StreamLog(ctx context.Context, taskID string, offset int64) (io.ReadCloser, bool, error) {
	var errs []error
	for _, r := range []Runner{h.k8s, h.worker} {
		rc, ok, err := r.StreamLog(ctx, taskID, offset)
		if err == nil && ok {
			return rc, true, nil
		}
		if rc != nil {
			_ = rc.Close()
		}
		if err != nil && !errors.Is(err, ErrNotConfigured) && !errors.Is(err, ErrUnknownTask) {
			errs = append(errs, fmt.Errorf("stream log of task %s from %s runner: %w", taskID, r.Name(), err))
		}
	}
	return nil, false, errors.Join(errs...)
}

// Running lists both runners' running tasks, Kubernetes first.
func (h *Hybrid) Running() []WorkItem { return concat(h.k8s.Running(), h.worker.Running()) }

// Pending lists both runners' pending tasks, Kubernetes first.
func (h *Hybrid) Pending() []WorkItem { return concat(h.k8s.Pending(), h.worker.Pending()) }

// Known lists both runners' known tasks, Kubernetes first.
func (h *Hybrid) Known() []WorkItem { return concat(h.k8s.Known(), h.worker.Known()) }

// concat copies into a new slice so a runner's own slice is never appended to.
func concat(a, b []WorkItem) []WorkItem {
	out := make([]WorkItem, 0, len(a)+len(b))
	return append(append(out, a...), b...)
}

// TotalSlots sums both runners' total slots by category.
//
// Druid's KubernetesAndWorkerTaskRunner.getTotalTaskSlotCount uses putAll,
// so for a category both runners report, the worker runner's count replaces
// the Kubernetes one. That under-reports capacity (and is inconsistent with
// its idle/used counts, which it sums), so taskgate sums here too.
func (h *Hybrid) TotalSlots() map[string]int {
	return sumByCategory(h.k8s.TotalSlots(), h.worker.TotalSlots())
}

// IdleSlots sums both runners' idle slots by category, as Druid does.
func (h *Hybrid) IdleSlots() map[string]int {
	return sumByCategory(h.k8s.IdleSlots(), h.worker.IdleSlots())
}

// UsedSlots sums both runners' used slots by category, as Druid does.
func (h *Hybrid) UsedSlots() map[string]int {
	return sumByCategory(h.k8s.UsedSlots(), h.worker.UsedSlots())
}

func sumByCategory(a, b map[string]int) map[string]int {
	out := make(map[string]int, len(a)+len(b))
	for k, v := range a {
		out[k] += v
	}
	for k, v := range b {
		out[k] += v
	}
	return out
}

// TotalCapacity is the sum of the runners' known capacities; -1 when
// neither knows its capacity.
func (h *Hybrid) TotalCapacity() int {
	return sumCapacity(h.k8s.TotalCapacity(), h.worker.TotalCapacity())
}

// UsedCapacity is the sum of the runners' known used capacities; -1 when
// neither knows it.
func (h *Hybrid) UsedCapacity() int {
	return sumCapacity(h.k8s.UsedCapacity(), h.worker.UsedCapacity())
}

// sumCapacity follows Druid: -1 only when both are -1, otherwise negative
// values count as 0.
func sumCapacity(a, b int) int {
	if a == -1 && b == -1 {
		return -1
	}
	return max(0, a) + max(0, b)
}

// Subscribe registers l with both runners; the returned function removes it
// from both and may be called more than once.
func (h *Hybrid) Subscribe(l Listener) (unsubscribe func()) {
	if l == nil {
		return func() {}
	}
	unK8s := h.k8s.Subscribe(l)
	unWorker := h.worker.Subscribe(l)
	var once sync.Once
	return func() {
		once.Do(func() {
			if unK8s != nil {
				unK8s()
			}
			if unWorker != nil {
				unWorker()
			}
		})
	}
}
