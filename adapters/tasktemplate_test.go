package adapters

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/taskgate/taskgate/task"
)

func TestTaskContextPodTemplateSelection(t *testing.T) {
	_, c := copyTemplates(t)
	parse := func(t *testing.T, context string) *task.Task {
		t.Helper()
		raw := `{"type":"compact","id":"compact_ds_1","dataSource":"ds"`
		if context != "" {
			raw += `,"context":` + context
		}
		tk, err := task.Parse([]byte(raw + "}"))
		require.NoError(t, err)
		return tk
	}
	tests := []struct {
		name    string
		allow   bool
		context string
		wantKey string
		wantErr []string
	}{
		{name: "allowed, names a configured template", allow: true, context: `{"podTemplateSelectionKey":"index_kafka"}`, wantKey: "index_kafka"},
		{name: "allowed, names base", allow: true, context: `{"podTemplateSelectionKey":"base"}`, wantKey: "base"},
		{name: "allowed, no key uses the selector", allow: true, context: `{"priority":10}`, wantKey: "base"},
		{name: "allowed, no context uses the selector", allow: true, wantKey: "base"},
		{name: "not allowed, key ignored", allow: false, context: `{"podTemplateSelectionKey":"index_kafka"}`, wantKey: "base"},
		{name: "not allowed, missing template ignored", allow: false, context: `{"podTemplateSelectionKey":"nope"}`, wantKey: "base"},
		{
			name: "allowed, missing template fails", allow: true, context: `{"podTemplateSelectionKey":"nope"}`,
			wantErr: []string{"compact_ds_1", "podTemplateSelectionKey", `"nope"`, "druid.indexer.runner.k8s.podTemplate.nope is not configured", "base, index_kafka"},
		},
		{name: "allowed, empty name fails", allow: true, context: `{"podTemplateSelectionKey":""}`, wantErr: []string{"podTemplateSelectionKey", "non-empty string"}},
		{name: "allowed, non-string fails", allow: true, context: `{"podTemplateSelectionKey":3}`, wantErr: []string{"podTemplateSelectionKey", "non-empty string"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := c
			cfg.AllowTaskPodTemplateSelection = tc.allow
			a := newTestAdapter(t, cfg, Deps{})
			r, err := a.Render(parse(t, tc.context))
			if tc.wantErr != nil {
				require.Error(t, err)
				for _, s := range tc.wantErr {
					assert.ErrorContains(t, err, s)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantKey, r.TemplateKey)
			assert.Equal(t, tc.wantKey, r.Job.Annotations[AnnotationJobTemplate])
			if tc.allow && tc.wantKey != "base" {
				assert.Contains(t, r.TemplateReason, ContextPodTemplateSelectionKey)
			}
		})
	}
}

// The context key wins over the operator's selector, as in Druid.
func TestTaskContextPodTemplateBeatsSelector(t *testing.T) {
	_, c := copyTemplates(t)
	c.AllowTaskPodTemplateSelection = true
	called := false
	sel := TemplateSelectorFunc(func(*task.Task, map[string]*corev1.PodTemplate) (string, string, error) {
		called = true
		return "base", "selector", nil
	})
	a := newTestAdapter(t, c, Deps{Selector: sel})
	tk, err := task.Parse([]byte(`{"type":"compact","id":"c1","dataSource":"ds","context":{"podTemplateSelectionKey":"index_kafka"}}`))
	require.NoError(t, err)
	r, err := a.Render(tk)
	require.NoError(t, err)
	assert.Equal(t, "index_kafka", r.TemplateKey)
	assert.False(t, called, "the selector must not run when the task names its template")
}

func TestAllowTaskPodTemplateSelectionProperty(t *testing.T) {
	base := MapProperties{PropAdapterType: TypeCustomTemplate, PropPodTemplatePrefix + "base": "/t/base.yaml"}
	c, err := ConfigFromProperties(base)
	require.NoError(t, err)
	assert.False(t, c.AllowTaskPodTemplateSelection, "Druid's default is false")

	base[PropAllowTaskPodTemplateSelection] = "true"
	c, err = ConfigFromProperties(base)
	require.NoError(t, err)
	assert.True(t, c.AllowTaskPodTemplateSelection)

	base[PropAllowTaskPodTemplateSelection] = "yes"
	_, err = ConfigFromProperties(base)
	assert.ErrorContains(t, err, PropAllowTaskPodTemplateSelection)
}
