package k8srunner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskgate/taskgate/adapters"
	"github.com/taskgate/taskgate/task"
)

// Per-task template key (apache/druid#19419): a task naming a pod template
// that is not configured fails at submit, with the key named, and gets no Job.
func TestTaskNamesMissingPodTemplate(t *testing.T) {
	e := newEnv(t, func(c *adapters.Config) { c.AllowTaskPodTemplateSelection = true })
	r := e.start(e.config(nil))
	tk, err := task.Parse([]byte(`{"type":"index","id":"named_template_missing","dataSource":"wiki","context":{"podTemplateSelectionKey":"gpu"}}`))
	require.NoError(t, err)
	require.NoError(t, r.Run(context.Background(), tk))
	st := waitDone(t, r, tk.ID, 20*time.Second)
	assert.Equal(t, task.StateFailed, st.Status)
	assert.Contains(t, st.ErrorMsg, "podTemplateSelectionKey")
	assert.Contains(t, st.ErrorMsg, "druid.indexer.runner.k8s.podTemplate.gpu is not configured")
	time.Sleep(500 * time.Millisecond)
	assert.False(t, e.jobExists(adapters.JobName(tk.ID)), "no Job for a task whose template is missing")
	assert.Equal(t, 0, r.UsedCapacity())
}

// Per-task template key (apache/druid#19419), the other half: a task that
// names a configured pod template runs on it, and the Job says which and
// why; without the opt-in the key is ignored.
func TestTaskNamesPodTemplate(t *testing.T) {
	for _, allow := range []bool{true, false} {
		t.Run(map[bool]string{true: "allowed", false: "not allowed"}[allow], func(t *testing.T) {
			e := newEnv(t, func(c *adapters.Config) {
				c.AllowTaskPodTemplateSelection = allow
				gpu := filepath.Join(filepath.Dir(c.PodTemplates[adapters.BaseTemplateKey]), "gpu.yaml")
				require.NoError(t, os.WriteFile(gpu, []byte(strings.Replace(baseTemplate, "name: peon-base", "name: peon-gpu", 1)), 0o600))
				c.PodTemplates["gpu"] = gpu
			})
			r := e.start(e.config(nil))
			tk, err := task.Parse([]byte(`{"type":"index","id":"named_template_gpu","dataSource":"wiki","context":{"podTemplateSelectionKey":"gpu"}}`))
			require.NoError(t, err)
			e.writeStatus(task.Success(tk.ID, 1))
			require.NoError(t, r.Run(context.Background(), tk))
			assert.Equal(t, task.StateSuccess, waitDone(t, r, tk.ID, 20*time.Second).Status)
			job := e.job(adapters.JobName(tk.ID))
			want := map[bool]string{true: "gpu", false: adapters.BaseTemplateKey}[allow]
			assert.Equal(t, want, job.Annotations[adapters.AnnotationJobTemplate])
			assert.Equal(t, want, job.Spec.Template.Annotations[adapters.AnnotationJobTemplate])
			if allow {
				assert.Contains(t, job.Annotations[adapters.AnnotationTemplateReason], "podTemplateSelectionKey")
			}
		})
	}
}
