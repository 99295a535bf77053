package routing

import (
	"fmt"
	"slices"

	"github.com/taskgate/taskgate/dynconfig"
	"github.com/taskgate/taskgate/task"
)

// RuleDrain is the rule a decision names when the worker side is draining
// and a task it would have gone to runs on Kubernetes instead.
const RuleDrain = "drain.worker"

// bucketResolution splits [0, 100) into steps of 0.01 percentage points.
const bucketResolution = 10000

// Bucket places a task group at a fixed point in [0, 100): a rule with
// percent p sends the group to Kubernetes when Bucket(groupID) < p. Every
// task of a group (a parallel task's subtasks share its groupId) lands in
// the same place, and raising p only ever adds groups. FNV-1a with a
// 64-bit finaliser spreads similar ids ("group-1", "group-2") evenly.
func Bucket(groupID string) float64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(groupID); i++ {
		h ^= uint64(groupID[i])
		h *= prime
	}
	// splitmix64's finaliser: FNV's low bits alone are poorly mixed.
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return float64(h%bucketResolution) / (bucketResolution / 100)
}

// RoutingConfigFromStrategy is the routing config equivalent to Druid's
// static runner strategy: the live config's starting value.
func RoutingConfigFromStrategy(sc StrategyConfig) *dynconfig.RoutingConfig {
	sc = sc.withDefaults()
	cfg := &dynconfig.RoutingConfig{Type: sc.Type, Default: sc.TaskTypeDefault}
	if len(sc.TaskTypeOverrides) > 0 {
		cfg.Overrides = make(map[string]string, len(sc.TaskTypeOverrides))
		for k, v := range sc.TaskTypeOverrides {
			cfg.Overrides[k] = v
		}
	}
	return cfg
}

// NewRuleStrategy compiles a routing config: its rules in order, then its
// Druid part (type, default, overrides), then the worker-side drain. The
// config is copied; the strategy never changes (a new config makes a new
// strategy that Hybrid.SetStrategy swaps in).
func NewRuleStrategy(cfg *dynconfig.RoutingConfig) (Strategy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("routing config: %w", err)
	}
	base, err := NewStrategy(StrategyConfig{Type: cfg.Type, TaskTypeDefault: cfg.Default, TaskTypeOverrides: cfg.Overrides})
	if err != nil {
		return nil, err
	}
	s := &ruleStrategy{base: base, drainWorker: cfg.Drain.Worker}
	for i := range cfg.Rules {
		r := cfg.Rules[i]
		cr := compiledRule{
			sel: dynconfig.Selector{ContextTags: r.ContextTags, Type: slices.Clone(r.Type), DataSource: slices.Clone(r.DataSource)},
			pct: r.Percent,
		}
		var fb *Fallback
		if r.Fallback != nil {
			fb = &Fallback{NoSlotFor: r.Fallback.NoSlotFor, Unreachable: r.Fallback.Unreachable}
		}
		rule := "rules[" + r.Name + "]"
		cr.k8s = Decision{Runner: RunnerK8s, Rule: rule, RuleName: r.Name, Fallback: fb}
		cr.worker = Decision{Runner: RunnerWorker, Rule: rule, RuleName: r.Name, Fallback: fb}
		s.rules = append(s.rules, cr)
	}
	return s, nil
}

type compiledRule struct {
	sel         dynconfig.Selector
	pct         float64
	k8s, worker Decision
}

// ruleStrategy is immutable after construction.
type ruleStrategy struct {
	rules       []compiledRule
	base        Strategy
	drainWorker bool
}

func (s *ruleStrategy) Decide(t *task.Task) Decision {
	d, matched := s.decide(t)
	if !matched {
		d = s.base.Decide(t)
	}
	if s.drainWorker && d.Runner == RunnerWorker {
		d.Diverted, d.DivertReason = RuleDrain, RuleDrain
		d.Runner = RunnerK8s
	}
	return d
}

func (s *ruleStrategy) decide(t *task.Task) (Decision, bool) {
	if t == nil || len(s.rules) == 0 {
		return Decision{}, false
	}
	for i := range s.rules {
		r := &s.rules[i]
		if !r.sel.Matches(t) {
			continue
		}
		if r.pct > 0 && (r.pct >= 100 || Bucket(groupOf(t)) < r.pct) {
			return r.k8s, true
		}
		return r.worker, true
	}
	return Decision{}, false
}

// groupOf is the key a canary splits on: the groupId (task.Parse defaults
// it to the id).
func groupOf(t *task.Task) string {
	if t.GroupID != "" {
		return t.GroupID
	}
	return t.ID
}

func (s *ruleStrategy) String() string {
	return fmt.Sprintf("rules{%d rules, then %v, drainWorker=%t}", len(s.rules), s.base, s.drainWorker)
}
