package k8srunner

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/taskgate/taskgate/adapters"
	"github.com/taskgate/taskgate/internal/testcluster"
	"github.com/taskgate/taskgate/routing"
	"github.com/taskgate/taskgate/task"
)

func TestSuccessPathDruidJobAndStatus(t *testing.T) {
	e := newEnv(t, nil)
	reader := sdkmetric.NewManualReader()
	spans := tracetest.NewSpanRecorder()
	r := e.start(e.config(nil), func(d *Deps) {
		d.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		d.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	})
	tk := newTask(t, "index_parallel_wiki_success_2024-01-01T00:00:00.000Z", "index_parallel", 50)
	e.builder.set(tk.ID, testcluster.Behavior{RunDuration: 500 * time.Millisecond})
	peon := task.Success(tk.ID, 12345)
	e.writeStatus(peon)

	require.NoError(t, r.Run(context.Background(), tk))
	require.NoError(t, r.Run(context.Background(), tk), "running a known id again is a no-op")
	w := waitState(t, r, tk.ID, task.RunnerStateRunning, 20*time.Second)
	assert.NotEmpty(t, w.Location.Host)
	assert.Equal(t, adapters.Port, w.Location.Port)
	assert.Equal(t, -1, w.Location.TLSPort)
	assert.NotEmpty(t, w.Location.K8sPodName)

	st := waitDone(t, r, tk.ID, 20*time.Second)
	assert.Equal(t, task.StateSuccess, st.Status)
	assert.Equal(t, int64(12345), st.Duration, "the peon's duration")
	assert.Equal(t, w.Location.Host, st.Location.Host)

	job, err := e.cs.BatchV1().Jobs(e.ns).Get(context.Background(), adapters.JobName(tk.ID), metav1.GetOptions{})
	require.NoError(t, err, "the Job has Druid's name")
	assert.Equal(t, "true", job.Labels[adapters.LabelPeon])
	assert.Equal(t, adapters.TaskIDLabelValue(tk.ID), job.Labels[adapters.LabelTaskID])
	assert.Equal(t, "index_parallel", job.Labels[adapters.LabelTaskType])
	assert.Equal(t, "wiki", job.Labels[adapters.LabelTaskDataSource])
	assert.Equal(t, tk.ID, job.Spec.Template.Annotations[adapters.AnnotationTaskID])
	assert.Regexp(t, `^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$`, job.Annotations[AnnotationTraceParent])
	env := map[string]string{}
	for _, ev := range job.Spec.Template.Spec.Containers[0].Env {
		env[ev.Name] = ev.Value
		// customTemplateAdapter passes TASK_JSON through the pod's "task"
		// annotation, as Druid's PodTemplateTaskAdapter does.
		if ev.Name == adapters.EnvTaskJSON && ev.ValueFrom != nil && ev.ValueFrom.FieldRef != nil {
			assert.Equal(t, "metadata.annotations['"+adapters.AnnotationTask+"']", ev.ValueFrom.FieldRef.FieldPath, ev.Name)
			env[ev.Name] = job.Spec.Template.Annotations[adapters.AnnotationTask]
		}
	}
	for _, name := range []string{adapters.EnvTaskJSON, adapters.EnvTaskDir, adapters.EnvTaskID, adapters.EnvLoadBroadcastSegments} {
		assert.Contains(t, env, name)
	}
	raw, err := adapters.DecodeTaskJSON(env[adapters.EnvTaskJSON])
	require.NoError(t, err)
	assert.Equal(t, tk.Raw(), raw, "TASK_JSON is the submitted task byte for byte")
	assert.Equal(t, int32(0), *job.Spec.BackoffLimit)

	// Events: the location, then the final status.
	evs := e.eventsFor(tk.ID)
	require.GreaterOrEqual(t, len(evs), 2)
	assert.Equal(t, routing.EventLocationChanged, evs[0].Kind)
	assert.Equal(t, w.Location.Host, evs[0].Location.Host)
	last := evs[len(evs)-1]
	assert.Equal(t, routing.EventStatusChanged, last.Kind)
	assert.Equal(t, task.StateSuccess, last.Status.Status)

	// The startup metric, with Druid's dimensions.
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	found := false
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "k8s.peon.startup.time" {
				continue
			}
			assert.Equal(t, "ms", m.Unit)
			h := m.Data.(metricdata.Histogram[int64])
			require.Len(t, h.DataPoints, 1)
			v, ok := h.DataPoints[0].Attributes.Value("taskId")
			assert.True(t, ok)
			assert.Equal(t, tk.ID, v.AsString())
			v, _ = h.DataPoints[0].Attributes.Value("dataSource")
			assert.Equal(t, "wiki", v.AsString())
			found = true
		}
	}
	assert.True(t, found, "k8s.peon.startup.time recorded")
	names := map[string]bool{}
	for _, s := range spans.Ended() {
		names[s.Name()] = true
	}
	for _, n := range []string{"k8srunner.submit", "k8srunner.createJob", "k8srunner.podStart", "k8srunner.complete"} {
		assert.True(t, names[n], "span %s", n)
	}

	// Finished: the log comes from the task log store.
	require.NoError(t, e.logs.PushTaskLog(context.Background(), tk.ID, strings.NewReader("line 1\nline 2\n")))
	rc, ok, err := r.StreamLog(context.Background(), tk.ID, -7)
	require.NoError(t, err)
	require.True(t, ok)
	b, _ := io.ReadAll(rc)
	rc.Close()
	assert.Equal(t, "line 2\n", string(b))
	_, ok, err = r.StreamLog(context.Background(), "no-such-task", 0)
	assert.NoError(t, err)
	assert.False(t, ok)
	assert.Equal(t, 1, e.builder.builds[tk.ID], "one Job build for a task run twice")
}

func TestFailurePaths(t *testing.T) {
	e := newEnv(t, nil)
	r := e.start(e.config(func(c *Config) { c.StatusWaitTimeout = time.Second }))

	failed := newTask(t, "pod_fails", "index", 0)
	e.builder.set(failed.ID, testcluster.Behavior{Result: testcluster.ResultFailed, ExitCode: 137, Reason: "OOMKilled", Message: "out of memory"})
	noStatus := newTask(t, "no_status_json", "index", 0)
	late := newTask(t, "late_status_json", "index", 0)
	for _, tk := range []*task.Task{failed, noStatus, late} {
		require.NoError(t, r.Run(context.Background(), tk))
	}
	// Druid #17848: the status may land after the Job completes.
	go func() {
		waitState(t, r, late.ID, task.RunnerStateRunning, 20*time.Second)
		time.Sleep(300 * time.Millisecond)
		e.writeStatus(task.Success(late.ID, 42))
	}()

	st := waitDone(t, r, failed.ID, 20*time.Second)
	assert.Equal(t, task.StateFailed, st.Status)
	assert.Contains(t, st.ErrorMsg, "exited with code 137")
	assert.Contains(t, st.ErrorMsg, "OOMKilled")
	assert.Contains(t, st.ErrorMsg, "out of memory")

	st = waitDone(t, r, noStatus.ID, 20*time.Second)
	assert.Equal(t, task.StateFailed, st.Status)
	assert.Contains(t, st.ErrorMsg, "task succeeded but no status.json was written")

	st = waitDone(t, r, late.ID, 20*time.Second)
	assert.Equal(t, task.StateSuccess, st.Status, st.ErrorMsg)
	assert.Equal(t, int64(42), st.Duration)
}

func TestLaunchTimeoutDeletesJob(t *testing.T) {
	e := newEnv(t, nil)
	e.builder.mutate = func(j *batchv1.Job) { j.Spec.Template.Spec.NodeSelector = testcluster.UnschedulableNodeSelector }
	r := e.start(e.config(func(c *Config) { c.LaunchTimeout = 2 * time.Second }))
	tk := newTask(t, "never_scheduled", "index", 0)
	require.NoError(t, r.Run(context.Background(), tk))
	w := waitState(t, r, tk.ID, task.RunnerStatePending, 5*time.Second)
	assert.True(t, w.Location.IsUnknown())
	start := time.Now()
	st := waitDone(t, r, tk.ID, 15*time.Second)
	assert.GreaterOrEqual(t, time.Since(start), time.Second)
	assert.Equal(t, task.StateFailed, st.Status)
	assert.Contains(t, st.ErrorMsg, "was not running within PT2S")
	assert.Contains(t, st.ErrorMsg, "unschedulable")
	eventually(t, 10*time.Second, "job deleted", func() bool { return e.jobGone(adapters.JobName(tk.ID)) })
	assert.Equal(t, 0, r.UsedCapacity())
}

func TestMaxTaskDuration(t *testing.T) {
	e := newEnv(t, func(c *adapters.Config) { c.MaxTaskDuration = 2 * time.Second })
	r := e.start(e.config(nil))
	tk := newTask(t, "runs_forever", "index_kafka", 0)
	e.builder.set(tk.ID, testcluster.Behavior{Stay: testcluster.StayRunning})
	require.NoError(t, r.Run(context.Background(), tk))
	waitState(t, r, tk.ID, task.RunnerStateRunning, 20*time.Second)
	st := waitDone(t, r, tk.ID, 30*time.Second)
	assert.Equal(t, task.StateFailed, st.Status)
	assert.Contains(t, st.ErrorMsg, "exceeded maxTaskDuration (PT2S")
}

func TestShutdownPendingAndRunning(t *testing.T) {
	e := newEnv(t, nil)
	r := e.start(e.config(func(c *Config) { c.Capacity = 1 }))
	running := newTask(t, "shutdown_running", "index", 0)
	queued := newTask(t, "shutdown_pending", "index", 0)
	e.builder.def = testcluster.Behavior{Stay: testcluster.StayRunning}
	require.NoError(t, r.Run(context.Background(), running))
	waitState(t, r, running.ID, task.RunnerStateRunning, 20*time.Second)
	require.NoError(t, r.Run(context.Background(), queued))
	w, ok := r.Get(queued.ID)
	require.True(t, ok)
	assert.Equal(t, task.RunnerStatePending, w.State)
	assert.Len(t, r.Pending(), 1)
	assert.Len(t, r.Running(), 1)

	require.NoError(t, r.Shutdown(context.Background(), queued.ID, "test asked"))
	st := waitDone(t, r, queued.ID, time.Second)
	assert.Equal(t, task.StateFailed, st.Status)
	assert.Equal(t, "shutdown: test asked", st.ErrorMsg)

	require.NoError(t, r.Shutdown(context.Background(), running.ID, "killed"))
	st = waitDone(t, r, running.ID, time.Second)
	assert.Equal(t, "shutdown: killed", st.ErrorMsg)
	eventually(t, 10*time.Second, "running job deleted", func() bool { return e.jobGone(adapters.JobName(running.ID)) })

	// A shut-down task is never started again (Druid #13841), and unknown
	// ids are a no-op.
	require.NoError(t, r.Run(context.Background(), queued))
	require.NoError(t, r.Run(context.Background(), running))
	require.NoError(t, r.Shutdown(context.Background(), "unknown", "x"))
	time.Sleep(time.Second)
	assert.False(t, e.jobExists(adapters.JobName(queued.ID)), "no Job for the task shut down while queued")
	assert.True(t, e.jobGone(adapters.JobName(running.ID)))
	assert.Equal(t, 0, r.UsedCapacity())
	assert.Equal(t, 1, e.builder.builds[running.ID])
	assert.Equal(t, 0, e.builder.builds[queued.ID])
}

func TestCapacityLimitsConcurrentJobs(t *testing.T) {
	e := newEnv(t, nil)
	const capacity, n = 3, 10
	r := e.start(e.config(func(c *Config) { c.Capacity = capacity }))
	e.builder.def = testcluster.Behavior{RunDuration: 300 * time.Millisecond}

	w, err := e.cs.BatchV1().Jobs(e.ns).Watch(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	defer w.Stop()
	var mu sync.Mutex
	active := map[string]bool{}
	peak := 0
	go func() {
		for ev := range w.ResultChan() {
			j, ok := ev.Object.(*batchv1.Job)
			if !ok {
				continue
			}
			mu.Lock()
			switch {
			case ev.Type == watch.Deleted || jobFinished(j):
				delete(active, j.Name)
			default:
				active[j.Name] = true
			}
			peak = max(peak, len(active))
			mu.Unlock()
		}
	}()

	var ids []string
	for i := 0; i < n; i++ {
		tk := newTask(t, "capacity_task_"+string(rune('a'+i)), "index", i%3*10)
		ids = append(ids, tk.ID)
		e.writeStatus(task.Success(tk.ID, 1))
		require.NoError(t, r.Run(context.Background(), tk))
	}
	assert.Equal(t, map[string]int{WorkerCategory: capacity}, r.TotalSlots())
	used, idle := r.UsedSlots()[WorkerCategory], r.IdleSlots()[WorkerCategory]
	assert.Equal(t, capacity, used+idle)
	for _, id := range ids {
		st := waitDone(t, r, id, 60*time.Second)
		assert.Equal(t, task.StateSuccess, st.Status, id)
	}
	mu.Lock()
	defer mu.Unlock()
	assert.LessOrEqual(t, peak, capacity, "never more unfinished Jobs than capacity")
	assert.Equal(t, capacity, peak, "capacity was used")
	assert.Len(t, r.Known(), n)
	assert.Equal(t, map[string]int{WorkerCategory: capacity}, r.IdleSlots())
}

func TestRestoreAfterRestartIncludingDruidJob(t *testing.T) {
	e := newEnv(t, nil)
	cfg := e.config(nil)
	r1 := e.start(cfg)
	ours := newTask(t, "restore_ours", "index_parallel", 0)
	e.builder.set(ours.ID, testcluster.Behavior{RunDuration: 4 * time.Second})
	require.NoError(t, r1.Run(context.Background(), ours))
	waitState(t, r1, ours.ID, task.RunnerStateRunning, 20*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	require.NoError(t, r1.Stop(ctx))
	cancel()

	// A Job as Druid's own runner would have made it (same adapter output),
	// created by someone else.
	druid := newTask(t, "restore_druids", "compact", 0)
	job, err := e.builder.FromTask(context.Background(), druid)
	require.NoError(t, err)
	_, err = e.cs.BatchV1().Jobs(e.ns).Create(context.Background(), job, metav1.CreateOptions{})
	require.NoError(t, err)
	e.writeStatus(task.Success(ours.ID, 4000))
	e.writeStatus(task.Success(druid.ID, 7))

	r2 := e.start(cfg)
	items, err := r2.Restore(context.Background())
	require.NoError(t, err)
	got := map[string]routing.WorkItem{}
	for _, w := range items {
		got[w.TaskID] = w
	}
	require.Contains(t, got, ours.ID)
	require.Contains(t, got, druid.ID)
	assert.Equal(t, "compact", got[druid.ID].TaskType)
	assert.Equal(t, "wiki", got[druid.ID].DataSource)
	for _, id := range []string{ours.ID, druid.ID} {
		st := waitDone(t, r2, id, 30*time.Second)
		assert.Equal(t, task.StateSuccess, st.Status, id)
	}
	assert.Equal(t, 1, e.builder.builds[ours.ID], "a restored task is not re-created")
}

func TestAPIServerRestartMidRun(t *testing.T) {
	e := newEnv(t, nil)
	r := e.start(e.config(nil))
	tk := newTask(t, "survives_apiserver_restart", "index", 0)
	e.builder.set(tk.ID, testcluster.Behavior{RunDuration: 3 * time.Second})
	e.writeStatus(task.Success(tk.ID, 3000))
	require.NoError(t, r.Run(context.Background(), tk))
	waitState(t, r, tk.ID, task.RunnerStateRunning, 20*time.Second)

	assert.Empty(t, r.Unreachable())
	e.c.StopAPIServer()
	// The runner notices (a routing rule's fallback reads this).
	require.Eventually(t, func() bool { return r.Unreachable() != "" }, 30*time.Second, 50*time.Millisecond)
	t.Log(r.Unreachable())
	// Submitted while the API server is down: created once it is back.
	during := newTask(t, "submitted_while_down", "index", 0)
	e.writeStatus(task.Success(during.ID, 1))
	require.NoError(t, r.Run(context.Background(), during))
	time.Sleep(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, e.c.StartAPIServer(ctx))

	for _, id := range []string{tk.ID, during.ID} {
		st := waitDone(t, r, id, 60*time.Second)
		assert.Equal(t, task.StateSuccess, st.Status, "%s: %s", id, st.ErrorMsg)
	}
	require.Eventually(t, func() bool { return r.Unreachable() == "" }, 30*time.Second, 50*time.Millisecond, "reachable again")
}

func TestJobDeletedExternallyFails(t *testing.T) {
	e := newEnv(t, nil)
	r := e.start(e.config(nil))
	tk := newTask(t, "deleted_under_us", "index", 0)
	e.builder.set(tk.ID, testcluster.Behavior{Stay: testcluster.StayRunning})
	require.NoError(t, r.Run(context.Background(), tk))
	waitState(t, r, tk.ID, task.RunnerStateRunning, 20*time.Second)
	prop := metav1.DeletePropagationBackground
	require.NoError(t, e.cs.BatchV1().Jobs(e.ns).Delete(context.Background(), adapters.JobName(tk.ID), metav1.DeleteOptions{PropagationPolicy: &prop}))
	st := waitDone(t, r, tk.ID, 10*time.Second)
	assert.Equal(t, task.StateFailed, st.Status)
	assert.Contains(t, st.ErrorMsg, "was deleted before the task finished")
}

func TestCleanupAndDebugJobs(t *testing.T) {
	for _, debug := range []bool{false, true} {
		t.Run(map[bool]string{false: "cleanup", true: "debugJobs"}[debug], func(t *testing.T) {
			// No ttlSecondsAfterFinished on the Jobs, so only the runner's
			// cleanup can delete them.
			e := newEnv(t, func(c *adapters.Config) { c.DebugJobs = true })
			r := e.start(e.config(func(c *Config) {
				c.TaskCleanupDelay = time.Second
				c.TaskCleanupInterval = 300 * time.Millisecond
				c.DebugJobs = debug
			}))
			tk := newTask(t, "cleanup_me", "index", 0)
			e.writeStatus(task.Success(tk.ID, 1))
			require.NoError(t, r.Run(context.Background(), tk))
			waitDone(t, r, tk.ID, 20*time.Second)
			name := adapters.JobName(tk.ID)
			if debug {
				time.Sleep(2500 * time.Millisecond)
				assert.True(t, e.jobExists(name), "debugJobs keeps finished Jobs")
				return
			}
			eventually(t, 10*time.Second, "finished job cleaned up", func() bool { return e.jobGone(name) })
		})
	}
}

func TestPodLogWhileRunningDoesNotHang(t *testing.T) {
	e := newEnv(t, nil)
	r := e.start(e.config(nil))
	tk := newTask(t, "log_while_running", "index", 0)
	e.builder.set(tk.ID, testcluster.Behavior{RunDuration: 2 * time.Second})
	e.writeStatus(task.Success(tk.ID, 1))
	require.NoError(t, r.Run(context.Background(), tk))
	waitState(t, r, tk.ID, task.RunnerStateRunning, 20*time.Second)
	done := make(chan struct{})
	go func() {
		defer close(done)
		rc, ok, err := r.StreamLog(context.Background(), tk.ID, 0)
		if !assert.NoError(t, err) || !assert.True(t, ok, "the rig serves pod logs while the pod runs") {
			return
		}
		_, _ = io.Copy(io.Discard, rc)
		rc.Close()
	}()
	waitDone(t, r, tk.ID, 20*time.Second)
	select {
	case <-done:
	case <-time.After(logDrainGrace + 5*time.Second):
		t.Fatal("pod log stream still open after the task finished")
	}
}

func TestTLSLocation(t *testing.T) {
	e := newEnv(t, func(c *adapters.Config) { c.EnableTLSPort = true })
	r := e.start(e.config(nil))
	tk := newTask(t, "tls_task", "index", 0)
	e.builder.set(tk.ID, testcluster.Behavior{RunDuration: time.Second})
	e.writeStatus(task.Success(tk.ID, 1))
	require.NoError(t, r.Run(context.Background(), tk))
	w := waitState(t, r, tk.ID, task.RunnerStateRunning, 20*time.Second)
	assert.NotEmpty(t, w.Location.Host)
	assert.Equal(t, -1, w.Location.Port, "Druid's TaskLocation with TLS: port -1")
	assert.Equal(t, adapters.TLSPort, w.Location.TLSPort)
	assert.Equal(t, task.StateSuccess, waitDone(t, r, tk.ID, 20*time.Second).Status)
}
