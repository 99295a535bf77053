package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lintSetup writes the base template and, when other is not empty, a second
// template "other" with that body, and returns the properties file naming them.
func lintSetup(t *testing.T, base, other string) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("druid.indexer.runner.k8s.adapter.type=customTemplateAdapter\n")
	fmt.Fprintf(&b, "druid.indexer.runner.k8s.podTemplate.base=%s\n", writeFile(t, dir, "base.yaml", base))
	if other != "" {
		fmt.Fprintf(&b, "druid.indexer.runner.k8s.podTemplate.other=%s\n", writeFile(t, dir, "other.yaml", other))
	}
	return writeFile(t, dir, "runtime.properties", b.String())
}

const lintGood = `apiVersion: v1
kind: PodTemplate
template:
  spec:
    restartPolicy: Never
    containers:
      - name: main
        image: druid
`

func TestLintTemplatesCommand(t *testing.T) {
	tests := []struct {
		name     string
		other    string
		wantCode int
		// wantLines must each appear as a line of stdout.
		wantLines []string
	}{
		{
			name:      "good templates",
			other:     lintGood,
			wantCode:  0,
			wantLines: []string{"  ok", "2 template(s), 0 error(s), 0 warning(s)"},
		},
		{
			name:     "restartPolicy Always",
			other:    strings.Replace(lintGood, "restartPolicy: Never", "restartPolicy: Always", 1),
			wantCode: 1,
			wantLines: []string{
				"  error   template.spec.restartPolicy: is Always: a peon must run once, restarting it re-runs a task the Overlord already tracks; use Never",
				"2 template(s), 1 error(s), 0 warning(s)",
			},
		},
		{
			name:     "sidecar without termination strategy",
			other:    lintGood + "      - name: proxy\n        image: envoy\n",
			wantCode: 0,
			wantLines: []string{
				`  warning template.spec.containers[1]: sidecar "proxy" has no termination strategy: the pod (and the task's Job) stays running after the peon exits; make it a native sidecar (an initContainer with restartPolicy: Always) or run it under kubexit`,
				"2 template(s), 0 error(s), 1 warning(s)",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			props := lintSetup(t, lintGood, tc.other)
			code, out, errOut := runCmd(t, nil, "lint-templates", "--config", props)
			require.Equal(t, tc.wantCode, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
			lines := strings.Split(out, "\n")
			for _, want := range tc.wantLines {
				assert.Contains(t, lines, want, "stdout:\n%s", out)
			}
			// Findings are grouped: base's header comes before other's, and
			// base (a good template) is ok.
			baseAt := strings.Index(out, "base (")
			otherAt := strings.Index(out, "other (")
			require.True(t, baseAt >= 0 && otherAt > baseAt, "stdout:\n%s", out)
			assert.True(t, strings.HasPrefix(out[baseAt:otherAt], "base (") && strings.Contains(out[baseAt:otherAt], "\n  ok\n"), "stdout:\n%s", out)
		})
	}
}

func TestLintTemplatesCommandErrors(t *testing.T) {
	t.Run("-D names a missing file", func(t *testing.T) {
		props := lintSetup(t, lintGood, "")
		code, out, _ := runCmd(t, nil, "lint-templates", "--config", props, "-D", "druid.indexer.runner.k8s.podTemplate.gone=/nonexistent/gone.yaml")
		assert.Equal(t, 1, code)
		assert.Contains(t, out, "gone (/nonexistent/gone.yaml):\n  error   druid.indexer.runner.k8s.podTemplate.gone: ")
	})
	t.Run("no templates configured", func(t *testing.T) {
		code, _, errOut := runCmd(t, nil, "lint-templates", "-D", "druid.indexer.runner.k8s.adapter.type=overlordSingleContainer")
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "no pod templates are configured")
	})
	t.Run("stray argument", func(t *testing.T) {
		code, _, errOut := runCmd(t, nil, "lint-templates", "extra")
		assert.Equal(t, 2, code)
		assert.Contains(t, errOut, `unexpected argument "extra"`)
	})
}

func TestHelpListsLintTemplates(t *testing.T) {
	code, out, _ := runCmd(t, nil, "help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "lint-templates")
}
