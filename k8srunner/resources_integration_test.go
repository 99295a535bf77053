package k8srunner

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/taskgate/taskgate/adapters"
	"github.com/taskgate/taskgate/internal/testcluster"
	"github.com/taskgate/taskgate/task"
)

// Per-task resources (task context k8sTaskResources, apache/druid#19638):
// the peon container of the Job the API server stores, and of its pod, has
// the task's requests and limits; a bad quantity fails the task at submit,
// naming the field, and no Job is made.
func TestTaskResourcesOnTheControlPlane(t *testing.T) {
	e := newEnv(t, nil)
	r := e.start(e.config(nil))

	tk, err := task.Parse([]byte(`{"type":"index_parallel","id":"sized_by_context","dataSource":"wiki","context":{
		"k8sTaskResources":{"cpu":"500m","memory":"1Gi","limits":{"memory":"2Gi"},
		"byTaskType":{"index_parallel":{"requests":{"cpu":"250m"}},"partial_index_generate":{"memory":"3Gi"}}}}}`))
	require.NoError(t, err)
	e.builder.set(tk.ID, testcluster.Behavior{RunDuration: time.Second})
	e.writeStatus(task.Success(tk.ID, 1))
	require.NoError(t, r.Run(context.Background(), tk))
	waitState(t, r, tk.ID, task.RunnerStateRunning, 20*time.Second)

	want := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("1Gi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("2Gi")},
	}
	job := e.job(adapters.JobName(tk.ID))
	assertResources(t, want, job.Spec.Template.Spec.Containers[0].Resources, "Job")
	pods := e.podsOf(job)
	require.Len(t, pods, 1)
	assertResources(t, want, pods[0].Spec.Containers[0].Resources, "pod")
	assert.Equal(t, task.StateSuccess, waitDone(t, r, tk.ID, 20*time.Second).Status)

	bad, err := task.Parse([]byte(`{"type":"index","id":"bad_quantity","dataSource":"wiki","context":{"k8sTaskResources":{"memory":"lots","requests":{"cpu":"2"},"limits":{"cpu":"1"}}}}`))
	require.NoError(t, err)
	require.NoError(t, r.Run(context.Background(), bad))
	st := waitDone(t, r, bad.ID, 20*time.Second)
	assert.Equal(t, task.StateFailed, st.Status)
	assert.Contains(t, st.ErrorMsg, "context.k8sTaskResources.memory")
	assert.Contains(t, st.ErrorMsg, `"lots"`)
	time.Sleep(500 * time.Millisecond)
	assert.False(t, e.jobExists(adapters.JobName(bad.ID)), "no Job for a task with a bad quantity")
	assert.Equal(t, 0, r.UsedCapacity())
}

func assertResources(t *testing.T, want, got corev1.ResourceRequirements, where string) {
	t.Helper()
	for name, q := range want.Requests {
		g := got.Requests[name]
		assert.Zero(t, q.Cmp(g), "%s request %s: want %s, got %s", where, name, q.String(), g.String())
	}
	for name, q := range want.Limits {
		g := got.Limits[name]
		assert.Zero(t, q.Cmp(g), "%s limit %s: want %s, got %s", where, name, q.String(), g.String())
	}
	assert.Len(t, got.Requests, len(want.Requests), where)
	assert.Len(t, got.Limits, len(want.Limits), where)
}
