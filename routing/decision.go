package routing

import (
	"time"

	"github.com/taskgate/taskgate/task"
)

// Decision is where a task goes and why.
type Decision struct {
	// Runner is RunnerK8s or RunnerWorker.
	Runner string
	// Rule names what decided, for spans, logs and migration stats, e.g.
	// "runnerStrategy.type=k8s", "taskType.overrides[index_kafka]",
	// "taskType.default", "rules[parallel-canary]" (see the Rule* constants).
	Rule string
	// RuleName is the routing rule's name when a rule decided, else "".
	RuleName string
	// Fallback is the deciding rule's spill policy; nil for none.
	Fallback *Fallback
	// Diverted, when set, says why Runner is not what the rule chose: the
	// worker side is draining (RuleDrain), or a fallback spilled the task
	// ("fallback: ..." with the reason).
	Diverted string
	// DivertReason is Diverted's kind without the figures, for counting:
	// RuleDrain, DivertUnreachable or DivertNoIdleSlot; "" when not diverted.
	DivertReason string
}

// Decision.DivertReason values of a fallback.
const (
	DivertUnreachable = "fallback.unreachable"
	DivertNoIdleSlot  = "fallback.noIdleSlot"
)

// Fallback says when Hybrid sends a task to the other runner than the one
// its rule chose (dynconfig.Fallback, compiled).
type Fallback struct {
	// NoSlotFor spills when the chosen runner has had no idle slot for at
	// least this long; 0 never spills for lack of slots.
	NoSlotFor time.Duration
	// Unreachable spills when the chosen runner reports it cannot be
	// reached (see Reachability).
	Unreachable bool
}

// Strategy picks a runner for a task. Implementations must be safe for
// concurrent use and must not block.
type Strategy interface {
	Decide(t *task.Task) Decision
}

// Reachability is implemented by runners that can tell whether they can take
// a task right now; a runner without it counts as reachable. It must answer
// from memory (no network call): it runs on the submit path.
type Reachability interface {
	// Unreachable returns why the runner cannot take tasks now, or "".
	Unreachable() string
}
