package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/yaml"

	"github.com/taskgate/taskgate/adapters"
)

// druidSelectorExample is the selectorBased example of Druid's docs.
const druidSelectorExample = `{
  "type": "default",
  "podTemplateSelectStrategy": {
    "type": "selectorBased",
    "selectors": [
      {"selectionKey": "podSpec1", "context.tags": {"userProvidedTag": ["tag1", "tag2"]}, "dataSource": ["wikipedia"]},
      {"selectionKey": "podSpec2", "type": ["index_kafka"]}
    ]
  }
}`

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

func podTemplate(image string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: PodTemplate
metadata:
  name: peon
template:
  spec:
    containers:
      - name: main
        image: %s
`, image)
}

// customTemplateSetup writes four pod templates, each with its own image so
// the chosen one shows in the Job, and the properties naming them.
func customTemplateSetup(t *testing.T) (dir, props string) {
	t.Helper()
	dir = t.TempDir()
	var b strings.Builder
	b.WriteString("druid.indexer.runner.k8s.adapter.type=customTemplateAdapter\n")
	for _, key := range []string{"base", "podSpec1", "podSpec2", "index_kafka"} {
		f := writeFile(t, dir, key+".yaml", podTemplate("peon:"+key))
		fmt.Fprintf(&b, "druid.indexer.runner.k8s.podTemplate.%s=%s\n", key, f)
	}
	props = writeFile(t, dir, "runtime.properties", b.String())
	return dir, props
}

func taskJSON(id, typ, ds, tag string) string {
	ctx := `{}`
	if tag != "" {
		ctx = fmt.Sprintf(`{"tags":{"userProvidedTag":%q}}`, tag)
	}
	return fmt.Sprintf(`{"type":%q,"id":%q,"dataSource":%q,"context":%s}`, typ, id, ds, ctx)
}

func parseRenderedJob(t *testing.T, out string) *batchv1.Job {
	t.Helper()
	var job batchv1.Job
	require.NoError(t, yaml.UnmarshalStrict([]byte(out), &job), "stdout is not a Job:\n%s", out)
	assert.Equal(t, "Job", job.Kind)
	assert.Equal(t, "batch/v1", job.APIVersion)
	return &job
}

func TestRenderSelectsTemplate(t *testing.T) {
	dir, props := customTemplateSetup(t)
	exec := writeFile(t, dir, "exec.json", druidSelectorExample)
	tests := []struct {
		name       string
		task       string
		exec       bool
		wantKey    string
		wantReason string
	}{
		{"tagged wikipedia kafka task: first selector", taskJSON("t1", "index_kafka", "wikipedia", "tag1"), true, "podSpec1", "selector 0"},
		{"second allowed tag value", taskJSON("t2", "index_parallel", "wikipedia", "tag2"), true, "podSpec1", "selector 0"},
		{"kafka task elsewhere: second selector", taskJSON("t3", "index_kafka", "koalas", "tag1"), true, "podSpec2", "selector 1"},
		{"wikipedia kafka task with another tag: second selector", taskJSON("t4", "index_kafka", "wikipedia", "tag9"), true, "podSpec2", "selector 1"},
		{"no selector matches: base", taskJSON("t5", "index_parallel", "koalas", ""), true, "base", "no selector of 2 matched"},
		{"no execution config: task-type strategy", taskJSON("t6", "index_kafka", "wikipedia", "tag1"), false, "index_kafka", `task type "index_kafka" has its own pod template`},
		{"no execution config, no template for the type", taskJSON("t7", "compact", "wikipedia", ""), false, "base", "using base"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			taskFile := writeFile(t, t.TempDir(), "task.json", tc.task)
			args := []string{"render", "--task", taskFile, "--config", props}
			if tc.exec {
				args = append(args, "--execution-config", exec)
			}
			code, out, errOut := runCmd(t, nil, args...)
			require.Equal(t, 0, code, "stderr: %s", errOut)
			job := parseRenderedJob(t, out)
			assert.Equal(t, "peon:"+tc.wantKey, job.Spec.Template.Spec.Containers[0].Image)
			line := fmt.Sprintf("pod template: %s (druid.indexer.runner.k8s.podTemplate.%s): ", tc.wantKey, tc.wantKey)
			assert.Contains(t, errOut, line+"")
			assert.Contains(t, errOut, tc.wantReason)
			// The same explanation heads the YAML as a comment.
			assert.Contains(t, out, "# "+line)
			assert.Contains(t, out, "# adapter: customTemplateAdapter")
		})
	}
}

// TestRenderOverlordAdapterIsExact renders the adapters package's golden
// case through the command and checks the Job is the golden one.
func TestRenderOverlordAdapterIsExact(t *testing.T) {
	testdata := filepath.Join("..", "..", "adapters", "testdata")
	abs, err := filepath.Abs(testdata)
	require.NoError(t, err)
	props := writeProps(t, fmt.Sprintf(`
druid.indexer.runner.k8s.adapter.type=overlordSingleContainer
druid.indexer.runner.namespace=druid
druid.indexer.runner.primaryContainerName=druid-overlord
druid.indexer.runner.javaOptsArray=["-Xmx2g","-XX:MaxDirectMemorySize=3g","-Duser.timezone=UTC"]
druid.indexer.runner.peonMonitors=["org.apache.druid.java.util.metrics.JvmMonitor"]
druid.indexer.runner.cpuCoreInMicro=1500
druid.indexer.runner.labels={"app.kubernetes.io/part-of":"druid"}
druid.indexer.runner.annotations={"example.com/owner":"ingest-team"}
druid.indexer.runner.graceTerminationPeriodSeconds=30
druid.indexer.task.baseDir=/druid/data
druid.indexer.runner.k8s.podTemplate.base=%s/podtemplates/base.yaml
druid.indexer.runner.k8s.podTemplate.index_kafka=%s/podtemplates/index_kafka.yaml
`, abs, abs))
	code, out, errOut := runCmd(t, nil, "render", "--task", filepath.Join(testdata, "tasks", "index_parallel.json"),
		"--config", props, "--source-pod", filepath.Join(testdata, "overlord-pod.yaml"))
	require.Equal(t, 0, code, "stderr: %s", errOut)
	assert.Contains(t, errOut, "adapter: overlordSingleContainer")
	assert.NotContains(t, errOut, "pod template:")

	job := parseRenderedJob(t, out)
	// The golden file is Druid's Job; taskgate adds only its owner label,
	// which ties the Job to this gateway (checked here, then set aside).
	assert.Equal(t, "druid", job.Labels[adapters.LabelOwner])
	assert.Equal(t, "druid", job.Spec.Template.Labels[adapters.LabelOwner])
	delete(job.Labels, adapters.LabelOwner)
	delete(job.Spec.Template.Labels, adapters.LabelOwner)
	// The golden files replace the gzip payload, whose bytes depend on the
	// Go release; adapters' own golden test decodes and checks it.
	const placeholder = "<base64(gzip(task JSON)): decoded and compared with the task file by the test>"
	for i, e := range job.Spec.Template.Spec.Containers[0].Env {
		if e.Name == adapters.EnvTaskJSON {
			job.Spec.Template.Spec.Containers[0].Env[i].Value = placeholder
		}
	}
	got, err := yaml.Marshal(job)
	require.NoError(t, err)
	golden, err := os.ReadFile(filepath.Join(testdata, "overlordSingleContainer_index_parallel.golden.yaml"))
	require.NoError(t, err)
	want := string(golden[strings.IndexByte(string(golden), '\n')+1:]) // drop the golden header comment
	assert.Equal(t, want, string(got))

	// stdout is the header comment and then exactly yaml.Marshal of the Job.
	var body []string
	for _, l := range strings.SplitAfter(out, "\n") {
		if !strings.HasPrefix(l, "# ") {
			body = append(body, l)
		}
	}
	again, err := yaml.Marshal(parseRenderedJob(t, out))
	require.NoError(t, err)
	assert.Equal(t, string(again), strings.Join(body, ""))
}

func TestRenderErrors(t *testing.T) {
	dir, props := customTemplateSetup(t)
	goodTask := writeFile(t, dir, "task.json", taskJSON("t1", "index_kafka", "wikipedia", ""))
	overlordProps := writeProps(t, "druid.indexer.runner.k8s.adapter.type=overlordMultiContainer\n")
	notAPod := writeFile(t, dir, "pt.yaml", podTemplate("x"))
	emptyPod := writeFile(t, dir, "empty-pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: o}\nspec: {containers: []}\n")
	noBase := writeProps(t, "druid.indexer.runner.k8s.adapter.type=customTemplateAdapter\n")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
	}{
		{"no --task", []string{"--config", props}, 2, []string{"--task is required"}},
		{"stray argument", []string{"--task", goodTask, "extra"}, 2, []string{`unexpected argument "extra"`}},
		{"task file missing", []string{"--task", filepath.Join(dir, "nope.json"), "--config", props}, 1, []string{"--task:", "nope.json"}},
		{"task without id", []string{"--task", writeFile(t, dir, "noid.json", `{"type":"index"}`), "--config", props}, 1,
			[]string{"--task", `task field "id": is required`}},
		{"overlord adapter without --source-pod", []string{"--task", goodTask, "--config", overlordProps}, 1,
			[]string{"--source-pod is required", "druid.indexer.runner.k8s.adapter.type=overlordMultiContainer", "kubectl get pod"}},
		{"default adapter without --source-pod", []string{"--task", goodTask}, 1,
			[]string{"--source-pod is required", "druid.indexer.runner.k8s.adapter.type=overlordSingleContainer"}},
		{"source pod of the wrong kind", []string{"--task", goodTask, "--config", overlordProps, "--source-pod", notAPod}, 1,
			[]string{"--source-pod " + notAPod, `kind must be Pod (apiVersion v1), got kind "PodTemplate"`}},
		{"source pod without containers", []string{"--task", goodTask, "--config", overlordProps, "--source-pod", emptyPod}, 1,
			[]string{"--source-pod " + emptyPod, "spec.containers is empty"}},
		{"source pod missing", []string{"--task", goodTask, "--config", overlordProps, "--source-pod", filepath.Join(dir, "nope.yaml")}, 1,
			[]string{"--source-pod:"}},
		{"unknown selectionKey", []string{"--task", goodTask, "--config", props, "--execution-config",
			writeFile(t, dir, "e1.json", `{"podTemplateSelectStrategy":{"type":"selectorBased","selectors":[{"selectionKey":"nope"}]}}`)}, 1,
			[]string{"--execution-config", "podTemplateSelectStrategy.selectors[0].selectionKey", `no pod template "nope" is configured`, "druid.indexer.runner.k8s.podTemplate.nope"}},
		{"wrong JSON type", []string{"--task", goodTask, "--config", props, "--execution-config",
			writeFile(t, dir, "e2.json", `{"podTemplateSelectStrategy":{"type":"selectorBased","selectors":{}}}`)}, 1,
			[]string{"--execution-config", "podTemplateSelectStrategy.selectors: must be a list"}},
		{"unknown strategy", []string{"--task", goodTask, "--config", props, "--execution-config",
			writeFile(t, dir, "e3.json", `{"podTemplateSelectStrategy":{"type":"random"}}`)}, 1,
			[]string{"podTemplateSelectStrategy.type", `unknown strategy type "random"`}},
		{"execution config missing", []string{"--task", goodTask, "--config", props, "--execution-config", filepath.Join(dir, "nope.json")}, 1,
			[]string{"--execution-config:"}},
		{"customTemplateAdapter without base", []string{"--task", goodTask, "--config", noBase}, 1,
			[]string{"druid.indexer.runner.k8s.podTemplate.base", "is required"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, nil, append([]string{"render"}, tc.args...)...)
			assert.Equal(t, tc.wantCode, code, "stderr: %s", errOut)
			assert.Empty(t, out, "nothing on stdout when rendering fails")
			for _, w := range tc.want {
				assert.Contains(t, errOut, w)
			}
		})
	}
}

func TestRenderNotes(t *testing.T) {
	dir, props := customTemplateSetup(t)
	taskFile := writeFile(t, dir, "task.json", taskJSON("t1", "index_kafka", "wikipedia", ""))
	pod := filepath.Join("..", "..", "adapters", "testdata", "overlord-pod.yaml")
	exec := writeFile(t, dir, "exec.json", `{"podTemplateSelectStrategy":{"type":"selectorBased","selectors":[{"selectionKey":"podSpec2","datasource":["x"]}]}}`)
	code, _, errOut := runCmd(t, nil, "render", "--task", taskFile, "--config", props, "--source-pod", pod, "--execution-config", exec)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "note: --source-pod is ignored")
	// A misspelt condition widens a selector; the dry run says so.
	assert.Contains(t, errOut, "unknown field podTemplateSelectStrategy.selectors[0].datasource ignored")

	overlordProps := writeProps(t, "druid.indexer.runner.k8s.adapter.type=overlordSingleContainer\n")
	code, _, errOut = runCmd(t, nil, "render", "--task", taskFile, "--config", overlordProps, "--source-pod", pod, "--execution-config", exec)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "note: --execution-config is ignored for pod selection")
}

func TestRenderInHelp(t *testing.T) {
	code, out, _ := runCmd(t, nil, "help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "render")
	code, _, errOut := runCmd(t, nil, "render", "-h")
	assert.Equal(t, 0, code)
	assert.Contains(t, errOut, "--execution-config")
	assert.Contains(t, errOut, "-source-pod")
}
