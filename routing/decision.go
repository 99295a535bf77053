package routing

import "github.com/taskgate/taskgate/task"

// Decision is where a task goes and why.
type Decision struct {
	// Runner is RunnerK8s or RunnerWorker.
	Runner string
	// Rule names what decided, for spans, logs and migration stats, e.g.
	// "runnerStrategy.type=k8s", "taskType.overrides[index_kafka]",
	// "taskType.default" (see the Rule* constants).
	Rule string
}

// Strategy picks a runner for a task. Implementations must be safe for
// concurrent use and must not block.
type Strategy interface {
	Decide(t *task.Task) Decision
}
