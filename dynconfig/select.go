package dynconfig

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/taskgate/taskgate/task"
)

// SelectTemplate picks the pod template key for t from available (the
// configured templates, always including "base"), as Druid's strategies
// do. It satisfies adapters.TemplateSelector:
//
//	var _ adapters.TemplateSelector = (*dynconfig.Strategy)(nil)
//
// (dynconfig may not import adapters, so that check belongs to the wiring.)
// A nil Strategy is the default one.
func (s *Strategy) SelectTemplate(t *task.Task, available map[string]*corev1.PodTemplate) (key, reason string, err error) {
	if t == nil {
		return "", "", fmt.Errorf("select pod template: task is nil")
	}
	if s == nil || s.Type != StrategyTypeSelectorBased {
		if _, ok := available[t.Type]; ok {
			return t.Type, fmt.Sprintf("task type %q has its own pod template", t.Type), nil
		}
		return BaseTemplateKey, fmt.Sprintf("no pod template for task type %q; using base", t.Type), nil
	}
	i, ok := s.Match(t)
	if !ok {
		return BaseTemplateKey, fmt.Sprintf("no selector of %d matched; using base", len(s.Selectors)), nil
	}
	key = s.Selectors[i].SelectionKey
	if _, ok := available[key]; !ok {
		// Druid falls back the same way; validation keeps this to templates
		// removed from the static config after the dynamic config was set.
		return BaseTemplateKey, fmt.Sprintf("selector %d matched but pod template %q is not configured; using base", i, key), nil
	}
	return key, fmt.Sprintf("selector %d (%s) matched", i, s.Selectors[i].describe()), nil
}

// Match returns the index of the first selector t matches.
func (s *Strategy) Match(t *task.Task) (int, bool) {
	if s == nil {
		return 0, false
	}
	for i := range s.Selectors {
		if s.Selectors[i].Matches(t) {
			return i, true
		}
	}
	return 0, false
}

// Matches reports whether t meets every condition of s, with Druid's
// Selector.evaluate rules: context.tags first (every named tag present in
// the task's context.tags with an allowed value; nil or {} is no
// condition), then type and dataSource (nil or empty is no condition; a task
// without a datasource matches no datasource list).
func (s *Selector) Matches(t *task.Task) bool {
	for tag, allowed := range s.ContextTags {
		v, ok := t.Tags[tag]
		if !ok || !slices.Contains(allowed, v) {
			return false
		}
	}
	if len(s.Type) > 0 && !slices.Contains(s.Type, t.Type) {
		return false
	}
	if len(s.DataSource) > 0 && (t.DataSource == "" || !slices.Contains(s.DataSource, t.DataSource)) {
		return false
	}
	return true
}

// describe summarises the conditions for a selection reason.
func (s *Selector) describe() string {
	var parts []string
	parts = append(parts, "selectionKey "+s.SelectionKey)
	if len(s.Type) > 0 {
		parts = append(parts, "type in ["+strings.Join(s.Type, ",")+"]")
	}
	if len(s.DataSource) > 0 {
		parts = append(parts, "dataSource in ["+strings.Join(s.DataSource, ",")+"]")
	}
	if len(s.ContextTags) > 0 {
		tags := make([]string, 0, len(s.ContextTags))
		for k, v := range s.ContextTags {
			tags = append(tags, k+" in ["+strings.Join(v, ",")+"]")
		}
		sort.Strings(tags)
		parts = append(parts, "context.tags "+strings.Join(tags, ", "))
	}
	return strings.Join(parts, "; ")
}
