package k8srunner

import (
	"context"
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
