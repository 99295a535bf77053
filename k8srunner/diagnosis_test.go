package k8srunner

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/metric/noop"
	corev1 "k8s.io/api/core/v1"
)

func warning(kind, reason, msg string) *corev1.Event {
	return &corev1.Event{Type: corev1.EventTypeWarning, Reason: reason, Message: msg,
		InvolvedObject: corev1.ObjectReference{Kind: kind, Name: "x"}}
}

func TestClassifyEvent(t *testing.T) {
	tests := []struct {
		name   string
		ev     *corev1.Event
		reason string
		class  reasonClass
	}{
		{"scheduler", warning("Pod", "FailedScheduling", "0/3 nodes are available: 3 Insufficient cpu."), ReasonFailedScheduling, classWait},
		{"kubelet pull failed", warning("Pod", "Failed", `Failed to pull image "nope:1": not found`), ReasonErrImagePull, classImagePull},
		{"kubelet pull error", warning("Pod", "Failed", "Error: ErrImagePull"), ReasonErrImagePull, classImagePull},
		{"kubelet back-off error", warning("Pod", "Failed", "Error: ImagePullBackOff"), ReasonImagePullBackOff, classImagePull},
		{"kubelet back-off", warning("Pod", "BackOff", `Back-off pulling image "nope:1"`), ReasonImagePullBackOff, classImagePull},
		{"crash back-off is not a pull", warning("Pod", "BackOff", "Back-off restarting failed container"), "", classNone},
		{"invalid image name", warning("Pod", "InspectFailed", `Failed to apply default image tag "A:B:C"`), ReasonInvalidImageName, classFatal},
		{"invalid image name error", warning("Pod", "Failed", "Error: InvalidImageName"), ReasonInvalidImageName, classFatal},
		{"eviction", warning("Pod", "Evicted", "The node was low on resource: memory."), ReasonEvicted, classInfo},
		{"quota", warning("Job", "FailedCreate", `Error creating: pods "p" is forbidden: exceeded quota: q, requested: cpu=2, used: cpu=0, limited: cpu=1`), ReasonQuotaExceeded, classWait},
		{"invalid spec", warning("Job", "FailedCreate", `Error creating: Pod "p" is invalid: spec.containers[0].image: Required value`), ReasonInvalidSpec, classFatal},
		{"pod security", warning("Job", "FailedCreate", `Error creating: pods "p" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true`), ReasonInvalidSpec, classFatal},
		{"other create failure", warning("Job", "FailedCreate", "Error creating: the server is busy"), ReasonFailedCreate, classWait},
		{"job event of no interest", warning("Job", "BackoffLimitExceeded", "Job has reached the specified backoff limit"), "", classNone},
		{"other kind", warning("Node", "FailedScheduling", "x"), "", classNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classifyEvent(tt.ev)
			assert.Equal(t, tt.reason, got.reason)
			assert.Equal(t, tt.class, got.class)
			if tt.class != classNone {
				assert.Equal(t, tt.ev.Message, got.message)
			}
		})
	}
}

func waitingPod(reason, msg string) *corev1.Pod {
	return &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
		Name: "main", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}}}}}
}

func TestClassifyPod(t *testing.T) {
	unsched := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
		Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: "0/2 nodes are available"}}}}
	oom := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{
		Name: "main", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}}}}}}
	evicted := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted", Message: "low on memory"}}
	tests := []struct {
		name    string
		pod     *corev1.Pod
		reason  string
		class   reasonClass
		message string
	}{
		{"no pod", nil, "", classNone, ""},
		{"creating", waitingPod("ContainerCreating", ""), "", classNone, ""},
		{"pull error", waitingPod("ErrImagePull", "not found"), ReasonErrImagePull, classImagePull, "container main waiting: not found"},
		{"pull back-off", waitingPod("ImagePullBackOff", "back-off"), ReasonImagePullBackOff, classImagePull, "back-off"},
		{"bad image name", waitingPod("InvalidImageName", "bad"), ReasonInvalidImageName, classFatal, "bad"},
		{"config error waits", waitingPod("CreateContainerConfigError", "secret s not found"), ReasonContainerWaiting, classWait, "secret s not found"},
		{"unschedulable", unsched, ReasonFailedScheduling, classWait, "0/2 nodes are available"},
		{"oom", oom, ReasonOOMKilled, classInfo, "exit code 137"},
		{"evicted", evicted, ReasonEvicted, classInfo, "low on memory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classifyPod(tt.pod)
			assert.Equal(t, tt.reason, got.reason)
			assert.Equal(t, tt.class, got.class)
			assert.Contains(t, got.message, tt.message)
		})
	}
}

func diagRunner(t *testing.T, now *time.Time, failFast time.Duration) *Runner {
	t.Helper()
	c, err := noop.NewMeterProvider().Meter("t").Int64Counter("c")
	require.NoError(t, err)
	r := &Runner{cfg: Config{ImagePullFailFast: failFast}, log: slog.New(slog.DiscardHandler), now: func() time.Time { return *now }, items: map[string]*item{}}
	r.diag = &diagnoser{r: r, counter: c, byJob: map[string]*diagnosis{}}
	return r
}

func TestDiagnosePending(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := diagRunner(t, &now, time.Minute)

	msg, recheck := r.diagnosePending("j", nil)
	assert.Empty(t, msg, "nothing known: keep waiting")
	assert.Zero(t, recheck)

	r.diag.record("j", classifyEvent(warning("Pod", "FailedScheduling", "0/1 nodes are available")))
	now = now.Add(time.Hour)
	msg, _ = r.diagnosePending("j", nil)
	assert.Empty(t, msg, "FailedScheduling never fails by itself")
	assert.Equal(t, " (pod p unschedulable); last Kubernetes reason FailedScheduling: 0/1 nodes are available",
		r.diagnosisSuffix("j", " (pod p unschedulable)"))
	assert.Equal(t, " (pod p: 0/1 nodes are available); Kubernetes reason FailedScheduling",
		r.diagnosisSuffix("j", " (pod p: 0/1 nodes are available)"))
	assert.Equal(t, "FailedScheduling named", r.diagnosisSuffix("j", "FailedScheduling named"))
	assert.Equal(t, "other job", r.diagnosisSuffix("none", "other job"))

	// An image pull failure has a grace that survives the ErrImagePull /
	// ImagePullBackOff flip.
	msg, recheck = r.diagnosePending("j", waitingPod("ErrImagePull", "not found"))
	assert.Empty(t, msg)
	assert.Equal(t, time.Minute, recheck)
	now = now.Add(40 * time.Second)
	msg, recheck = r.diagnosePending("j", waitingPod("ImagePullBackOff", "back-off"))
	assert.Empty(t, msg)
	assert.Equal(t, 20*time.Second, recheck)
	now = now.Add(20 * time.Second)
	msg, _ = r.diagnosePending("j", waitingPod("ImagePullBackOff", "back-off"))
	assert.Contains(t, msg, "could not pull its image for PT1M ("+PropImagePullFailFast+"), ImagePullBackOff")

	reason, _, ok := r.PendingReason("unknown")
	assert.False(t, ok, reason)

	r.diag.record("k", classifyEvent(warning("Job", "FailedCreate", `Error creating: Pod "p" is invalid: bad`)))
	msg, _ = r.diagnosePending("k", nil)
	assert.Contains(t, msg, "cannot start, InvalidSpec: Error creating: Pod \"p\" is invalid: bad")

	r.diag.forget("k")
	msg, _ = r.diagnosePending("k", nil)
	assert.Empty(t, msg)
}

func TestDiagnoseFailed(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := diagRunner(t, &now, 0)
	r.diag.record("j", classifyEvent(warning("Pod", "FailedScheduling", "0/1 nodes are available")))
	assert.Equal(t, "peon Job j failed", r.diagnoseFailed("j", nil, "peon Job j failed"),
		"a scheduling delay the pod got past does not explain its failure")

	r.diag.record("j", classifyEvent(warning("Pod", "Evicted", "The node was low on resource: memory.")))
	assert.Equal(t, "peon Job j failed: BackoffLimitExceeded; last Kubernetes reason Evicted: The node was low on resource: memory.",
		r.diagnoseFailed("j", nil, "peon Job j failed: BackoffLimitExceeded"))

	oom := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{
		Name: "main", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}}}}}}
	msg := "peon pod p failed: container main exited with code 137 (OOMKilled)"
	assert.Equal(t, msg, r.diagnoseFailed("k", oom, msg), "the message names OOMKilled already")
	got, ok := r.diag.get("k")
	require.True(t, ok)
	assert.Equal(t, ReasonOOMKilled, got.reason, "recorded for the metric")
	assert.Equal(t, DefaultImagePullFailFast, r.cfg.imagePullFailFast(), "zero means the default")
}

func TestImagePullFailFastConfig(t *testing.T) {
	c, err := ConfigFromProperties(props{PropNamespace: "n", PropImagePullFailFast: "PT30S"})
	require.NoError(t, err)
	assert.Equal(t, 30*time.Second, c.imagePullFailFast())
	c, err = ConfigFromProperties(props{PropNamespace: "n"})
	require.NoError(t, err)
	assert.Equal(t, DefaultImagePullFailFast, c.imagePullFailFast(), "unset means the default")
	_, err = ConfigFromProperties(props{PropNamespace: "n", PropImagePullFailFast: "soon"})
	require.ErrorContains(t, err, PropImagePullFailFast)
	bad := DefaultConfig()
	bad.Namespace = "n"
	bad.ImagePullFailFast = -time.Second
	require.ErrorContains(t, bad.Validate(), PropImagePullFailFast)
}
