package migration

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/taskgate/taskgate/routing"
	"github.com/taskgate/taskgate/task"
)

// Diversion kinds: View.Diverted[].kind and the reason attribute of
// taskgate.migration.tasks.diverted.
const (
	DivertDrain    = "drain"
	DivertFallback = "fallback"
	// DivertOther is a Decision.Diverted this package does not recognise.
	DivertOther = "other"
)

// Diversion reasons (View.Diverted[].reason): routing's
// Decision.DivertReason, or for a decision without one, the kind read from
// its Diverted text.
const (
	ReasonDrainWorker         = routing.RuleDrain         // "drain.worker"
	ReasonFallbackUnreachable = routing.DivertUnreachable // "fallback.unreachable"
	ReasonFallbackNoIdleSlot  = routing.DivertNoIdleSlot  // "fallback.noIdleSlot"
	ReasonFallback            = "fallback"
	ReasonOther               = "other"
)

// classifyDecision maps a decision's diversion to a kind and a reason; ""
// for a task that ran where its rule chose.
func classifyDecision(d routing.Decision) (kind, reason string) {
	switch d.DivertReason {
	case routing.RuleDrain:
		return DivertDrain, ReasonDrainWorker
	case routing.DivertUnreachable, routing.DivertNoIdleSlot:
		return DivertFallback, d.DivertReason
	}
	return classifyDiversion(d.Diverted)
}

// classifyDiversion maps a Decision.Diverted text to a kind and a reason,
// for decisions that carry no DivertReason.
func classifyDiversion(s string) (kind, reason string) {
	switch {
	case s == "":
		return "", ""
	case s == routing.RuleDrain:
		return DivertDrain, ReasonDrainWorker
	case strings.HasPrefix(s, "fallback:"):
		switch {
		case strings.Contains(s, " runner unreachable"):
			return DivertFallback, ReasonFallbackUnreachable
		case strings.Contains(s, " no idle slot"):
			return DivertFallback, ReasonFallbackNoIdleSlot
		}
		return DivertFallback, ReasonFallback
	}
	return DivertOther, ReasonOther
}

// dropLogEvery is the least time between two warnings about dropped entries.
const dropLogEvery = time.Minute

// Tracker is the migration view: it hears of every task Hybrid starts
// (TaskRouted) and of every completion (OnEvent), keeps per task type and
// runner counts over a sliding window, exports them as metrics and as the
// View, runs the rules' guards, and serves the drain endpoint. All methods
// are safe for concurrent use; TaskRouted and OnEvent do not block beyond a
// short critical section.
type Tracker struct {
	cfg    Config
	log    *slog.Logger
	window int64 // ns
	now    func() time.Time
	lookup func(string) (routing.WorkItem, bool)
	inst   *instruments
	reg    metric.Registration

	mu sync.Mutex
	// seq orders flights so a stale entry of order can be told from the
	// current flight of a reused id.
	seq     uint64
	flights map[string]flight
	// order is the flights in submission order, for dropping the oldest;
	// it also holds stale entries of completed flights, compacted away.
	order     deque[queued]
	series    map[seriesKey]*series
	rules     map[string]*ruleAgg
	diverted  map[divertKey]*divertAgg
	subs      deque[subRec]
	comps     deque[compRec]
	completed map[string]struct{}
	attrs     attrCache
	rollbacks []Rollback
	dropped   Dropped
	unattrib  int
	// lastDropLog is when dropping was last logged (unix ns).
	lastDropLog int64

	guard     *guard
	closeOnce sync.Once
}

type seriesKey struct{ typ, runner string }

// series are the counts of one task type on one runner: submitted,
// succeeded and failed over the window, running regardless of it.
type series struct {
	submitted, succeeded, failed int
	running                      int
}

func (s *series) zero() bool {
	return s.submitted == 0 && s.succeeded == 0 && s.failed == 0 && s.running == 0
}

// ruleAgg counts a named rule's submissions in the window, and by task type.
type ruleAgg struct {
	k8s, worker int
	types       map[string]int
}

type divertKey struct{ typ, reason, runner string }

type divertAgg struct {
	count int
	last  string
}

// flight is a submitted task not complete yet.
type flight struct {
	typ, runner string
	at          int64 // submitted, unix ns; 0 when unknown
	seq         uint64
}

type queued struct {
	id  string
	seq uint64
}

// subRec is one submission in the window.
type subRec struct {
	at                    int64
	typ, runner, ruleName string
	divertReason          string
}

// compRec is one completion in the window.
type compRec struct {
	at        int64
	submitted int64 // unix ns; 0 when unknown
	id        string
	typ       string
	runner    string
	failed    bool
	durMs     int64 // < 0 when the status did not say
}

// New checks cfg and returns a tracker. When cfg.Routing is set it starts
// the guard's goroutine; Close stops it.
func New(cfg Config) (*Tracker, error) { return newTracker(cfg, false) }

// newTracker is New; manualGuard leaves the guard without its goroutine
// (see guard.manual).
func newTracker(cfg Config, manualGuard bool) (*Tracker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	mp := cfg.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	inst, err := newInstruments(mp)
	if err != nil {
		return nil, err
	}
	t := &Tracker{
		cfg:       cfg,
		log:       cfg.Logger.With("component", "migration"),
		window:    int64(cfg.Window),
		now:       cfg.Now,
		lookup:    cfg.Lookup,
		inst:      inst,
		flights:   map[string]flight{},
		series:    map[seriesKey]*series{},
		rules:     map[string]*ruleAgg{},
		diverted:  map[divertKey]*divertAgg{},
		completed: map[string]struct{}{},
		attrs:     attrCache{},
	}
	t.reg, err = inst.meter.RegisterCallback(t.observeRunning, inst.running)
	if err != nil {
		return nil, fmt.Errorf("migration metric %s: register callback: %w", MetricTasksRunning, err)
	}
	if cfg.Routing != nil {
		t.guard = newGuard(t)
		t.guard.manual = manualGuard
		if !manualGuard {
			go t.guard.loop()
		}
	}
	return t, nil
}

// Close stops the guard and the running gauge. The tracker keeps counting;
// it just no longer acts. Close may be called more than once.
func (t *Tracker) Close() error {
	var err error
	t.closeOnce.Do(func() {
		if t.guard != nil {
			t.guard.stop()
		}
		err = t.reg.Unregister()
	})
	return err
}

// Window returns the sliding window.
func (t *Tracker) Window() time.Duration { return time.Duration(t.window) }

var _ routing.Observer = (*Tracker)(nil)

// TaskRouted records that tk was started on d.Runner (routing.Observer;
// pass the tracker to routing.WithObserver).
func (t *Tracker) TaskRouted(tk *task.Task, d routing.Decision) {
	if tk == nil || tk.ID == "" {
		return
	}
	ns := t.now().UnixNano()
	kind, reason := classifyDecision(d)
	key := seriesKey{tk.Type, d.Runner}

	t.mu.Lock()
	t.pruneLocked(ns)
	s := t.seriesLocked(key)
	s.submitted++
	if d.RuleName != "" {
		ra := t.rules[d.RuleName]
		if ra == nil {
			ra = &ruleAgg{types: map[string]int{}}
			t.rules[d.RuleName] = ra
		}
		if d.Runner == routing.RunnerK8s {
			ra.k8s++
		} else {
			ra.worker++
		}
		ra.types[tk.Type]++
	}
	if reason != "" {
		dk := divertKey{tk.Type, reason, d.Runner}
		da := t.diverted[dk]
		if da == nil {
			da = &divertAgg{}
			t.diverted[dk] = da
		}
		da.count++
		da.last = d.Diverted
	}
	t.subs.push(subRec{at: ns, typ: tk.Type, runner: d.Runner, ruleName: d.RuleName, divertReason: reason})
	var logDrop bool
	for t.subs.len() > t.cfg.MaxRecords {
		t.removeSubLocked(t.subs.pop())
		t.dropped.Submissions++
		logDrop = true
	}
	// A completion can overtake TaskRouted (Hybrid tells observers after
	// Run returns); such a task is not running any more.
	if _, done := t.completed[tk.ID]; !done {
		if old, ok := t.flights[tk.ID]; ok {
			t.endFlightLocked(tk.ID, old)
		}
		t.addFlightLocked(tk.ID, flight{typ: tk.Type, runner: d.Runner, at: ns})
		if t.evictLocked() {
			logDrop = true
		}
	}
	subOpt := t.attrs.get(attrKey{attrsSubmitted, tk.Type, d.Runner, d.Rule})
	var divOpt *attrOpts
	if kind != "" {
		divOpt = t.attrs.get(attrKey{attrsDiverted, tk.Type, kind, ""})
	}
	logDrop = logDrop && t.shouldLogDropLocked(ns)
	dropped := t.dropped
	t.mu.Unlock()

	ctx := context.Background()
	t.inst.submitted.Add(ctx, 1, subOpt.add...)
	if divOpt != nil {
		t.inst.diverted.Add(ctx, 1, divOpt.add...)
	}
	if logDrop {
		t.logDropped(dropped)
	}
}

// OnEvent records completions; pass it to routing.Hybrid.Subscribe. Events
// other than a statusChanged with a complete status are ignored, and so is
// a second completion of an id.
func (t *Tracker) OnEvent(ev routing.Event) {
	if ev.Kind != routing.EventStatusChanged || ev.Status == nil || !ev.Status.Status.IsComplete() {
		return
	}
	id := ev.TaskID
	if id == "" {
		id = ev.Status.ID
	}
	if id == "" {
		return
	}
	ns := t.now().UnixNano()

	t.mu.Lock()
	f, tracked := t.flights[id]
	_, dup := t.completed[id]
	if !tracked && !dup && t.lookup != nil {
		// Restored after a restart: ask the runners, outside the lock.
		t.mu.Unlock()
		wi, found := t.lookup(id)
		t.mu.Lock()
		f, tracked = t.flights[id]
		_, dup = t.completed[id]
		if !tracked && found {
			f = flight{typ: wi.TaskType, runner: wi.Runner}
			if f.runner == "" {
				f.runner = ev.Runner
			}
			if !wi.CreatedTime.IsZero() {
				f.at = wi.CreatedTime.UnixNano()
			}
		}
	}
	if dup {
		t.mu.Unlock()
		return
	}
	if tracked {
		t.endFlightLocked(id, f)
	}
	if f.typ == "" || f.runner == "" {
		t.unattrib++
		t.mu.Unlock()
		return
	}
	t.pruneLocked(ns)
	failed := ev.Status.Status == task.StateFailed
	s := t.seriesLocked(seriesKey{f.typ, f.runner})
	if failed {
		s.failed++
	} else {
		s.succeeded++
	}
	t.comps.push(compRec{at: ns, submitted: f.at, id: id, typ: f.typ, runner: f.runner, failed: failed, durMs: ev.Status.Duration})
	t.completed[id] = struct{}{}
	var logDrop bool
	for t.comps.len() > t.cfg.MaxRecords {
		t.removeCompLocked(t.comps.pop())
		t.dropped.Completions++
		logDrop = true
	}
	opt := t.attrs.get(attrKey{attrsCompleted, f.typ, f.runner, string(ev.Status.Status)})
	logDrop = logDrop && t.shouldLogDropLocked(ns)
	dropped := t.dropped
	t.mu.Unlock()

	ctx := context.Background()
	t.inst.completed.Add(ctx, 1, opt.add...)
	if ev.Status.Duration >= 0 {
		t.inst.duration.Record(ctx, float64(ev.Status.Duration)/1000, opt.rec...)
	}
	if logDrop {
		t.logDropped(dropped)
	}
	if t.guard != nil {
		t.guard.kick()
	}
}

// Restored registers tasks a restart re-attached (routing.Hybrid.Restore's
// result) as running, so the running counts include them. They are not
// counted as submissions: they were submitted before this process started.
func (t *Tracker) Restored(items []routing.WorkItem) {
	ns := t.now().UnixNano()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, wi := range items {
		if wi.TaskID == "" || wi.TaskType == "" || wi.Runner == "" {
			continue
		}
		if wi.Status != nil && wi.Status.Status.IsComplete() {
			continue
		}
		if _, ok := t.flights[wi.TaskID]; ok {
			continue
		}
		if _, ok := t.completed[wi.TaskID]; ok {
			continue
		}
		f := flight{typ: wi.TaskType, runner: wi.Runner}
		if !wi.CreatedTime.IsZero() {
			f.at = wi.CreatedTime.UnixNano()
		}
		t.addFlightLocked(wi.TaskID, f)
	}
	if t.evictLocked() && t.shouldLogDropLocked(ns) {
		dropped := t.dropped
		defer t.logDropped(dropped)
	}
}

func (t *Tracker) seriesLocked(k seriesKey) *series {
	s := t.series[k]
	if s == nil {
		s = &series{}
		t.series[k] = s
	}
	return s
}

func (t *Tracker) releaseSeriesLocked(k seriesKey, s *series) {
	if s.zero() {
		delete(t.series, k)
	}
}

func (t *Tracker) addFlightLocked(id string, f flight) {
	t.seq++
	f.seq = t.seq
	t.flights[id] = f
	t.order.push(queued{id, f.seq})
	t.seriesLocked(seriesKey{f.typ, f.runner}).running++
	// order keeps entries of completed flights until they reach its front;
	// one long-running task at the front would keep all of them, so filter
	// them out once they are the majority (amortised O(1) per flight).
	if n := t.order.len(); n > 1024 && n > 2*len(t.flights) {
		t.order.filter(func(q *queued) bool {
			f, ok := t.flights[q.id]
			return ok && f.seq == q.seq
		})
	}
}

func (t *Tracker) endFlightLocked(id string, f flight) {
	delete(t.flights, id)
	k := seriesKey{f.typ, f.runner}
	if s := t.series[k]; s != nil {
		s.running--
		t.releaseSeriesLocked(k, s)
	}
}

// evictLocked drops the oldest flights past MaxInFlight and reports whether
// it dropped any.
func (t *Tracker) evictLocked() bool {
	dropped := false
	for len(t.flights) > t.cfg.MaxInFlight && t.order.len() > 0 {
		q := t.order.pop()
		if f, ok := t.flights[q.id]; ok && f.seq == q.seq {
			t.endFlightLocked(q.id, f)
			t.dropped.InFlight++
			dropped = true
		}
	}
	return dropped
}

// pruneLocked removes the records that left the window. Records are in
// arrival order, so the scan stops at the first one still inside.
func (t *Tracker) pruneLocked(now int64) {
	cutoff := now - t.window
	for t.subs.len() > 0 && t.subs.front().at <= cutoff {
		t.removeSubLocked(t.subs.pop())
	}
	for t.comps.len() > 0 && t.comps.front().at <= cutoff {
		t.removeCompLocked(t.comps.pop())
	}
}

func (t *Tracker) removeSubLocked(r subRec) {
	k := seriesKey{r.typ, r.runner}
	if s := t.series[k]; s != nil {
		s.submitted--
		t.releaseSeriesLocked(k, s)
	}
	if r.ruleName != "" {
		if ra := t.rules[r.ruleName]; ra != nil {
			if r.runner == routing.RunnerK8s {
				ra.k8s--
			} else {
				ra.worker--
			}
			if ra.types[r.typ]--; ra.types[r.typ] <= 0 {
				delete(ra.types, r.typ)
			}
			if ra.k8s <= 0 && ra.worker <= 0 {
				delete(t.rules, r.ruleName)
			}
		}
	}
	if r.divertReason != "" {
		dk := divertKey{r.typ, r.divertReason, r.runner}
		if da := t.diverted[dk]; da != nil {
			if da.count--; da.count <= 0 {
				delete(t.diverted, dk)
			}
		}
	}
}

func (t *Tracker) removeCompLocked(r compRec) {
	k := seriesKey{r.typ, r.runner}
	if s := t.series[k]; s != nil {
		if r.failed {
			s.failed--
		} else {
			s.succeeded--
		}
		t.releaseSeriesLocked(k, s)
	}
	delete(t.completed, r.id)
}

func (t *Tracker) shouldLogDropLocked(now int64) bool {
	if now-t.lastDropLog < int64(dropLogEvery) && t.lastDropLog != 0 {
		return false
	}
	t.lastDropLog = now
	return true
}

func (t *Tracker) logDropped(d Dropped) {
	t.log.Warn("migration view is over its memory bounds; oldest entries dropped (counts since start; the view undercounts)",
		"droppedInFlight", d.InFlight, "droppedSubmissions", d.Submissions, "droppedCompletions", d.Completions,
		"maxInFlight", t.cfg.MaxInFlight, "maxRecords", t.cfg.MaxRecords)
}

// observeRunning reports the running gauge.
func (t *Tracker) observeRunning(_ context.Context, o metric.Observer) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, s := range t.series {
		o.ObserveInt64(t.inst.running, int64(s.running), t.attrs.get(attrKey{attrsSeries, k.typ, k.runner, ""}).obs...)
	}
	return nil
}

// deque is a FIFO over a slice that reuses its space.
type deque[T any] struct {
	buf  []T
	head int
}

func (d *deque[T]) push(v T)  { d.buf = append(d.buf, v) }
func (d *deque[T]) len() int  { return len(d.buf) - d.head }
func (d *deque[T]) front() *T { return &d.buf[d.head] }

func (d *deque[T]) pop() T {
	v := d.buf[d.head]
	var zero T
	d.buf[d.head] = zero
	d.head++
	if d.head >= 64 && 2*d.head >= len(d.buf) {
		n := copy(d.buf, d.buf[d.head:])
		clear(d.buf[n:])
		d.buf, d.head = d.buf[:n], 0
	}
	return v
}

// filter keeps the entries keep accepts, in order.
func (d *deque[T]) filter(keep func(*T) bool) {
	n := 0
	for i := d.head; i < len(d.buf); i++ {
		if keep(&d.buf[i]) {
			d.buf[n] = d.buf[i]
			n++
		}
	}
	clear(d.buf[n:])
	d.buf, d.head = d.buf[:n], 0
}

// each calls fn on every entry, oldest first.
func (d *deque[T]) each(fn func(*T)) {
	for i := d.head; i < len(d.buf); i++ {
		fn(&d.buf[i])
	}
}
