package k8srunner

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/taskgate/taskgate/adapters"
	"github.com/taskgate/taskgate/internal/testcluster"
	"github.com/taskgate/taskgate/task"
)

// pendingReasons sums k8s.peon.pending.reason by its reason attribute.
func pendingReasons(t *testing.T, reader *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "k8s.peon.pending.reason" {
				continue
			}
			sum, ok := m.Data.(metricdata.Sum[int64])
			require.True(t, ok, "k8s.peon.pending.reason is a counter")
			for _, dp := range sum.DataPoints {
				v, _ := dp.Attributes.Value("reason")
				out[v.AsString()] += dp.Value
			}
		}
	}
	return out
}

// A pod whose image cannot be pulled fails the task after the image pull
// grace, long before the launch timeout, naming the reason.
func TestImagePullFailureFailsFast(t *testing.T) {
	e := newEnv(t, nil)
	reader := sdkmetric.NewManualReader()
	r := e.start(e.config(func(c *Config) {
		c.LaunchTimeout = time.Minute
		c.ImagePullFailFast = 2 * time.Second
	}), func(d *Deps) { d.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)) })
	tk := newTask(t, "image_not_found", "index", 0)
	e.builder.set(tk.ID, testcluster.Behavior{WaitingReason: "ErrImagePull"})
	start := time.Now()
	require.NoError(t, r.Run(context.Background(), tk))

	eventually(t, 20*time.Second, "pending reason ErrImagePull", func() bool {
		reason, _, ok := r.PendingReason(tk.ID)
		return ok && reason == ReasonErrImagePull
	})
	w, ok := r.Get(tk.ID)
	require.True(t, ok)
	assert.Equal(t, task.RunnerStatePending, w.State, "still pending within the grace")

	st := waitDone(t, r, tk.ID, 30*time.Second)
	assert.Equal(t, task.StateFailed, st.Status)
	assert.Contains(t, st.ErrorMsg, "could not pull its image for PT2S ("+PropImagePullFailFast+")")
	assert.Contains(t, st.ErrorMsg, "ErrImagePull")
	assert.Less(t, time.Since(start), 30*time.Second, "failed well before the launch timeout")
	assert.GreaterOrEqual(t, time.Since(start), 2*time.Second, "not before the grace")
	eventually(t, 10*time.Second, "job deleted", func() bool { return e.jobGone(adapters.JobName(tk.ID)) })
	assert.Positive(t, pendingReasons(t, reader)[ReasonErrImagePull])
	assert.Equal(t, 0, r.UsedCapacity())
}

// An unschedulable pod keeps the task pending until the launch timeout; the
// failure then carries the scheduler's FailedScheduling message.
func TestUnschedulableWaitsForLaunchTimeoutWithFailedScheduling(t *testing.T) {
	e := newEnv(t, nil)
	reader := sdkmetric.NewManualReader()
	e.builder.mutate = func(j *batchv1.Job) { j.Spec.Template.Spec.NodeSelector = testcluster.UnschedulableNodeSelector }
	r := e.start(e.config(func(c *Config) {
		c.LaunchTimeout = 6 * time.Second
		c.ImagePullFailFast = time.Second // must not apply to scheduling
	}), func(d *Deps) { d.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)) })
	tk := newTask(t, "never_fits", "index", 0)
	start := time.Now()
	require.NoError(t, r.Run(context.Background(), tk))

	var msg string
	eventually(t, 5*time.Second, "pending reason FailedScheduling", func() bool {
		reason, m, ok := r.PendingReason(tk.ID)
		msg = m
		return ok && reason == ReasonFailedScheduling
	})
	assert.Contains(t, msg, "node(s) didn't match Pod's node affinity/selector")
	w, ok := r.Get(tk.ID)
	require.True(t, ok)
	assert.Equal(t, task.RunnerStatePending, w.State)

	st := waitDone(t, r, tk.ID, 20*time.Second)
	assert.GreaterOrEqual(t, time.Since(start), 6*time.Second, "waited for the launch timeout")
	assert.Equal(t, task.StateFailed, st.Status)
	assert.Contains(t, st.ErrorMsg, "was not running within PT6S")
	assert.Contains(t, st.ErrorMsg, "FailedScheduling")
	assert.Contains(t, st.ErrorMsg, "didn't match Pod's node affinity/selector")
	assert.Positive(t, pendingReasons(t, reader)[ReasonFailedScheduling])
}

// A namespace quota that admits no pod keeps the task pending (quota can be
// raised) and the launch-timeout failure names the quota.
func TestQuotaExceededNamedAtLaunchTimeout(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	// The rig runs no quota controller: the quota's status is set here, as
	// the controller would, so that admission enforces it.
	q, err := e.cs.CoreV1().ResourceQuotas(e.ns).Create(ctx, &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "no-pods"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("0")}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	q.Status = corev1.ResourceQuotaStatus{
		Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("0")},
		Used: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("0")},
	}
	_, err = e.cs.CoreV1().ResourceQuotas(e.ns).UpdateStatus(ctx, q, metav1.UpdateOptions{})
	require.NoError(t, err)

	r := e.start(e.config(func(c *Config) { c.LaunchTimeout = 5 * time.Second }))
	tk := newTask(t, "over_quota", "index", 0)
	require.NoError(t, r.Run(ctx, tk))
	eventually(t, 5*time.Second, "pending reason QuotaExceeded", func() bool {
		reason, _, ok := r.PendingReason(tk.ID)
		return ok && reason == ReasonQuotaExceeded
	})
	w, ok := r.Get(tk.ID)
	require.True(t, ok)
	assert.Equal(t, task.RunnerStatePending, w.State, "quota can be raised: keep waiting")
	st := waitDone(t, r, tk.ID, 20*time.Second)
	assert.Equal(t, task.StateFailed, st.Status)
	assert.Contains(t, st.ErrorMsg, "was not running within PT5S")
	assert.Contains(t, st.ErrorMsg, "QuotaExceeded")
	assert.Contains(t, st.ErrorMsg, "exceeded quota: no-pods")
}

// A pod spec the namespace's admission rejects cannot heal: the task fails
// at once with the rejection, without waiting for the launch timeout.
func TestInvalidPodSpecFailsFast(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	ns, err := e.cs.CoreV1().Namespaces().Get(ctx, e.ns, metav1.GetOptions{})
	require.NoError(t, err)
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels["pod-security.kubernetes.io/enforce"] = "restricted"
	_, err = e.cs.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{})
	require.NoError(t, err)

	r := e.start(e.config(func(c *Config) { c.LaunchTimeout = time.Minute }))
	tk := newTask(t, "rejected_spec", "index", 0)
	start := time.Now()
	require.NoError(t, r.Run(ctx, tk))
	st := waitDone(t, r, tk.ID, 30*time.Second)
	assert.Less(t, time.Since(start), 30*time.Second, "failed well before the launch timeout")
	assert.Equal(t, task.StateFailed, st.Status)
	assert.Contains(t, st.ErrorMsg, "cannot start, InvalidSpec")
	assert.Contains(t, st.ErrorMsg, "violates PodSecurity")
	eventually(t, 10*time.Second, "job deleted", func() bool { return e.jobGone(adapters.JobName(tk.ID)) })
}

// An OOM-killed peon fails with OOMKilled in errorMsg and in the metric.
func TestOOMKilledNamedAndCounted(t *testing.T) {
	e := newEnv(t, nil)
	reader := sdkmetric.NewManualReader()
	r := e.start(e.config(nil), func(d *Deps) { d.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)) })
	tk := newTask(t, "out_of_memory", "index", 0)
	e.builder.set(tk.ID, testcluster.Behavior{Result: testcluster.ResultFailed, ExitCode: 137, Reason: "OOMKilled"})
	require.NoError(t, r.Run(context.Background(), tk))
	st := waitDone(t, r, tk.ID, 20*time.Second)
	assert.Equal(t, task.StateFailed, st.Status)
	assert.Contains(t, st.ErrorMsg, "OOMKilled")
	assert.Positive(t, pendingReasons(t, reader)[ReasonOOMKilled])
}
