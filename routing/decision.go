package routing

import "github.com/taskgate/taskgate/task"

// Decision is where a task goes and why.
type Decision struct {
	// Runner is RunnerK8s or RunnerWorker.
	Runner string
	// Rule names what decided, for spans and logs, e.g. "type=k8s",
	// "taskType.overrides[index_kafka]", "taskType.default".
	Rule string
}

// Strategy picks a runner for a task. Implementations must be safe for
// concurrent use and must not block.
type Strategy interface {
	Decide(t *task.Task) Decision
}
