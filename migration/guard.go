package migration

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/taskgate/taskgate/dynconfig"
	"github.com/taskgate/taskgate/routing"
)

// GuardAuthor is the audit author of the guard's rollbacks.
const GuardAuthor = "taskgate-migration-guard"

const (
	// guardUpdateTimeout bounds one rollback's store update.
	guardUpdateTimeout = 30 * time.Second
	// guardRetryAfter is how long a failed rollback waits before the next
	// completion may try again in the same config generation.
	guardRetryAfter = 30 * time.Second
	// maxRollbacksKept is how many rollbacks the View lists.
	maxRollbacksKept = 20
)

// errRuleAlreadyOff stops an update whose rule another writer removed or
// set to 0 meanwhile: there is nothing to roll back, and no audit entry.
var errRuleAlreadyOff = errors.New("rule already at 0 percent or removed")

// guard evaluates the rules' guards on its own goroutine, woken (not
// queued) by completions: a burst of completions costs one evaluation.
type guard struct {
	t       *Tracker
	kickCh  chan struct{}
	flushCh chan chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	// manual means no loop goroutine: flush evaluates on the caller's
	// goroutine (tests that must control when evaluations happen).
	manual bool

	// Owned by the loop goroutine.
	attempts map[string]guardAttempt
	// lastRollback is, per rule, when this guard last rolled it back
	// (unix ns): Kubernetes completions of tasks submitted before it do not
	// count against the rule again, so re-enabling a rolled-back rule
	// starts from fresh evidence instead of being rolled back at once on
	// the failures that caused the first rollback.
	lastRollback map[string]int64
}

// guardAttempt is the guard's last action on a rule.
type guardAttempt struct {
	gen *dynconfig.RoutingConfig // the config generation it acted on
	at  time.Time
	ok  bool
}

// verdict is the evidence against a rule for one task type.
type verdict struct {
	typ                      string
	k8sDone, k8sFailed       int
	workerDone, workerFailed int
	k8sRate, workerRate      float64 // fractions
	deltaPoints              float64
}

func newGuard(t *Tracker) *guard {
	ctx, cancel := context.WithCancel(context.Background())
	return &guard{
		t:            t,
		kickCh:       make(chan struct{}, 1),
		flushCh:      make(chan chan struct{}),
		ctx:          ctx,
		cancel:       cancel,
		done:         make(chan struct{}),
		attempts:     map[string]guardAttempt{},
		lastRollback: map[string]int64{},
	}
}

// kick asks for an evaluation without waiting.
func (g *guard) kick() {
	select {
	case g.kickCh <- struct{}{}:
	default: // one is pending already; it will see this completion too
	}
}

// flush runs an evaluation and waits for it (tests; and callers that need
// the guard to have seen every completion so far).
func (g *guard) flush() {
	if g.manual {
		g.evaluate()
		return
	}
	ch := make(chan struct{})
	select {
	case g.flushCh <- ch:
		<-ch
	case <-g.done:
	}
}

func (g *guard) stop() {
	g.cancel()
	if !g.manual {
		<-g.done
	}
}

func (g *guard) loop() {
	defer close(g.done)
	for {
		select {
		case <-g.ctx.Done():
			return
		case <-g.kickCh:
			g.evaluate()
		case ch := <-g.flushCh:
			select {
			case <-g.kickCh:
			default:
			}
			g.evaluate()
			close(ch)
		}
	}
}

// evaluate checks every guarded rule of the config in force and rolls back
// the ones whose evidence says so, at most once per rule per generation.
func (g *guard) evaluate() {
	cur := g.t.cfg.Routing.Current()
	if cur == nil {
		return
	}
	now := g.t.now()
	for i := range cur.Rules {
		r := &cur.Rules[i]
		if r.Guard == nil || r.Percent <= 0 {
			continue
		}
		if a, ok := g.attempts[r.Name]; ok && a.gen == cur && (a.ok || now.Sub(a.at) < guardRetryAfter) {
			continue
		}
		v, bad := g.t.judge(r, g.lastRollback[r.Name], now.UnixNano())
		if !bad {
			continue
		}
		g.rollback(cur, r, v, now)
	}
}

// judge returns the task type with the largest failure-rate gap over the
// rule's guard limit, if any. since excludes Kubernetes completions of
// tasks submitted at or before it (0: none excluded).
func (t *Tracker) judge(r *dynconfig.RoutingRule, since, now int64) (verdict, bool) {
	minTasks := r.Guard.MinTasks
	if minTasks <= 0 {
		minTasks = dynconfig.DefaultGuardMinTasks
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pruneLocked(now)
	ra := t.rules[r.Name]
	if ra == nil {
		return verdict{}, false
	}
	types := make([]string, 0, len(ra.types))
	for typ := range ra.types {
		types = append(types, typ)
	}
	sort.Strings(types)
	var best verdict
	found := false
	for _, typ := range types {
		var kd, kf int
		if since > now-t.window {
			t.comps.each(func(c *compRec) {
				if c.typ == typ && c.runner == routing.RunnerK8s && c.submitted > since {
					kd++
					if c.failed {
						kf++
					}
				}
			})
		} else if s := t.series[seriesKey{typ, routing.RunnerK8s}]; s != nil {
			kd, kf = s.succeeded+s.failed, s.failed
		}
		if kd < minTasks || kd == 0 {
			continue
		}
		var wd, wf int
		if s := t.series[seriesKey{typ, routing.RunnerWorker}]; s != nil {
			wd, wf = s.succeeded+s.failed, s.failed
		}
		// Compare in integers, exactly: 100·(kf/kd − wf/wd) > limit, with a
		// worker rate of 0 when the Middle Managers completed none.
		wdn := max(wd, 1)
		gap := float64(100 * (kf*wdn - wf*kd))
		if gap <= r.Guard.MaxFailureRateDelta*float64(kd*wdn) {
			continue
		}
		v := verdict{typ: typ, k8sDone: kd, k8sFailed: kf, workerDone: wd, workerFailed: wf,
			k8sRate: float64(kf) / float64(kd), deltaPoints: gap / float64(kd*wdn)}
		if wd > 0 {
			v.workerRate = float64(wf) / float64(wd)
		}
		if !found || v.deltaPoints > best.deltaPoints {
			best, found = v, true
		}
	}
	return best, found
}

func (g *guard) rollback(cur *dynconfig.RoutingConfig, r *dynconfig.RoutingRule, v verdict, now time.Time) {
	t := g.t
	comment := fmt.Sprintf("%s rolled back: k8s failure rate %.1f%% vs worker %.1f%% for %s over %s (n=%d k8s, %d worker completions; guard maxFailureRateDelta %g points)",
		r.Name, 100*v.k8sRate, 100*v.workerRate, v.typ, humanDuration(t.Window()), v.k8sDone, v.workerDone, r.Guard.MaxFailureRateDelta)
	info := dynconfig.AuditInfo{Author: GuardAuthor, Comment: comment}
	var prev float64
	ctx, cancel := context.WithTimeout(g.ctx, guardUpdateTimeout)
	defer cancel()
	_, err := t.cfg.Routing.Update(ctx, info, func(c *dynconfig.RoutingConfig) (*dynconfig.RoutingConfig, error) {
		rule, ok := c.Rule(r.Name)
		if !ok || rule.Percent <= 0 {
			return nil, errRuleAlreadyOff
		}
		prev = rule.Percent
		rule.Percent = 0
		return c, nil
	})
	log := t.log.With("rule", r.Name, "taskType", v.typ, "k8sFailureRate", v.k8sRate, "workerFailureRate", v.workerRate,
		"k8sCompleted", v.k8sDone, "workerCompleted", v.workerDone, "maxFailureRateDelta", r.Guard.MaxFailureRateDelta)
	switch {
	case errors.Is(err, errRuleAlreadyOff):
		g.attempts[r.Name] = guardAttempt{gen: cur, at: now, ok: true}
		log.Info("migration guard: rule already off, nothing to roll back")
	case err != nil:
		g.attempts[r.Name] = guardAttempt{gen: cur, at: now}
		log.Error("migration guard: roll back rule failed; retrying on a later completion", "error", err, "retryAfter", guardRetryAfter)
	default:
		g.attempts[r.Name] = guardAttempt{gen: cur, at: now, ok: true}
		g.lastRollback[r.Name] = now.UnixNano()
		log.Warn("migration guard rolled a rule back to 0 percent", "previousPercent", prev, "comment", comment)
		rb := Rollback{Rule: r.Name, TaskType: v.typ, PreviousPercent: prev,
			K8sFailureRate: v.k8sRate, WorkerFailureRate: v.workerRate,
			K8sCompleted: v.k8sDone, WorkerCompleted: v.workerDone,
			MaxFailureRateDelta: r.Guard.MaxFailureRateDelta, Time: now.UTC(), Comment: comment}
		t.mu.Lock()
		t.rollbacks = append(t.rollbacks, rb)
		if over := len(t.rollbacks) - maxRollbacksKept; over > 0 {
			t.rollbacks = append(t.rollbacks[:0:0], t.rollbacks[over:]...)
		}
		opt := t.attrs.get(attrKey{kind: attrsRollback, a: r.Name})
		t.mu.Unlock()
		t.inst.rollbacks.Add(context.Background(), 1, opt.add...)
	}
}

// humanDuration writes d without zero tails: 1h, 1h30m, 45m, 90s → 1m30s.
func humanDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
