package migration

import (
	"slices"
	"sort"
	"time"

	"github.com/taskgate/taskgate/dynconfig"
	"github.com/taskgate/taskgate/internal/isoduration"
)

// View is the migration view at one moment (GET /taskgate/v1/migration).
// Field names are stable; see the package doc for their meaning.
type View struct {
	// Window is the sliding window, ISO-8601 (e.g. "PT1H").
	Window string `json:"window"`
	// From and GeneratedAt bound the window: records at or before From
	// have left it.
	From        time.Time `json:"from"`
	GeneratedAt time.Time `json:"generatedAt"`
	// GuardEnabled says whether the guards run (a routing config source is
	// wired).
	GuardEnabled bool `json:"guardEnabled"`
	// Types has one row per task type and runner with any count, sorted
	// by task type, then runner.
	Types []TypeStats `json:"types"`
	// Rules has one row per named routing rule that routed a task in the
	// window or is in the config in force, sorted by name.
	Rules []RuleStats `json:"rules"`
	// Diverted counts, over the window, tasks that ran elsewhere than
	// their rule chose.
	Diverted []DivertedStats `json:"diverted"`
	// Rollbacks are the guard's latest rollbacks (at most 20), newest first.
	Rollbacks []Rollback `json:"rollbacks"`
	// Dropped counts entries dropped to stay within memory bounds, since
	// the start; non-zero means the counts above are too low.
	Dropped Dropped `json:"dropped"`
	// Unattributed counts completions, since the start, of tasks whose type
	// or runner the tracker could not find: not tracked (restored, or
	// dropped past MaxInFlight) and unknown to Config.Lookup.
	Unattributed int `json:"unattributed"`
}

// TypeStats are one task type's counts on one runner.
type TypeStats struct {
	TaskType string `json:"taskType"`
	Runner   string `json:"runner"`
	// Submitted, Succeeded and Failed count over the window (submissions by
	// submit time, completions by completion time).
	Submitted int `json:"submitted"`
	// Running counts tasks submitted (or restored) and not complete, however
	// old.
	Running   int `json:"running"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	// FailureRate is failed / (succeeded + failed), 0 to 1; null without
	// completions.
	FailureRate *float64 `json:"failureRate"`
	// MedianDurationMs and P95DurationMs are nearest-rank percentiles of the
	// durations completed tasks reported (tasks without one are left out);
	// null when there is none.
	MedianDurationMs *int64 `json:"medianDurationMs"`
	P95DurationMs    *int64 `json:"p95DurationMs"`
	// Share is this runner's fraction of the task type's submissions in the
	// window, 0 to 1; null when the type had none.
	Share *float64 `json:"share"`
}

// RuleStats are one named routing rule's submissions over the window.
type RuleStats struct {
	Name            string `json:"name"`
	SubmittedK8s    int    `json:"submittedK8s"`
	SubmittedWorker int    `json:"submittedWorker"`
	// K8sShare is the measured fraction that went to Kubernetes, 0 to 1
	// (diverted tasks included: it is where they ran); null without
	// submissions.
	K8sShare *float64 `json:"k8sShare"`
	// Percent is the rule's configured percent in the config in force;
	// null when the rule is not in it or no config source is wired.
	Percent *float64 `json:"percent"`
	// TaskTypes are the task types the rule routed in the window, sorted.
	TaskTypes []string `json:"taskTypes"`
}

// DivertedStats count diverted tasks of one type, reason and runner.
type DivertedStats struct {
	TaskType string `json:"taskType"`
	// Kind is "drain", "fallback" or "other".
	Kind string `json:"kind"`
	// Reason is "drain.worker", "fallback.unreachable",
	// "fallback.noIdleSlot", "fallback" or "other".
	Reason string `json:"reason"`
	// Runner is where the tasks ran.
	Runner string `json:"runner"`
	Count  int    `json:"count"`
	// LastDetail is routing's text for the latest of them.
	LastDetail string `json:"lastDetail"`
}

// Rollback is one guard rollback.
type Rollback struct {
	Rule            string  `json:"rule"`
	TaskType        string  `json:"taskType"`
	PreviousPercent float64 `json:"previousPercent"`
	// K8sFailureRate and WorkerFailureRate are fractions, 0 to 1.
	K8sFailureRate      float64   `json:"k8sFailureRate"`
	WorkerFailureRate   float64   `json:"workerFailureRate"`
	K8sCompleted        int       `json:"k8sCompleted"`
	WorkerCompleted     int       `json:"workerCompleted"`
	MaxFailureRateDelta float64   `json:"maxFailureRateDelta"`
	Time                time.Time `json:"time"`
	// Comment is the audit entry's comment.
	Comment string `json:"comment"`
}

// Dropped counts entries dropped to stay within memory bounds.
type Dropped struct {
	InFlight    int `json:"inFlight"`
	Submissions int `json:"submissions"`
	Completions int `json:"completions"`
}

// Snapshot returns the view now.
func (t *Tracker) Snapshot() View {
	now := t.now()
	ns := now.UnixNano()
	var cfg *dynconfig.RoutingConfig
	if t.cfg.Routing != nil {
		cfg = t.cfg.Routing.Current()
	}
	v := View{
		Window:       isoduration.Format(t.Window()),
		From:         now.Add(-t.Window()).UTC(),
		GeneratedAt:  now.UTC(),
		GuardEnabled: t.guard != nil,
		Types:        []TypeStats{},
		Rules:        []RuleStats{},
		Diverted:     []DivertedStats{},
		Rollbacks:    []Rollback{},
	}
	durations := map[seriesKey][]int64{}
	typeTotals := map[string]int{}

	t.mu.Lock()
	t.pruneLocked(ns)
	t.comps.each(func(c *compRec) {
		if c.durMs >= 0 {
			k := seriesKey{c.typ, c.runner}
			durations[k] = append(durations[k], c.durMs)
		}
	})
	for k, s := range t.series {
		typeTotals[k.typ] += s.submitted
		v.Types = append(v.Types, TypeStats{TaskType: k.typ, Runner: k.runner, Submitted: s.submitted,
			Running: s.running, Succeeded: s.succeeded, Failed: s.failed})
	}
	seen := map[string]bool{}
	for name, ra := range t.rules {
		seen[name] = true
		rs := RuleStats{Name: name, SubmittedK8s: ra.k8s, SubmittedWorker: ra.worker, TaskTypes: make([]string, 0, len(ra.types))}
		for typ := range ra.types {
			rs.TaskTypes = append(rs.TaskTypes, typ)
		}
		v.Rules = append(v.Rules, rs)
	}
	for dk, da := range t.diverted {
		v.Diverted = append(v.Diverted, DivertedStats{TaskType: dk.typ, Kind: reasonKind(dk.reason), Reason: dk.reason,
			Runner: dk.runner, Count: da.count, LastDetail: da.last})
	}
	for i := len(t.rollbacks) - 1; i >= 0; i-- {
		v.Rollbacks = append(v.Rollbacks, t.rollbacks[i])
	}
	v.Dropped = t.dropped
	v.Unattributed = t.unattrib
	t.mu.Unlock()

	for i := range v.Types {
		ts := &v.Types[i]
		if done := ts.Succeeded + ts.Failed; done > 0 {
			ts.FailureRate = ratio(ts.Failed, done)
		}
		if total := typeTotals[ts.TaskType]; total > 0 {
			ts.Share = ratio(ts.Submitted, total)
		}
		if d := durations[seriesKey{ts.TaskType, ts.Runner}]; len(d) > 0 {
			slices.Sort(d)
			ts.MedianDurationMs = ptr(nearestRank(d, 50))
			ts.P95DurationMs = ptr(nearestRank(d, 95))
		}
	}
	sort.Slice(v.Types, func(i, j int) bool {
		a, b := v.Types[i], v.Types[j]
		if a.TaskType != b.TaskType {
			return a.TaskType < b.TaskType
		}
		return a.Runner < b.Runner
	})

	if cfg != nil {
		for _, r := range cfg.Rules {
			if !seen[r.Name] {
				v.Rules = append(v.Rules, RuleStats{Name: r.Name, TaskTypes: []string{}})
			}
		}
	}
	for i := range v.Rules {
		rs := &v.Rules[i]
		sort.Strings(rs.TaskTypes)
		if total := rs.SubmittedK8s + rs.SubmittedWorker; total > 0 {
			rs.K8sShare = ratio(rs.SubmittedK8s, total)
		}
		if r, ok := cfg.Rule(rs.Name); ok {
			rs.Percent = ptr(r.Percent)
		}
	}
	sort.Slice(v.Rules, func(i, j int) bool { return v.Rules[i].Name < v.Rules[j].Name })
	sort.Slice(v.Diverted, func(i, j int) bool {
		a, b := v.Diverted[i], v.Diverted[j]
		if a.TaskType != b.TaskType {
			return a.TaskType < b.TaskType
		}
		if a.Reason != b.Reason {
			return a.Reason < b.Reason
		}
		return a.Runner < b.Runner
	})
	return v
}

// reasonKind returns a diversion reason's kind.
func reasonKind(reason string) string {
	switch reason {
	case ReasonDrainWorker:
		return DivertDrain
	case ReasonFallbackUnreachable, ReasonFallbackNoIdleSlot, ReasonFallback:
		return DivertFallback
	}
	return DivertOther
}

// nearestRank returns the p-th percentile of sorted (non-empty): the
// smallest value with at least p% of the values at or below it.
func nearestRank(sorted []int64, p int) int64 {
	n := len(sorted)
	idx := (p*n+99)/100 - 1
	return sorted[max(0, min(idx, n-1))]
}

func ratio(a, b int) *float64 { return ptr(float64(a) / float64(b)) }

func ptr[T any](v T) *T { return &v }
