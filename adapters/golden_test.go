package adapters

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/taskgate/taskgate/task"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const payloadPlaceholder = "<base64(gzip(task JSON)): decoded and compared with the task file by the test>"

var goldenTasks = []string{"index_parallel", "index_kafka", "compact", "odd_id"}

// goldenConfig is the configuration the golden files were made with: it sets
// every option the adapters read, so each shows in some golden file.
func goldenConfig(t *testing.T, adapterType string) Config {
	t.Helper()
	grace := int64(30)
	c := DefaultConfig()
	c.AdapterType = adapterType
	c.Namespace = "druid"
	c.PrimaryContainerName = "druid-overlord"
	c.JavaOptsArray = []string{"-Xmx2g", "-XX:MaxDirectMemorySize=3g", "-Duser.timezone=UTC"}
	c.PeonMonitors = []string{"org.apache.druid.java.util.metrics.JvmMonitor"}
	c.CPUCoreInMicro = 1500
	c.Labels = map[string]string{"app.kubernetes.io/part-of": "druid"}
	c.Annotations = map[string]string{"example.com/owner": "ingest-team"}
	c.GraceTerminationPeriodSeconds = &grace
	c.BaseDir = "/druid/data"
	c.PodTemplates = map[string]string{
		"base":        filepath.Join("testdata", "podtemplates", "base.yaml"),
		"index_kafka": filepath.Join("testdata", "podtemplates", "index_kafka.yaml"),
	}
	require.NoError(t, c.Validate())
	return c
}

func loadSourcePod(t *testing.T) *corev1.Pod {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "overlord-pod.yaml"))
	require.NoError(t, err)
	var pod corev1.Pod
	require.NoError(t, yaml.UnmarshalStrict(data, &pod))
	return &pod
}

func loadTask(t *testing.T, name string) (*task.Task, []byte) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "tasks", name+".json"))
	require.NoError(t, err)
	tk, err := task.Parse(raw)
	require.NoError(t, err)
	return tk, raw
}

func newTestAdapter(t *testing.T, c Config, deps Deps) Adapter {
	t.Helper()
	if deps.SourcePod == nil && c.AdapterType != TypeCustomTemplate {
		deps.SourcePod = loadSourcePod(t)
	}
	a, err := New(c, deps)
	require.NoError(t, err)
	return a
}

func TestGolden(t *testing.T) {
	for _, adapterType := range []string{TypeSingleContainer, TypeMultiContainer, TypeCustomTemplate} {
		for _, name := range goldenTasks {
			t.Run(adapterType+"/"+name, func(t *testing.T) {
				a := newTestAdapter(t, goldenConfig(t, adapterType), Deps{})
				tk, raw := loadTask(t, name)
				job, err := a.FromTask(context.Background(), tk)
				require.NoError(t, err)

				assertDruidIdentity(t, job, tk, raw)

				got := renderGolden(t, job)
				file := filepath.Join("testdata", adapterType+"_"+name+".golden.yaml")
				if *update {
					require.NoError(t, os.WriteFile(file, got, 0o644))
				}
				want, err := os.ReadFile(file)
				require.NoError(t, err, "golden file missing; run go test ./adapters -run TestGolden -update")
				assert.Equal(t, string(want), string(got), "Job differs from %s; if the change is intended, run with -update and review the diff", file)
			})
		}
	}
}

// assertDruidIdentity checks, independently of the golden file, what Druid and
// the peon rely on.
func assertDruidIdentity(t *testing.T, job *batchv1.Job, tk *task.Task, raw []byte) {
	t.Helper()
	assert.Empty(t, validation.IsDNS1123Label(job.Name), "job name %q", job.Name)
	assert.Equal(t, "true", job.Labels[LabelPeon])
	assert.Equal(t, "true", job.Spec.Template.Labels[LabelPeon])
	for k, v := range job.Labels {
		assert.Empty(t, validation.IsQualifiedName(k), "label key %q", k)
		assert.Empty(t, validation.IsValidLabelValue(v), "label %q value %q", k, v)
	}
	assert.Equal(t, tk.ID, job.Spec.Template.Annotations[AnnotationTaskID])
	assert.Equal(t, tk.ID, job.Annotations[AnnotationTaskID])
	assert.Contains(t, []string{"true", "false"}, job.Spec.Template.Annotations[AnnotationTLSEnabled])
	assert.Equal(t, int32(0), *job.Spec.BackoffLimit)
	assert.Equal(t, int64(4*3600), *job.Spec.ActiveDeadlineSeconds)
	assert.Equal(t, int32(2*24*3600), *job.Spec.TTLSecondsAfterFinished)
	assert.Equal(t, corev1.RestartPolicyNever, job.Spec.Template.Spec.RestartPolicy)

	main := job.Spec.Template.Spec.Containers[0]
	env := map[string]corev1.EnvVar{}
	for _, e := range main.Env {
		_, dup := env[e.Name]
		assert.False(t, dup, "env %s appears twice", e.Name)
		env[e.Name] = e
	}
	for _, name := range []string{EnvTaskDir, EnvTaskID, EnvLoadBroadcastSegments, EnvLoadBroadcastDatasourceMode, EnvTaskJSON, EnvDruidHost, EnvHostname} {
		assert.Contains(t, env, name)
	}
	// Kubernetes turns "$$" back into "$".
	assert.Equal(t, tk.ID, strings.ReplaceAll(env[EnvTaskID].Value, "$$", "$"))

	// TASK_JSON must decode to the submitted task, byte for byte.
	encoded := env[EnvTaskJSON].Value
	if env[EnvTaskJSON].ValueFrom != nil {
		assert.Equal(t, "metadata.annotations['task']", env[EnvTaskJSON].ValueFrom.FieldRef.FieldPath)
		encoded = job.Spec.Template.Annotations[AnnotationTask]
	}
	decoded, err := DecodeTaskJSON(encoded)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(raw, decoded), "TASK_JSON does not decode to the task file")
	back, err := TaskFromJob(context.Background(), job, nil)
	require.NoError(t, err)
	assert.Equal(t, raw, back.Raw())

	if job.Annotations[AnnotationJobTemplate] == "" {
		// Overlord adapters: Druid's env, ports, command.
		assert.Equal(t, MainContainerName, main.Name)
		assert.Contains(t, env, EnvJavaOpts)
		assert.Equal(t, "status.podIP", env[EnvDruidHost].ValueFrom.FieldRef.FieldPath)
		assert.Equal(t, "metadata.name", env[EnvHostname].ValueFrom.FieldRef.FieldPath)
		assert.Equal(t, []corev1.ContainerPort{
			{Name: TLSPortName, ContainerPort: TLSPort, Protocol: corev1.ProtocolTCP},
			{Name: PortName, ContainerPort: Port, Protocol: corev1.ProtocolTCP},
		}, main.Ports)
		assert.Nil(t, main.ReadinessProbe)
		assert.Nil(t, main.LivenessProbe)
		assert.Nil(t, main.StartupProbe)
		assert.Empty(t, job.Spec.Template.Spec.NodeName)
		assert.Equal(t, job.Name, job.Spec.Template.Spec.Hostname)
	}
}

// renderGolden is the Job as YAML with the compressed payloads replaced.
func renderGolden(t *testing.T, job *batchv1.Job) []byte {
	t.Helper()
	j := job.DeepCopy()
	if _, ok := j.Spec.Template.Annotations[AnnotationTask]; ok {
		j.Spec.Template.Annotations[AnnotationTask] = payloadPlaceholder
	}
	for i := range j.Spec.Template.Spec.Containers {
		for k, e := range j.Spec.Template.Spec.Containers[i].Env {
			if e.Name == EnvTaskJSON && e.Value != "" {
				j.Spec.Template.Spec.Containers[i].Env[k].Value = payloadPlaceholder
			}
		}
	}
	out, err := yaml.Marshal(j)
	require.NoError(t, err)
	header := "# Generated by TestGolden (go test ./adapters -run TestGolden -update); review diffs by hand.\n"
	return []byte(header + strings.TrimRight(string(out), "\n") + "\n")
}
