package adapters

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

func lintPodTemplate(t *testing.T, doc string) *corev1.PodTemplate {
	t.Helper()
	var tpl corev1.PodTemplate
	require.NoError(t, yaml.Unmarshal([]byte(doc), &tpl))
	return &tpl
}

// findingsOf returns the findings of one severity on one field.
func findingsOf(fs []Finding, sev Severity, field string) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Severity == sev && f.Field == field {
			out = append(out, f)
		}
	}
	return out
}

func TestLintTemplate(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		// want lists severity, field and a message fragment of every
		// expected finding; the template must have no other findings.
		want []Finding
	}{
		{
			name: "good template",
			doc: `
template:
  spec:
    restartPolicy: Never
    containers:
      - name: main
        image: druid`,
		},
		{
			name: "no containers",
			doc: `
template:
  spec:
    restartPolicy: Never`,
			want: []Finding{{Severity: SeverityError, Field: "template.spec.containers", Message: "first container runs the peon"}},
		},
		{
			name: "restartPolicy Always",
			doc: `
template:
  spec:
    restartPolicy: Always
    containers: [{name: main, image: druid}]`,
			want: []Finding{{Severity: SeverityError, Field: "template.spec.restartPolicy", Message: "is Always"}},
		},
		{
			name: "restartPolicy OnFailure",
			doc: `
template:
  spec:
    restartPolicy: OnFailure
    containers: [{name: main, image: druid}]`,
			want: []Finding{{Severity: SeverityError, Field: "template.spec.restartPolicy", Message: "is OnFailure"}},
		},
		{
			name: "restartPolicy unset",
			doc: `
template:
  spec:
    containers: [{name: main, image: druid}]`,
			want: []Finding{{Severity: SeverityInfo, Field: "template.spec.restartPolicy", Message: "taskgate sets Never"}},
		},
		{
			name: "first container not named main",
			doc: `
template:
  spec:
    restartPolicy: Never
    containers: [{name: peon, image: druid}]`,
			want: []Finding{{Severity: SeverityInfo, Field: "template.spec.containers[0].name", Message: `"peon"`}},
		},
		{
			name: "overwritten env, labels and annotations",
			doc: `
template:
  metadata:
    labels: {druid.task.id: x, team: a}
    annotations: {task.id: x, tls.enabled: "true", other: b}
  spec:
    restartPolicy: Never
    containers:
      - name: main
        image: druid
        env:
          - {name: TASK_DIR, value: /x}
          - {name: TASK_JSON, value: "{}"}
          - {name: druid_host, value: h}
          - {name: OTHER, value: o}`,
			want: []Finding{
				{Severity: SeverityInfo, Field: "template.spec.containers[0].env", Message: "overwrites TASK_DIR, TASK_JSON on"},
				{Severity: SeverityInfo, Field: "template.spec.containers[0].env", Message: "druid_host kept"},
				{Severity: SeverityInfo, Field: "template.metadata.labels", Message: "overwrites druid.task.id;"},
				{Severity: SeverityInfo, Field: "template.metadata.annotations", Message: "overwrites tls.enabled, task.id;"},
			},
		},
		{
			name: "plain sidecar",
			doc: `
template:
  spec:
    restartPolicy: Never
    containers:
      - {name: main, image: druid}
      - {name: proxy, image: envoy}`,
			want: []Finding{{Severity: SeverityWarning, Field: "template.spec.containers[1]", Message: `sidecar "proxy" has no termination strategy`}},
		},
		{
			name: "native and kubexit sidecars",
			doc: `
template:
  spec:
    restartPolicy: Never
    initContainers:
      - {name: proxy, image: envoy, restartPolicy: Always}
    containers:
      - {name: main, image: druid}
      - {name: agent, image: a, command: [/kubexit/kubexit, /agent]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := LintTemplate("k", lintPodTemplate(t, tt.doc))
			require.Len(t, got, len(tt.want), "findings: %v", got)
			for i, w := range tt.want {
				assert.Equal(t, w.Severity, got[i].Severity, "finding %d: %v", i, got[i])
				assert.Equal(t, w.Field, got[i].Field, "finding %d: %v", i, got[i])
				assert.Equal(t, "k", got[i].Template)
				assert.Contains(t, got[i].Message, w.Message)
			}
		})
	}
}

func TestLintTemplateNil(t *testing.T) {
	got := LintTemplate("k", nil)
	require.Len(t, got, 1)
	assert.Equal(t, SeverityError, got[0].Severity)
}

func TestLintTemplates(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	cfg := DefaultConfig()
	cfg.AdapterType = TypeCustomTemplate
	cfg.Labels = map[string]string{"team": "x"}
	cfg.PodTemplates = map[string]string{
		"base":    write("base.yaml", "template:\n  spec:\n    restartPolicy: Never\n    containers: [{name: main, image: d}]\n"),
		"always":  write("always.yaml", "template:\n  metadata:\n    labels: {team: y}\n  spec:\n    restartPolicy: Always\n    containers: [{name: main, image: d}]\n"),
		"missing": filepath.Join(dir, "nope.yaml"),
		"deploy":  write("deploy.yaml", "kind: Deployment\ntemplate: {}\n"),
		"odd":     write("odd.yaml", "template:\n  spec:\n    restartPolicy: Never\n    bogus: 1\n    containers: [{name: main, image: d}]\n"),
	}
	r, err := LintTemplates(cfg)
	require.NoError(t, err)
	assert.True(t, r.HasErrors())
	assert.Equal(t, []string{"always", "deploy", "missing", "odd"}, r.Templates(), "base is clean: %v", r.Findings)

	byKey := map[string][]Finding{}
	for _, f := range r.Findings {
		byKey[f.Template] = append(byKey[f.Template], f)
	}
	assert.Len(t, findingsOf(byKey["always"], SeverityError, "template.spec.restartPolicy"), 1)
	// Configured druid.indexer.runner.labels keys are overwritten too.
	labels := findingsOf(byKey["always"], SeverityInfo, "template.metadata.labels")
	require.Len(t, labels, 1)
	assert.Contains(t, labels[0].Message, "team")
	missing := findingsOf(byKey["missing"], SeverityError, PropPodTemplatePrefix+"missing")
	require.Len(t, missing, 1)
	assert.Contains(t, missing[0].Message, "no such file")
	deploy := findingsOf(byKey["deploy"], SeverityError, PropPodTemplatePrefix+"deploy")
	require.Len(t, deploy, 1)
	assert.Contains(t, deploy[0].Message, `kind "Deployment"`)
	odd := findingsOf(byKey["odd"], SeverityWarning, PropPodTemplatePrefix+"odd")
	require.Len(t, odd, 1)
	assert.Contains(t, odd[0].Message, "bogus")
	assert.False(t, findingsOf(byKey["odd"], SeverityError, PropPodTemplatePrefix+"odd") != nil)

	// Findings are grouped by template, in key order.
	for i := 1; i < len(r.Findings); i++ {
		assert.LessOrEqual(t, r.Findings[i-1].Template, r.Findings[i].Template)
	}
}

func TestLintTemplatesClean(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "base.yaml")
	require.NoError(t, os.WriteFile(p, []byte("template:\n  spec:\n    restartPolicy: Never\n    containers: [{name: main, image: d}]\n"), 0o600))
	cfg := DefaultConfig()
	cfg.AdapterType = TypeCustomTemplate
	cfg.PodTemplates = map[string]string{"base": p}
	r, err := LintTemplates(cfg)
	require.NoError(t, err)
	assert.Empty(t, r.Findings)
	assert.False(t, r.HasErrors())
}

func TestLintTemplatesErrors(t *testing.T) {
	cfg := DefaultConfig()
	_, err := LintTemplates(cfg)
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), PropPodTemplatePrefix), err.Error())

	dir := t.TempDir()
	p := filepath.Join(dir, "x.yaml")
	require.NoError(t, os.WriteFile(p, []byte("template:\n  spec:\n    restartPolicy: Never\n    containers: [{name: main, image: d}]\n"), 0o600))
	cfg.PodTemplates = map[string]string{"other": p}
	r, err := LintTemplates(cfg)
	require.NoError(t, err)
	assert.True(t, r.HasErrors(), "no base template is an error: %v", r.Findings)
	assert.Len(t, findingsOf(r.Findings, SeverityError, PropPodTemplatePrefix+BaseTemplateKey), 1)
	assert.Len(t, findingsOf(r.Findings, SeverityInfo, PropAdapterType), 1, "templates unused by %s", cfg.AdapterType)
}
