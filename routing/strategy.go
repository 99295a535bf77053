package routing

import (
	"fmt"

	"github.com/taskgate/taskgate/task"
)

// Decision.Rule values. A taskType override's rule is
// "taskType.overrides[<task type>]".
const (
	RuleTypeK8s         = "runnerStrategy.type=" + StrategyK8s
	RuleTypeWorker      = "runnerStrategy.type=" + StrategyWorker
	RuleTaskTypeDefault = "taskType.default"
	// RuleAlreadyKnown is the rule Hybrid.Submit reports when a runner
	// already knows the task id and nothing was started.
	RuleAlreadyKnown = "alreadyKnown"
)

// NewStrategy builds the strategy cfg describes: "k8s" and "worker" send
// every task to that runner (Druid's KubernetesRunnerStrategy and
// WorkerRunnerStrategy); "taskType" uses the override for the task's type,
// else the default (Druid's TaskTypeRunnerStrategy).
func NewStrategy(cfg StrategyConfig) (Strategy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("runner strategy: %w", err)
	}
	cfg = cfg.withDefaults()
	switch cfg.Type {
	case StrategyK8s:
		return fixedStrategy{name: StrategyK8s, d: Decision{Runner: RunnerK8s, Rule: RuleTypeK8s}}, nil
	case StrategyWorker:
		return fixedStrategy{name: StrategyWorker, d: Decision{Runner: RunnerWorker, Rule: RuleTypeWorker}}, nil
	default: // StrategyTaskType; Validate accepts nothing else.
		s := &taskTypeStrategy{
			def:       Decision{Runner: cfg.TaskTypeDefault, Rule: RuleTaskTypeDefault},
			overrides: make(map[string]Decision, len(cfg.TaskTypeOverrides)),
		}
		// Decisions, rule strings included, are built once here so that
		// Decide does not allocate on the submit path.
		for taskType, runner := range cfg.TaskTypeOverrides {
			s.overrides[taskType] = Decision{Runner: runner, Rule: "taskType.overrides[" + taskType + "]"}
		}
		return s, nil
	}
}

// fixedStrategy sends every task to one runner.
type fixedStrategy struct {
	name string
	d    Decision
}

func (s fixedStrategy) Decide(*task.Task) Decision { return s.d }

func (s fixedStrategy) String() string { return s.name }

// taskTypeStrategy routes by exact task type; it is immutable after
// construction, so concurrent Decide calls need no locking.
type taskTypeStrategy struct {
	def       Decision
	overrides map[string]Decision
}

func (s *taskTypeStrategy) Decide(t *task.Task) Decision {
	if t != nil {
		if d, ok := s.overrides[t.Type]; ok {
			return d
		}
	}
	return s.def
}

func (s *taskTypeStrategy) String() string {
	return fmt.Sprintf("taskType{default=%s, overrides=%d}", s.def.Runner, len(s.overrides))
}
