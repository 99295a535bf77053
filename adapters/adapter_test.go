package adapters

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/taskgate/taskgate/task"
)

type fakePayloads struct {
	mu    sync.Mutex
	store map[string][]byte
	err   error
}

func (f *fakePayloads) PushTaskPayload(_ context.Context, id string, payload []byte) error {
	if f.err != nil {
		return f.err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.store == nil {
		f.store = map[string][]byte{}
	}
	f.store[id] = append([]byte(nil), payload...)
	return nil
}

func (f *fakePayloads) TaskPayload(_ context.Context, id string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.store[id]
	if !ok {
		return nil, errors.New("no such payload")
	}
	return p, nil
}

func mainEnv(job *batchv1.Job) map[string]corev1.EnvVar {
	out := map[string]corev1.EnvVar{}
	for _, e := range job.Spec.Template.Spec.Containers[0].Env {
		out[e.Name] = e
	}
	return out
}

// bigTask has a payload whose compressed base64 is well over MaxTaskJSONChars.
func bigTask(t *testing.T) (*task.Task, []byte) {
	t.Helper()
	noise := make([]byte, 150_000)
	_, err := rand.Read(noise)
	require.NoError(t, err)
	raw, err := json.Marshal(map[string]any{
		"type": "index_parallel", "id": "big_task", "dataSource": "ds",
		"spec": map[string]any{"blob": base64.StdEncoding.EncodeToString(noise)},
	})
	require.NoError(t, err)
	tk, err := task.Parse(raw)
	require.NoError(t, err)
	return tk, raw
}

func TestLargePayloadGoesToDeepStorage(t *testing.T) {
	for _, typ := range []string{TypeSingleContainer, TypeMultiContainer, TypeCustomTemplate} {
		t.Run(typ, func(t *testing.T) {
			tk, raw := bigTask(t)
			enc, err := EncodeTaskJSON(raw)
			require.NoError(t, err)
			require.Greater(t, len(enc), MaxTaskJSONChars)

			// Without a store: a clear error, never a truncated payload.
			a := newTestAdapter(t, goldenConfig(t, typ), Deps{})
			_, err = a.FromTask(context.Background(), tk)
			require.ErrorIs(t, err, ErrPayloadTooLarge)
			assert.ErrorContains(t, err, "big_task")
			assert.ErrorContains(t, err, "130048")

			r, err := a.Render(tk)
			require.NoError(t, err)
			assert.True(t, r.PayloadInDeepStorage)
			assert.Equal(t, raw, r.Payload)

			// With a store: pushed, and the Job has no TASK_JSON so the peon
			// fetches the payload by --taskId / TASK_ID.
			store := &fakePayloads{}
			a = newTestAdapter(t, goldenConfig(t, typ), Deps{Payloads: store})
			job, err := a.FromTask(context.Background(), tk)
			require.NoError(t, err)
			assert.Equal(t, raw, store.store["big_task"])
			env := mainEnv(job)
			assert.NotContains(t, env, EnvTaskJSON)
			assert.Equal(t, "big_task", env[EnvTaskID].Value)
			assert.NotContains(t, job.Spec.Template.Annotations, AnnotationTask)
			if typ != TypeCustomTemplate {
				assert.Contains(t, job.Spec.Template.Spec.Containers[0].Args[len(job.Spec.Template.Spec.Containers[0].Args)-1], "--taskId big_task")
			}

			// Recovering the task needs the payload source.
			_, err = TaskFromJob(context.Background(), job, nil)
			require.ErrorIs(t, err, ErrNoTaskPayload)
			back, err := TaskFromJob(context.Background(), job, store)
			require.NoError(t, err)
			assert.Equal(t, raw, back.Raw())

			// A failing store fails the task, naming it.
			a = newTestAdapter(t, goldenConfig(t, typ), Deps{Payloads: &fakePayloads{err: errors.New("s3 down")}})
			_, err = a.FromTask(context.Background(), tk)
			assert.ErrorContains(t, err, "s3 down")
			assert.ErrorContains(t, err, "big_task")
		})
	}
}

func TestFromTaskHonoursContext(t *testing.T) {
	a := newTestAdapter(t, goldenConfig(t, TypeSingleContainer), Deps{})
	tk, _ := loadTask(t, "compact")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := a.FromTask(ctx, tk)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestOverlordAdapterErrors(t *testing.T) {
	tk, _ := loadTask(t, "compact")

	_, err := New(goldenConfig(t, TypeSingleContainer), Deps{})
	assert.ErrorContains(t, err, "source pod")

	_, err = New(goldenConfig(t, TypeSingleContainer), Deps{SourcePod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}}})
	assert.ErrorContains(t, err, "no containers")

	c := goldenConfig(t, TypeSingleContainer)
	c.PrimaryContainerName = "druid"
	a := newTestAdapter(t, c, Deps{})
	_, err = a.Render(tk)
	assert.ErrorContains(t, err, PropPrimaryContainerName)
	assert.ErrorContains(t, err, `"druid"`)
	assert.ErrorContains(t, err, "istio-proxy, druid-overlord")

	pod := loadSourcePod(t)
	pod.Spec.Containers[0].Command = nil // the istio sidecar
	a = newTestAdapter(t, goldenConfig(t, TypeMultiContainer), Deps{SourcePod: pod})
	_, err = a.Render(tk)
	require.Error(t, err)
	for _, want := range []string{"istio-proxy", "no explicit command", "kubexit must wrap", "ENTRYPOINT"} {
		assert.ErrorContains(t, err, want)
	}

	pod = loadSourcePod(t)
	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: "graveyard"})
	a = newTestAdapter(t, goldenConfig(t, TypeMultiContainer), Deps{SourcePod: pod})
	_, err = a.Render(tk)
	assert.ErrorContains(t, err, `"graveyard"`)

	kt := taskWithContext(t, "index", map[string]any{ContextKeyJavaOpts: "-Xmxbig"})
	a = newTestAdapter(t, goldenConfig(t, TypeSingleContainer), Deps{})
	_, err = a.Render(kt)
	assert.ErrorContains(t, err, "-Xmxbig")
}

func TestOverlordAdapterDetails(t *testing.T) {
	tk, _ := loadTask(t, "index_parallel")
	pod := loadSourcePod(t)
	before := pod.DeepCopy()

	c := goldenConfig(t, TypeSingleContainer)
	c.PrimaryContainerName = "" // Druid then takes the first container
	c.PeonMonitors = nil
	c.DebugJobs = true
	c.EnableTLSPort = true
	c.GraceTerminationPeriodSeconds = nil
	c.K8sTaskPodNamePrefix = "Prod_Cluster"
	c.OverlordNamespace = "druid-master"
	a := newTestAdapter(t, c, Deps{SourcePod: pod})
	job, err := a.FromTask(context.Background(), tk)
	require.NoError(t, err)

	assert.Equal(t, before, pod, "the source pod must not be modified")
	spec := job.Spec.Template.Spec
	require.Len(t, spec.Containers, 1)
	assert.Equal(t, "docker.io/istio/proxyv2:1.22.0", spec.Containers[0].Image)
	assert.Nil(t, job.Spec.TTLSecondsAfterFinished, "debugJobs keeps finished Jobs")
	assert.Nil(t, spec.TerminationGracePeriodSeconds, "Druid sets the grace period even when unset")
	assert.Equal(t, "true", job.Spec.Template.Annotations[AnnotationTLSEnabled])
	assert.Contains(t, mainEnv(job)[EnvJavaOpts].Value, "-Ddruid.tlsPort=8091")
	assert.Equal(t, "druid-master", job.Labels[LabelOverlordNamespace])
	assert.True(t, strings.HasPrefix(job.Name, "prodcluster-"), job.Name)

	// Without peonMonitors the source pod's monitors stay.
	c.PrimaryContainerName = "druid-overlord"
	a = newTestAdapter(t, c, Deps{})
	job, err = a.FromTask(context.Background(), tk)
	require.NoError(t, err)
	assert.Equal(t, `["org.apache.druid.server.metrics.TaskCountStatsMonitor"]`, mainEnv(job)[EnvMonitors].Value)
	mem := job.Spec.Template.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory]
	assert.Equal(t, int64(6_000_000_000), mem.Value())
	cpu := job.Spec.Template.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU]
	assert.Equal(t, int64(1500), cpu.MilliValue())
}

func TestCPUDefault(t *testing.T) {
	c := goldenConfig(t, TypeSingleContainer)
	c.CPUCoreInMicro = 0
	tk, _ := loadTask(t, "compact")
	job, err := newTestAdapter(t, c, Deps{}).FromTask(context.Background(), tk)
	require.NoError(t, err)
	cpu := job.Spec.Template.Spec.Containers[0].Resources.Limits[corev1.ResourceCPU]
	assert.Equal(t, int64(1000), cpu.MilliValue())
}

func copyTemplates(t *testing.T) (dir string, c Config) {
	t.Helper()
	dir = t.TempDir()
	c = goldenConfig(t, TypeCustomTemplate)
	for key, src := range c.PodTemplates {
		data, err := os.ReadFile(src)
		require.NoError(t, err)
		dst := filepath.Join(dir, key+".yaml")
		require.NoError(t, os.WriteFile(dst, data, 0o644))
		c.PodTemplates[key] = dst
	}
	return dir, c
}

func TestTemplateSelection(t *testing.T) {
	compact, _ := loadTask(t, "compact")
	_, c := copyTemplates(t)

	var seen map[string]*corev1.PodTemplate
	pick := func(key string, err error) TemplateSelector {
		return TemplateSelectorFunc(func(tk *task.Task, available map[string]*corev1.PodTemplate) (string, string, error) {
			seen = available
			return key, "picked by test", err
		})
	}

	a := newTestAdapter(t, c, Deps{Selector: pick("index_kafka", nil)})
	r, err := a.Render(compact)
	require.NoError(t, err)
	assert.Equal(t, "index_kafka", r.TemplateKey)
	assert.Equal(t, "index_kafka", r.Job.Annotations[AnnotationJobTemplate])
	assert.Equal(t, "index_kafka", r.Job.Spec.Template.Annotations[AnnotationJobTemplate])
	assert.Equal(t, "picked by test", r.Job.Annotations[AnnotationTemplateReason])
	assert.Equal(t, "index_kafka", TemplateKeyFromJob(r.Job))
	assert.ElementsMatch(t, []string{"base", "index_kafka"}, keysOf(seen))

	a = newTestAdapter(t, c, Deps{Selector: pick("podSpecMissing", nil)})
	r, err = a.Render(compact)
	require.NoError(t, err)
	assert.Equal(t, BaseTemplateKey, r.TemplateKey)
	assert.Contains(t, r.TemplateReason, "podSpecMissing")

	a = newTestAdapter(t, c, Deps{Selector: pick("", errors.New("bad selector"))})
	_, err = a.Render(compact)
	assert.ErrorContains(t, err, "bad selector")
	assert.ErrorContains(t, err, compact.ID)

	// Default: by task type.
	a = newTestAdapter(t, c, Deps{})
	kafka, _ := loadTask(t, "index_kafka")
	r, err = a.Render(kafka)
	require.NoError(t, err)
	assert.Equal(t, "index_kafka", r.TemplateKey)
	r, err = a.Render(compact)
	require.NoError(t, err)
	assert.Equal(t, "base", r.TemplateKey)
	assert.Contains(t, r.TemplateReason, `"compact"`)
}

func keysOf(m map[string]*corev1.PodTemplate) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestTemplateFileEditsApplyToNextTask(t *testing.T) {
	_, c := copyTemplates(t)
	a := newTestAdapter(t, c, Deps{})
	tk, _ := loadTask(t, "compact")
	r, err := a.Render(tk)
	require.NoError(t, err)
	assert.Equal(t, "apache/druid:34.0.0", r.Job.Spec.Template.Spec.Containers[0].Image)

	file := c.PodTemplates["base"]
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, []byte(strings.ReplaceAll(string(data), "apache/druid:34.0.0", "apache/druid:35.0.0")), 0o644))
	later := time.Now().Add(time.Minute)
	require.NoError(t, os.Chtimes(file, later, later))

	r, err = a.Render(tk)
	require.NoError(t, err)
	assert.Equal(t, "apache/druid:35.0.0", r.Job.Spec.Template.Spec.Containers[0].Image)

	// A file that goes away is reported, and the last good template stays
	// in use (see templatestore_test.go for bad edits).
	require.NoError(t, os.Remove(file))
	r, err = a.Render(tk)
	require.NoError(t, err)
	assert.Equal(t, "apache/druid:35.0.0", r.Job.Spec.Template.Spec.Containers[0].Image)
	st := a.(TemplateStatusReporter).TemplateStatuses()
	require.Len(t, st, 2)
	assert.Equal(t, "base", st[0].Name)
	assert.Contains(t, st[0].Error, "druid.indexer.runner.k8s.podTemplate.base")
	assert.Contains(t, st[0].Error, "no such file")
}

func TestTemplateErrors(t *testing.T) {
	dir, c := copyTemplates(t)
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}

	bad := c
	bad.PodTemplates = map[string]string{"base": filepath.Join(dir, "missing.yaml")}
	_, err := New(bad, Deps{})
	assert.ErrorContains(t, err, "druid.indexer.runner.k8s.podTemplate.base")
	assert.ErrorContains(t, err, "missing.yaml")

	bad.PodTemplates = map[string]string{"base": write("pod.yaml", "apiVersion: v1\nkind: Pod\nspec: {}\n")}
	_, err = New(bad, Deps{})
	assert.ErrorContains(t, err, "kind must be PodTemplate")

	bad.PodTemplates = map[string]string{"base": write("empty.yaml", "apiVersion: v1\nkind: PodTemplate\ntemplate:\n  spec: {}\n")}
	_, err = New(bad, Deps{})
	assert.ErrorContains(t, err, "containers is empty")

	bad.PodTemplates = map[string]string{"base": write("garbage.yaml", "{{{")}
	_, err = New(bad, Deps{})
	assert.ErrorContains(t, err, "garbage.yaml")

	// The lint runs on load: a template with lint errors is refused.
	bad.PodTemplates = map[string]string{"base": write("always.yaml", "kind: PodTemplate\ntemplate:\n  spec:\n    restartPolicy: Always\n    containers: [{name: main, image: x}]\n")}
	_, err = New(bad, Deps{})
	assert.ErrorContains(t, err, "template.spec.restartPolicy: is Always")
	assert.ErrorContains(t, err, "druid.indexer.runner.k8s.podTemplate.base")

	bad.PodTemplates = map[string]string{"base": write("onfailure.yaml", "kind: PodTemplate\ntemplate:\n  spec:\n    restartPolicy: OnFailure\n    containers: [{name: main, image: x}]\n")}
	_, err = New(bad, Deps{})
	assert.ErrorContains(t, err, "template.spec.restartPolicy: is OnFailure")

	bad.PodTemplates = map[string]string{"base": write("headerless.yaml", "template:\n  spec:\n    containers: [{name: main, image: x}]\n")}
	_, err = New(bad, Deps{})
	require.NoError(t, err, "a template without kind/apiVersion is accepted, as Druid")

	noBase := c
	noBase.PodTemplates = map[string]string{"index_kafka": c.PodTemplates["index_kafka"]}
	_, err = New(noBase, Deps{})
	assert.ErrorContains(t, err, "druid.indexer.runner.k8s.podTemplate.base")
}

func TestTaskFromDruidJobs(t *testing.T) {
	// TASK_JSON values from Druid's own test fixtures (expectedSingleContainerOutput.yaml
	// and expectedNoopJob.yaml): Java's GZIPOutputStream output.
	overlordJob := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "id-3e70afe5cd823dfc7dd308eea616426b"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"task.id": "id", "tls.enabled": "false"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Env: []corev1.EnvVar{
				{Name: "TASK_DIR", Value: "/tmp"},
				{Name: "TASK_JSON", Value: "H4sIAAAAAAAAAEVOOw7CMAy9i+cOBYmlK0KItWVhNI0BSyEOToKoqt4doxZYLPv9/EbIQyRoIIhEqICd7TYquKqUePidDjN2UrSfxYEM0xKOfDdgvalr86aW0A0z9L9bSsVnc512nZkurHSTZJJQvK+gl5DpZfwIUVmU8wDNarJ0Ssu/EfCJ7PHM3tj9p9i3ltKjWKDbYsR+sU5vP86oMNUAAAA="},
			}}}},
		}},
	}
	tk, err := TaskFromJob(context.Background(), overlordJob, nil)
	require.NoError(t, err)
	assert.Equal(t, "noop", tk.Type)
	assert.Equal(t, "id", tk.ID)
	assert.Equal(t, "none", tk.DataSource)
	id, err := TaskIDFromJob(overlordJob)
	require.NoError(t, err)
	assert.Equal(t, "id", id)

	templateJob := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "id-3e70afe5cd823dfc7dd308eea616426b", Annotations: map[string]string{"task.jobTemplate": "noop"}},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
				"task":    "H4sIAAAAAAAAAD2MvQ4CIRCE32VqijsTG1qLi7W+wArEbHICrmC8EN7dJf40k/lmJtNQthxgEVPKMGCvXsXgKqnm4x89FTqlKm6MBzw+YCA1nvmm8W4/TQYuxRJeBbZ17cJ3ZhvoSbzShVcu2zLOf9cS7pUl+ANlclrCzr2/AQUK0FqZAAAA",
				"task.id": "id",
			}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "primary", Env: []corev1.EnvVar{
				{Name: "TASK_JSON", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['task']"}}},
			}}}},
		}},
	}
	tk, err = TaskFromJob(context.Background(), templateJob, nil)
	require.NoError(t, err)
	assert.Equal(t, "datasource", tk.DataSource)
	assert.Equal(t, "noop", TemplateKeyFromJob(templateJob))

	_, err = TaskIDFromJob(&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j"}})
	assert.ErrorContains(t, err, "task.id")
	_, err = TaskFromJob(context.Background(), nil, nil)
	assert.Error(t, err)

	broken := overlordJob.DeepCopy()
	broken.Spec.Template.Spec.Containers[0].Env[1].Value = "not base64!"
	_, err = TaskFromJob(context.Background(), broken, nil)
	assert.ErrorContains(t, err, "base64")
}

func TestEncodeDecodeTaskJSON(t *testing.T) {
	for _, name := range goldenTasks {
		_, raw := loadTask(t, name)
		enc, err := EncodeTaskJSON(raw)
		require.NoError(t, err)
		dec, err := DecodeTaskJSON(enc)
		require.NoError(t, err)
		assert.Equal(t, raw, dec)
	}
	_, err := DecodeTaskJSON(base64.StdEncoding.EncodeToString([]byte("plain")))
	assert.ErrorContains(t, err, "gzip")
}

func TestUnknownAdapterType(t *testing.T) {
	c := DefaultConfig()
	c.AdapterType = "podTemplate"
	_, err := New(c, Deps{SourcePod: loadSourcePod(t)})
	assert.ErrorContains(t, err, `unknown adapter type "podTemplate"`)
}

func TestConcurrentRender(t *testing.T) {
	for _, typ := range []string{TypeSingleContainer, TypeMultiContainer, TypeCustomTemplate} {
		a := newTestAdapter(t, goldenConfig(t, typ), Deps{})
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, name := range goldenTasks {
					tk, _ := loadTask(t, name)
					_, err := a.FromTask(context.Background(), tk)
					assert.NoError(t, err)
				}
			}()
		}
		wg.Wait()
	}
}
