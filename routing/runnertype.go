package routing

import (
	"fmt"
	"strings"
)

// PropertyRunnerType is Druid's runner selection property.
const PropertyRunnerType = "druid.indexer.runner.type"

// Values of PropertyRunnerType that taskgate serves. Druid's default is
// httpRemote (Middle Managers only).
const (
	RunnerTypeK8s          = "k8s"
	RunnerTypeK8sAndWorker = "k8sAndWorker"
	RunnerTypeHTTPRemote   = WorkerTypeHTTPRemote
	RunnerTypeRemote       = WorkerTypeRemote
)

// StrategyConfigForRunnerType reads druid.indexer.runner.type and returns the
// routing it implies, as a Druid Overlord configured the same way would
// behave: "k8s" sends every task to Kubernetes, "httpRemote" and "remote"
// send every task to Middle Managers (through that worker runner), and
// "k8sAndWorker" routes by the runnerStrategy properties. The gateway always
// runs the hybrid runner, so a later live routing change can move tasks
// without a restart whatever the starting point was.
func StrategyConfigForRunnerType(p PropertyGetter) (StrategyConfig, error) {
	runnerType := RunnerTypeHTTPRemote
	if v, ok := p.Get(PropertyRunnerType); ok && strings.TrimSpace(v) != "" {
		runnerType = strings.TrimSpace(v)
	}
	switch runnerType {
	case RunnerTypeK8sAndWorker:
		return StrategyConfigFromProperties(p)
	case RunnerTypeK8s:
		return StrategyConfig{Type: StrategyK8s, WorkerType: WorkerTypeHTTPRemote}, nil
	case RunnerTypeHTTPRemote, RunnerTypeRemote:
		return StrategyConfig{Type: StrategyWorker, WorkerType: runnerType}, nil
	default:
		return StrategyConfig{}, &PropertyError{Property: PropertyRunnerType,
			Reason: fmt.Sprintf("must be one of %q, %q, %q, %q; got %q",
				RunnerTypeK8s, RunnerTypeK8sAndWorker, RunnerTypeHTTPRemote, RunnerTypeRemote, runnerType)}
	}
}
