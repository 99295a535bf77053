package adapters

import (
	"fmt"
	"strings"

	"github.com/taskgate/taskgate/dynconfig"
)

// ExecutionConfigChecker checks a dynamic execution config against the pod
// templates an adapter has. Every adapter implements it, so the execution
// config endpoint can call it whatever the adapter type.
type ExecutionConfigChecker interface {
	// CheckExecutionConfig refuses a config whose selectorBased strategy
	// selects a pod template that is not configured, or whose file is
	// refused (it does not parse or has lint errors: see ReloadTemplates).
	// The error is a *dynconfig.FieldError naming the selector's field,
	// e.g. podTemplateSelectStrategy.selectors[0].selectionKey. warnings
	// are things the config's author should know but that do not stop it
	// (lint warnings of a selected template, a strategy that has no effect
	// with this adapter). A nil cfg, or one without a strategy, passes.
	CheckExecutionConfig(cfg *dynconfig.ExecutionConfig) (warnings []string, err error)
}

// CheckExecutionConfig implements ExecutionConfigChecker. Every template
// file is looked at first, so the answer reflects the files as they are now.
func (a *templateAdapter) CheckExecutionConfig(cfg *dynconfig.ExecutionConfig) ([]string, error) {
	if cfg == nil || cfg.PodTemplateSelectStrategy == nil {
		return nil, nil
	}
	a.templates.refreshAll()
	s := cfg.PodTemplateSelectStrategy
	var warnings []string
	if s.Type != dynconfig.StrategyTypeSelectorBased {
		// The task-type strategy names no template; a refused template
		// still serves its last good version, which its author should know.
		for _, k := range sortedKeys(a.templates.files) {
			if err := a.templates.refusal(k); err != nil {
				warnings = append(warnings, fmt.Sprintf("pod template %q: its file is refused and the last good version is in use: %v", k, err))
			}
		}
		return warnings, nil
	}
	for i, sel := range s.Selectors {
		field := fmt.Sprintf("podTemplateSelectStrategy.selectors[%d].selectionKey", i)
		key := sel.SelectionKey
		if _, ok := a.templates.files[key]; !ok {
			return warnings, &dynconfig.FieldError{Field: field, Reason: fmt.Sprintf("no pod template %q is configured (set %s%s; configured: %s)",
				key, PropPodTemplatePrefix, key, strings.Join(sortedKeys(a.templates.files), ", "))}
		}
		if err := a.templates.refusal(key); err != nil {
			return warnings, &dynconfig.FieldError{Field: field, Reason: fmt.Sprintf("pod template %q is refused: %v; fix %s first", key, err, a.templates.files[key])}
		}
		for _, f := range a.templates.lintWarnings(key) {
			warnings = append(warnings, fmt.Sprintf("%s: pod template %q: %s: %s", field, key, f.Field, f.Message))
		}
	}
	return warnings, nil
}

// CheckExecutionConfig implements ExecutionConfigChecker. The overlord
// adapters use no pod templates, so a strategy is accepted (as Druid does)
// with a warning that it changes nothing.
func (a *overlordAdapter) CheckExecutionConfig(cfg *dynconfig.ExecutionConfig) ([]string, error) {
	if cfg == nil || cfg.PodTemplateSelectStrategy == nil {
		return nil, nil
	}
	return []string{fmt.Sprintf("podTemplateSelectStrategy has no effect: %s is %s, and only %s uses pod templates",
		PropAdapterType, a.Type(), TypeCustomTemplate)}, nil
}

// ReloadTemplates implements TemplateReloader.
func (a *templateAdapter) ReloadTemplates() []string { return a.templates.refreshAll() }

// TemplateStatuses implements TemplateStatusReporter.
func (a *templateAdapter) TemplateStatuses() []TemplateStatus {
	a.templates.refreshAll()
	return a.templates.statuses()
}
