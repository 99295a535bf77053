package k8srunner

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/taskgate/taskgate/adapters"
	"github.com/taskgate/taskgate/internal/testcluster"
	"github.com/taskgate/taskgate/routing"
	"github.com/taskgate/taskgate/task"
)

func taskIDs(items []routing.WorkItem) []string {
	out := make([]string, 0, len(items))
	for _, w := range items {
		out = append(out, w.TaskID)
	}
	sort.Strings(out)
	return out
}

func (e *env) job(name string) *batchv1.Job {
	e.t.Helper()
	j, err := e.cs.BatchV1().Jobs(e.ns).Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(e.t, err)
	return j
}

// podsOf returns the pods of a Job, by the job controller's label.
func (e *env) podsOf(job *batchv1.Job) []corev1.Pod {
	e.t.Helper()
	pods, err := e.cs.CoreV1().Pods(e.ns).List(context.Background(), metav1.ListOptions{LabelSelector: batchv1.ControllerUidLabel + "=" + string(job.UID)})
	require.NoError(e.t, err)
	return pods.Items
}

// createDruidJob creates, as Druid's own runner would, the Job of a task:
// the adapters' Druid-compatible output, without taskgate's owner label.
func (e *env) createDruidJob(tk *task.Task, bh testcluster.Behavior, mutate func(*batchv1.Job)) *batchv1.Job {
	e.t.Helper()
	e.builder.set(tk.ID, bh)
	job, err := e.builder.FromTask(context.Background(), tk)
	require.NoError(e.t, err)
	require.NotContains(e.t, job.Labels, adapters.LabelOwner, "Druid's runner puts no owner label")
	if mutate != nil {
		mutate(job)
	}
	job, err = e.cs.BatchV1().Jobs(e.ns).Create(context.Background(), job, metav1.CreateOptions{})
	require.NoError(e.t, err)
	return job
}

// Namespaces and ownership (apache/druid#17738, #17749, #17898): two
// gateways with different owner ids share one namespace; each reports,
// counts, cleans up and, after a restart, restores only its own Jobs.
func TestTwoGatewaysShareANamespace(t *testing.T) {
	// No ttlSecondsAfterFinished on the Jobs: only a runner's cleanup
	// deletes them, so a cleanup that touched the other's Jobs would show.
	e := newEnv(t, func(c *adapters.Config) { c.DebugJobs = true })
	cfgA := e.config(func(c *Config) {
		c.OwnerID = "gw-a"
		c.TaskCleanupDelay = time.Second
		c.TaskCleanupInterval = 300 * time.Millisecond
	})
	cfgB := e.config(func(c *Config) { c.OwnerID = "gw-b" })
	ra := e.start(cfgA)
	rb := e.start(cfgB)

	a1, a2 := newTask(t, "owner_a_runs", "index", 0), newTask(t, "owner_a_done", "index", 0)
	b1, b2 := newTask(t, "owner_b_runs", "index", 0), newTask(t, "owner_b_done", "index", 0)
	for _, tk := range []*task.Task{a1, b1} {
		e.builder.set(tk.ID, testcluster.Behavior{Stay: testcluster.StayRunning})
	}
	for _, tk := range []*task.Task{a2, b2} {
		e.writeStatus(task.Success(tk.ID, 1))
	}
	for _, tk := range []*task.Task{a1, a2} {
		require.NoError(t, ra.Run(context.Background(), tk))
	}
	for _, tk := range []*task.Task{b1, b2} {
		require.NoError(t, rb.Run(context.Background(), tk))
	}
	waitState(t, ra, a1.ID, task.RunnerStateRunning, 20*time.Second)
	waitState(t, rb, b1.ID, task.RunnerStateRunning, 20*time.Second)
	assert.Equal(t, task.StateSuccess, waitDone(t, ra, a2.ID, 20*time.Second).Status)
	assert.Equal(t, task.StateSuccess, waitDone(t, rb, b2.ID, 20*time.Second).Status)

	assert.Equal(t, "gw-a", e.job(adapters.JobName(a1.ID)).Labels[adapters.LabelOwner])
	assert.Equal(t, "gw-a", e.job(adapters.JobName(a1.ID)).Spec.Template.Labels[adapters.LabelOwner], "and its pods")
	assert.Equal(t, "gw-b", e.job(adapters.JobName(b1.ID)).Labels[adapters.LabelOwner])
	assert.Equal(t, []string{a2.ID, a1.ID}, taskIDs(ra.Known()), "A reports only its own tasks")
	assert.Equal(t, []string{b2.ID, b1.ID}, taskIDs(rb.Known()), "B reports only its own tasks")
	assert.Equal(t, []string{a1.ID}, taskIDs(ra.Running()))
	assert.Equal(t, 1, ra.UsedCapacity(), "A counts only its own running Job")
	assert.Equal(t, 1, rb.UsedCapacity(), "B counts only its own running Job")

	// A's cleanup (1 s delay, every 300 ms) deletes A's finished Job, never
	// B's, though B's finished just as long ago.
	eventually(t, 15*time.Second, "A's finished Job cleaned up", func() bool { return e.jobGone(adapters.JobName(a2.ID)) })
	time.Sleep(3 * cfgA.TaskCleanupInterval)
	assert.True(t, e.jobExists(adapters.JobName(b2.ID)), "A never cleans up B's Jobs")

	// A restarts: it restores its own running task, not B's.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	require.NoError(t, ra.Stop(ctx))
	cancel()
	ra2 := e.start(cfgA)
	restored, err := ra2.Restore(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{a1.ID}, taskIDs(restored), "a restart restores only A's Jobs")
	assert.Equal(t, 1, ra2.UsedCapacity())
	assert.Equal(t, "gw-b", e.job(adapters.JobName(b1.ID)).Labels[adapters.LabelOwner], "B's Job was not adopted by A")

	require.NoError(t, ra2.Shutdown(context.Background(), a1.ID, "test over"))
	require.NoError(t, rb.Shutdown(context.Background(), b1.ID, "test over"))
	eventually(t, 10*time.Second, "shut-down Jobs deleted", func() bool {
		return e.jobGone(adapters.JobName(a1.ID)) && e.jobGone(adapters.JobName(b1.ID))
	})
}

// Tasks run in a namespace other than the gateway's
// (druid.indexer.runner.namespace vs druid.indexer.runner.overlordNamespace),
// and a cluster that switches from Druid's Kubernetes runner keeps its
// running tasks: Jobs Druid started for this Overlord (label
// druid.overlord.namespace naming the gateway's namespace, no owner label)
// are adopted at start, reported RUNNING then SUCCESS from status.json,
// counted against capacity and cleaned up after taskCleanupDelay. Jobs of
// another Overlord, or of another gateway, in the same namespace are left
// alone.
func TestTasksInAnotherNamespaceAndDruidJobAdoption(t *testing.T) {
	var gatewayNS string
	e := newEnv(t, func(c *adapters.Config) {
		gatewayNS = testcluster.Shared(t).NewNamespace(t)
		c.OverlordNamespace = gatewayNS
	})
	require.NotEqual(t, gatewayNS, e.ns)

	// Jobs that exist before the gateway starts.
	druidRunning := newTask(t, "druid_started_running", "index_parallel", 0)
	e.createDruidJob(druidRunning, testcluster.Behavior{RunDuration: 6 * time.Second}, nil)
	e.writeStatus(task.Success(druidRunning.ID, 6000))
	// Created suspended, so its pod only appears after the adoption: the
	// runner must label the late pod itself.
	druidLate := newTask(t, "druid_started_late_pod", "index", 0)
	e.createDruidJob(druidLate, testcluster.Behavior{RunDuration: time.Second}, func(j *batchv1.Job) {
		suspend := true
		j.Spec.Suspend = &suspend
	})
	e.writeStatus(task.Success(druidLate.ID, 1000))
	otherOverlord := newTask(t, "other_overlords_job", "index", 0)
	e.createDruidJob(otherOverlord, testcluster.Behavior{Stay: testcluster.StayRunning}, func(j *batchv1.Job) {
		j.Labels[adapters.LabelOverlordNamespace] = "druid-other"
		j.Spec.Template.Labels[adapters.LabelOverlordNamespace] = "druid-other"
	})
	otherGateway := newTask(t, "other_gateways_job", "index", 0)
	e.createDruidJob(otherGateway, testcluster.Behavior{Stay: testcluster.StayRunning}, func(j *batchv1.Job) {
		j.Labels[adapters.LabelOwner] = "gw-other"
		j.Spec.Template.Labels[adapters.LabelOwner] = "gw-other"
	})
	eventually(t, 20*time.Second, "Druid's pod running before the switch", func() bool {
		pods := e.podsOf(e.job(adapters.JobName(druidRunning.ID)))
		return len(pods) == 1 && pods[0].Status.Phase == corev1.PodRunning
	})

	r := e.start(e.config(func(c *Config) {
		c.OverlordNamespace = gatewayNS
		c.Capacity = 2
		c.TaskCleanupDelay = time.Second
		c.TaskCleanupInterval = 300 * time.Millisecond
	}))
	restored, err := r.Restore(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{druidLate.ID, druidRunning.ID}, taskIDs(restored), "only this Overlord's Druid Jobs are adopted")
	w := waitState(t, r, druidRunning.ID, task.RunnerStateRunning, 20*time.Second)
	assert.NotEmpty(t, w.Location.Host)
	assert.Equal(t, "index_parallel", w.TaskType)
	assert.Equal(t, 2, r.UsedCapacity(), "adopted Jobs hold slots")

	job := e.job(adapters.JobName(druidRunning.ID))
	assert.Equal(t, gatewayNS, job.Labels[adapters.LabelOwner], "owner id defaults to the overlord namespace")
	assert.NotEmpty(t, job.Annotations[AnnotationAdoptedAt])
	for _, p := range e.podsOf(job) {
		assert.Equal(t, gatewayNS, p.Labels[adapters.LabelOwner], "the adopted Job's pod is labelled too")
	}

	// Capacity 2 is taken by the adopted Jobs: a new task waits.
	fresh := newTask(t, "fresh_after_switch", "index", 0)
	e.builder.set(fresh.ID, testcluster.Behavior{RunDuration: 2 * time.Second})
	e.writeStatus(task.Success(fresh.ID, 500))
	require.NoError(t, r.Run(context.Background(), fresh))
	time.Sleep(time.Second)
	fw, ok := r.Get(fresh.ID)
	require.True(t, ok)
	assert.Equal(t, task.RunnerStatePending, fw.State)
	assert.False(t, e.jobExists(adapters.JobName(fresh.ID)), "no Job while the adopted ones fill the capacity")

	// The suspended Druid Job starts now; its pod has no owner label.
	_, err = e.cs.BatchV1().Jobs(e.ns).Patch(context.Background(), adapters.JobName(druidLate.ID), types.MergePatchType,
		[]byte(`{"spec":{"suspend":false}}`), metav1.PatchOptions{})
	require.NoError(t, err)

	// Once the adopted Jobs end, the new task gets its Job, in the task
	// namespace, labelled for this gateway.
	var freshJob *batchv1.Job
	eventually(t, 40*time.Second, "the new task's Job", func() bool {
		j, err := e.cs.BatchV1().Jobs(e.ns).Get(context.Background(), adapters.JobName(fresh.ID), metav1.GetOptions{})
		freshJob = j
		return err == nil
	})
	assert.Equal(t, gatewayNS, freshJob.Labels[adapters.LabelOverlordNamespace], "Druid's label names the gateway's namespace")
	assert.Equal(t, gatewayNS, freshJob.Labels[adapters.LabelOwner])
	for _, id := range []string{druidRunning.ID, druidLate.ID, fresh.ID} {
		st := waitDone(t, r, id, 40*time.Second)
		assert.Equal(t, task.StateSuccess, st.Status, "%s: %s", id, st.ErrorMsg)
	}
	assert.Equal(t, int64(6000), waitDone(t, r, druidRunning.ID, time.Second).Duration, "status from status.json")
	// The late pod was labelled and seen: the task got its pod's location.
	var located bool
	for _, ev := range e.eventsFor(druidLate.ID) {
		located = located || (ev.Kind == routing.EventLocationChanged && ev.Location.Host != "")
	}
	assert.True(t, located, "the adopted Job's late pod, labelled by the runner, is tracked (location reported)")
	gwJobs, err := e.cs.BatchV1().Jobs(gatewayNS).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, gwJobs.Items, "tasks run in druid.indexer.runner.namespace, not the gateway's")

	eventually(t, 15*time.Second, "adopted Jobs cleaned up after taskCleanupDelay", func() bool {
		return e.jobGone(adapters.JobName(druidRunning.ID)) && e.jobGone(adapters.JobName(druidLate.ID))
	})
	for _, tk := range []*task.Task{otherOverlord, otherGateway} {
		j := e.job(adapters.JobName(tk.ID))
		assert.Nil(t, j.DeletionTimestamp, "%s: never touched", tk.ID)
		assert.Empty(t, j.Annotations[AnnotationAdoptedAt], tk.ID)
		_, known := r.Get(tk.ID)
		assert.False(t, known, "%s: not reported", tk.ID)
	}
	assert.Empty(t, e.job(adapters.JobName(otherOverlord.ID)).Labels[adapters.LabelOwner])
	assert.Equal(t, "gw-other", e.job(adapters.JobName(otherGateway.ID)).Labels[adapters.LabelOwner])
}

// With taskgate.k8s.adoptDruidJobs=false, Druid's Jobs are left alone, and
// a task whose Job Druid already started fails instead of running twice.
func TestDruidJobsNotAdoptedWhenDisabled(t *testing.T) {
	e := newEnv(t, nil)
	druid := newTask(t, "druid_not_adopted", "index", 0)
	created := e.createDruidJob(druid, testcluster.Behavior{Stay: testcluster.StayRunning}, nil)
	r := e.start(e.config(func(c *Config) { c.AdoptDruidJobs = false }))
	restored, err := r.Restore(context.Background())
	require.NoError(t, err)
	assert.Empty(t, restored)
	assert.Equal(t, 0, r.UsedCapacity())

	// The Overlord submits the same task: its Job exists, Druid's.
	require.NoError(t, r.Run(context.Background(), druid))
	st := waitDone(t, r, druid.ID, 20*time.Second)
	assert.Equal(t, task.StateFailed, st.Status)
	assert.Contains(t, st.ErrorMsg, PropAdoptDruidJobs)
	j := e.job(adapters.JobName(druid.ID))
	assert.Empty(t, j.Labels[adapters.LabelOwner])
	assert.Nil(t, j.DeletionTimestamp, "Druid's Job is not deleted")
	assert.Equal(t, created.UID, j.UID, "nor replaced")
}
