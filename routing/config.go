package routing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Druid's runtime property names for the hybrid runner's strategy
// (KubernetesOverlordModule binds "druid.indexer.runner.k8sAndWorker" and the
// strategy reads "...runnerStrategy.<type>.*").
const (
	PropertyStrategyType      = "druid.indexer.runner.k8sAndWorker.runnerStrategy.type"
	PropertyWorkerType        = "druid.indexer.runner.k8sAndWorker.runnerStrategy.workerType"
	PropertyTaskTypeDefault   = "druid.indexer.runner.k8sAndWorker.runnerStrategy.taskType.default"
	PropertyTaskTypeOverrides = "druid.indexer.runner.k8sAndWorker.runnerStrategy.taskType.overrides"
)

// Strategy types: values of PropertyStrategyType.
const (
	StrategyK8s      = "k8s"
	StrategyWorker   = "worker"
	StrategyTaskType = "taskType"
)

// Worker runner types: values of PropertyWorkerType. They name which Druid
// worker runner drives the Middle Managers (HTTP or ZooKeeper based).
const (
	WorkerTypeHTTPRemote = "httpRemote"
	WorkerTypeRemote     = "remote"
)

// PropertyGetter reads one runtime property by its Druid name. The static
// config loader implements it; routing defines it so it need not import the
// loader.
type PropertyGetter interface {
	Get(key string) (string, bool)
}

// PropertyError reports a property whose value is not acceptable.
type PropertyError struct {
	Property string
	Reason   string
}

func (e *PropertyError) Error() string { return e.Property + ": " + e.Reason }

// StrategyConfig is the hybrid runner's routing configuration, as Druid's
// KubernetesAndWorkerTaskRunnerConfig plus the TaskTypeRunnerStrategy fields.
type StrategyConfig struct {
	// Type is the strategy: "k8s" (default: every task on Kubernetes),
	// "worker" (every task on Middle Managers) or "taskType" (per task type).
	// Empty means the default.
	Type string
	// WorkerType is the Middle Manager runner: "httpRemote" (default) or
	// "remote". Empty means the default. Routing does not use it; the wiring
	// that builds the worker runner does.
	WorkerType string
	// TaskTypeDefault is the runner ("k8s" or "worker") for task types that
	// have no override. It has no default: Druid's TaskTypeRunnerStrategy
	// refuses to start without it (Preconditions.checkNotNull), so it is
	// required when Type is "taskType".
	TaskTypeDefault string
	// TaskTypeOverrides maps a task type (exact, case-sensitive match) to the
	// runner ("k8s" or "worker") that runs it.
	TaskTypeOverrides map[string]string
}

// DefaultStrategyConfig returns Druid's defaults: every task on Kubernetes,
// Middle Managers driven over HTTP.
func DefaultStrategyConfig() StrategyConfig {
	return StrategyConfig{Type: StrategyK8s, WorkerType: WorkerTypeHTTPRemote}
}

// withDefaults fills the fields that have defaults.
func (c StrategyConfig) withDefaults() StrategyConfig {
	if c.Type == "" {
		c.Type = StrategyK8s
	}
	if c.WorkerType == "" {
		c.WorkerType = WorkerTypeHTTPRemote
	}
	return c
}

// Validate checks the configuration and returns every problem found, each a
// *PropertyError naming the property.
//
// taskType.default and taskType.overrides are checked even when Type is not
// "taskType" (Druid ignores them then): a bad rule that lies dormant would
// only surface when routing is switched to taskType, which is exactly when a
// migration can least afford a surprise.
func (c StrategyConfig) Validate() error {
	var errs []error
	switch c.Type {
	case "", StrategyK8s, StrategyWorker, StrategyTaskType:
	default:
		errs = append(errs, &PropertyError{Property: PropertyStrategyType,
			Reason: fmt.Sprintf("must be one of %q, %q, %q; got %q", StrategyK8s, StrategyWorker, StrategyTaskType, c.Type)})
	}
	switch c.WorkerType {
	case "", WorkerTypeHTTPRemote, WorkerTypeRemote:
	default:
		errs = append(errs, &PropertyError{Property: PropertyWorkerType,
			Reason: fmt.Sprintf("must be one of %q, %q; got %q", WorkerTypeHTTPRemote, WorkerTypeRemote, c.WorkerType)})
	}
	switch c.TaskTypeDefault {
	case RunnerK8s, RunnerWorker:
	case "":
		if c.Type == StrategyTaskType {
			errs = append(errs, &PropertyError{Property: PropertyTaskTypeDefault,
				Reason: fmt.Sprintf("is required when %s=%s (%q or %q)", PropertyStrategyType, StrategyTaskType, RunnerK8s, RunnerWorker)})
		}
	default:
		errs = append(errs, &PropertyError{Property: PropertyTaskTypeDefault,
			Reason: fmt.Sprintf("must be %q or %q; got %q", RunnerK8s, RunnerWorker, c.TaskTypeDefault)})
	}
	for _, taskType := range sortedKeys(c.TaskTypeOverrides) {
		if taskType == "" {
			errs = append(errs, &PropertyError{Property: PropertyTaskTypeOverrides, Reason: "task type must not be empty"})
			continue
		}
		switch r := c.TaskTypeOverrides[taskType]; r {
		case RunnerK8s, RunnerWorker:
		default:
			errs = append(errs, &PropertyError{Property: PropertyTaskTypeOverrides,
				Reason: fmt.Sprintf("task type %q: runner must be %q or %q; got %q", taskType, RunnerK8s, RunnerWorker, r)})
		}
	}
	return errors.Join(errs...)
}

// StrategyConfigFromProperties reads the strategy properties, applies the
// defaults and validates the result. Values are trimmed; a blank value counts
// as not set. taskType.overrides is a JSON object of task type to runner,
// e.g. {"index_kafka":"worker","compact":"k8s"}; "null" means no overrides.
func StrategyConfigFromProperties(p PropertyGetter) (StrategyConfig, error) {
	cfg := DefaultStrategyConfig()
	get := func(key string) (string, bool) {
		v, ok := p.Get(key)
		v = strings.TrimSpace(v)
		return v, ok && v != ""
	}
	if v, ok := get(PropertyStrategyType); ok {
		cfg.Type = v
	}
	if v, ok := get(PropertyWorkerType); ok {
		cfg.WorkerType = v
	}
	if v, ok := get(PropertyTaskTypeDefault); ok {
		cfg.TaskTypeDefault = v
	}
	if v, ok := get(PropertyTaskTypeOverrides); ok {
		overrides, err := parseOverrides(v)
		if err != nil {
			return StrategyConfig{}, err
		}
		cfg.TaskTypeOverrides = overrides
	}
	if err := cfg.Validate(); err != nil {
		return StrategyConfig{}, err
	}
	return cfg, nil
}

// parseOverrides reads the overrides JSON object. Values are read one by one
// so an error names the task type whose value is wrong.
func parseOverrides(v string) (map[string]string, error) {
	const shape = `must be a JSON object of task type to runner ("k8s" or "worker")`
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		return nil, &PropertyError{Property: PropertyTaskTypeOverrides, Reason: fmt.Sprintf("%s: %v", shape, err)}
	}
	if raw == nil {
		// JSON null: Druid's overrides field is @Nullable, so null is "none".
		return nil, nil
	}
	out := make(map[string]string, len(raw))
	for _, taskType := range sortedKeys(raw) {
		rv := bytes.TrimSpace(raw[taskType])
		var s string
		if len(rv) == 0 || rv[0] != '"' || json.Unmarshal(rv, &s) != nil {
			return nil, &PropertyError{Property: PropertyTaskTypeOverrides,
				Reason: fmt.Sprintf("task type %q: runner must be the string %q or %q; got %s", taskType, RunnerK8s, RunnerWorker, truncate(string(rv), 64))}
		}
		out[taskType] = s
	}
	return out, nil
}

// truncate keeps error messages short when a value is a large JSON document,
// cutting on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
