package adapters

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/taskgate/taskgate/task"
)

// TemplateSelector picks the pod template for a task (customTemplateAdapter).
// available maps each configured key (druid.indexer.runner.k8s.podTemplate.<key>)
// to its parsed template; it always has "base" and must not be modified.
// SelectTemplate returns the chosen key and a short reason for operators. A
// key that is not in available falls back to "base", as Druid's selectorBased
// strategy does. It is called for every task, so an implementation backed by
// the dynamic config sees changes without a restart.
type TemplateSelector interface {
	SelectTemplate(t *task.Task, available map[string]*corev1.PodTemplate) (key, reason string, err error)
}

// TemplateSelectorFunc adapts a function to TemplateSelector.
type TemplateSelectorFunc func(t *task.Task, available map[string]*corev1.PodTemplate) (string, string, error)

// SelectTemplate calls f.
func (f TemplateSelectorFunc) SelectTemplate(t *task.Task, available map[string]*corev1.PodTemplate) (string, string, error) {
	return f(t, available)
}

// TaskTypeSelector is Druid's default strategy (TaskTypePodTemplateSelectStrategy,
// dynamic config {"type":"default"}): the template keyed by the task's type,
// else "base".
type TaskTypeSelector struct{}

// SelectTemplate implements TemplateSelector.
func (TaskTypeSelector) SelectTemplate(t *task.Task, available map[string]*corev1.PodTemplate) (string, string, error) {
	if _, ok := available[t.Type]; ok {
		return t.Type, fmt.Sprintf("task type %q has its own pod template", t.Type), nil
	}
	return BaseTemplateKey, fmt.Sprintf("no pod template for task type %q; using base", t.Type), nil
}
