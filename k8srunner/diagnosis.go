package k8srunner

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/taskgate/taskgate/internal/isoduration"
)

// PropImagePullFailFast is how long a peon pod may keep failing to pull its
// image (ErrImagePull / ImagePullBackOff) before the task fails, instead of
// waiting for the launch timeout (ISO-8601 period; taskgate's own, from the
// pending-pod diagnosis asked for in Druid #18159, #14425, #15527).
const PropImagePullFailFast = "taskgate.k8s.imagePullFailFast"

// DefaultImagePullFailFast is the image pull grace when
// Config.ImagePullFailFast is zero: long enough for the kubelet's first
// back-off retries (10s, 20s, 40s) to heal a registry hiccup.
const DefaultImagePullFailFast = 2 * time.Minute

// Reasons a pending peon is diagnosed with; each is the value of the
// "reason" attribute of the k8s.peon.pending.reason counter.
const (
	ReasonFailedScheduling = "FailedScheduling"
	ReasonErrImagePull     = "ErrImagePull"
	ReasonImagePullBackOff = "ImagePullBackOff"
	ReasonInvalidImageName = "InvalidImageName"
	ReasonQuotaExceeded    = "QuotaExceeded"
	ReasonInvalidSpec      = "InvalidSpec"
	ReasonFailedCreate     = "FailedCreate"
	ReasonEvicted          = "Evicted"
	ReasonOOMKilled        = "OOMKilled"
	ReasonContainerWaiting = "ContainerWaiting"
)

// reasonClass says what a reason means for a pending task.
type reasonClass int

const (
	classNone      reasonClass = iota
	classWait                  // may heal (capacity, quota): wait for the launch timeout
	classImagePull             // fails after the image pull grace
	classFatal                 // cannot heal: fail at once
	classInfo                  // explains a failure (eviction, OOM); changes nothing
)

// finding is one classified observation.
type finding struct {
	reason  string
	message string
	class   reasonClass
}

// classifyEvent maps a Warning event about a peon pod or Job to a finding.
func classifyEvent(ev *corev1.Event) finding {
	msg := strings.TrimSpace(ev.Message)
	switch ev.InvolvedObject.Kind {
	case "Pod":
		switch ev.Reason {
		case "FailedScheduling":
			return finding{ReasonFailedScheduling, msg, classWait}
		case "Evicted":
			return finding{ReasonEvicted, msg, classInfo}
		case "InspectFailed", "ErrImageNeverPull":
			return finding{ReasonInvalidImageName, msg, classFatal}
		case "BackOff":
			if strings.Contains(msg, "pulling image") || strings.Contains(msg, "ImagePullBackOff") {
				return finding{ReasonImagePullBackOff, msg, classImagePull}
			}
		case "Failed":
			switch {
			case strings.Contains(msg, "InvalidImageName"):
				return finding{ReasonInvalidImageName, msg, classFatal}
			case strings.Contains(msg, "ImagePullBackOff"):
				return finding{ReasonImagePullBackOff, msg, classImagePull}
			case strings.Contains(msg, "ErrImagePull") || strings.Contains(msg, "Failed to pull image"):
				return finding{ReasonErrImagePull, msg, classImagePull}
			}
		}
	case "Job":
		if ev.Reason == "FailedCreate" {
			switch {
			case strings.Contains(msg, "exceeded quota"):
				return finding{ReasonQuotaExceeded, msg, classWait}
			case strings.Contains(msg, " is invalid"), strings.Contains(msg, "violates PodSecurity"):
				// The template itself is rejected: no retry can pass.
				return finding{ReasonInvalidSpec, msg, classFatal}
			}
			return finding{ReasonFailedCreate, msg, classWait}
		}
	}
	return finding{}
}

// classifyPod reads what a peon pod's own status says.
func classifyPod(pod *corev1.Pod) finding {
	if pod == nil {
		return finding{}
	}
	if pod.Status.Reason == "Evicted" {
		return finding{ReasonEvicted, strings.TrimSpace(pod.Status.Message), classInfo}
	}
	for _, cs := range append(append([]corev1.ContainerStatus(nil), pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
		if t := cs.State.Terminated; t != nil && t.Reason == "OOMKilled" {
			return finding{ReasonOOMKilled, fmt.Sprintf("container %s was OOMKilled (exit code %d)", cs.Name, t.ExitCode), classInfo}
		}
		w := cs.State.Waiting
		if w == nil || w.Reason == "" {
			continue
		}
		msg := fmt.Sprintf("container %s waiting: %s", cs.Name, strings.TrimSpace(w.Message))
		switch w.Reason {
		case "ErrImagePull":
			return finding{ReasonErrImagePull, msg, classImagePull}
		case "ImagePullBackOff":
			return finding{ReasonImagePullBackOff, msg, classImagePull}
		case "InvalidImageName", "ErrImageNeverPull":
			return finding{ReasonInvalidImageName, msg, classFatal}
		case "ContainerCreating", "PodInitializing":
			continue
		default:
			return finding{ReasonContainerWaiting, w.Reason + ": " + strings.TrimSpace(w.Message), classWait}
		}
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return finding{ReasonFailedScheduling, strings.TrimSpace(c.Message), classWait}
		}
	}
	return finding{}
}

// diagnosis is the latest finding about one Job, and since when a reason of
// its class has been seen.
type diagnosis struct {
	finding
	since time.Time
	count int
}

// diagnoser keeps the latest finding per peon Job, fed by the events
// informer and by the pod status the reconcile reads.
type diagnoser struct {
	r       *Runner
	counter metric.Int64Counter

	mu    sync.Mutex
	byJob map[string]*diagnosis
}

// startDiagnosis runs a Warning-event informer in the runner's namespace
// (events carry no labels, so it cannot share the peon factory) and forgets
// a Job's findings when the Job goes.
func (r *Runner) startDiagnosis(jobs cache.SharedIndexInformer) error {
	counter, err := r.deps.MeterProvider.Meter("github.com/taskgate/taskgate/k8srunner").Int64Counter("k8s.peon.pending.reason",
		metric.WithDescription("Times a peon's pending or failure reason changed, by reason (FailedScheduling, ErrImagePull, QuotaExceeded, ...)."))
	if err != nil {
		return fmt.Errorf("k8s runner: pending reason counter: %w", err)
	}
	d := &diagnoser{r: r, counter: counter, byJob: map[string]*diagnosis{}}
	r.diag = d
	f := informers.NewSharedInformerFactoryWithOptions(r.deps.Client, 0,
		informers.WithNamespace(r.cfg.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "type=" + corev1.EventTypeWarning }))
	evInf := f.Core().V1().Events().Informer()
	if err := evInf.SetTransform(stripManagedFields); err != nil {
		return fmt.Errorf("k8s runner: event informer transform: %w", err)
	}
	if _, err := evInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { d.onEvent(o) },
		UpdateFunc: func(_, o any) { d.onEvent(o) },
	}); err != nil {
		return fmt.Errorf("k8s runner: event handler: %w", err)
	}
	if _, err := jobs.AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(o any) {
			if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = t.Obj
			}
			if j, ok := o.(*batchv1.Job); ok {
				d.forget(j.Name)
			}
		},
	}); err != nil {
		return fmt.Errorf("k8s runner: job diagnosis handler: %w", err)
	}
	f.Start(r.stopCh)
	return nil
}

func (d *diagnoser) onEvent(o any) {
	ev, ok := o.(*corev1.Event)
	if !ok {
		return
	}
	fd := classifyEvent(ev)
	if fd.class == classNone {
		return
	}
	job := d.jobOf(ev)
	if job == "" || !d.r.knowsJob(job) {
		// Not this gateway's Job: another gateway's or Overlord's sharing
		// the namespace (events carry no owner label to select on).
		return
	}
	d.record(job, fd)
	d.r.enqueueByJobName(job)
}

// jobOf names the peon Job an event is about, or "" when it is about
// another object or an earlier object of the same name.
func (d *diagnoser) jobOf(ev *corev1.Event) string {
	ref := ev.InvolvedObject
	switch ref.Kind {
	case "Job":
		if j, err := d.r.jobLister.Jobs(d.r.cfg.Namespace).Get(ref.Name); err == nil && ref.UID != "" && j.UID != ref.UID {
			return ""
		}
		return ref.Name
	case "Pod":
		if p, err := d.r.podLister.Pods(d.r.cfg.Namespace).Get(ref.Name); err == nil {
			if ref.UID != "" && p.UID != ref.UID {
				return ""
			}
			return jobNameOfPod(p)
		}
		// The pod informer has not shown the pod yet: a Job's pod is named
		// <job>-<suffix>.
		if i := strings.LastIndexByte(ref.Name, '-'); i > 0 {
			return ref.Name[:i]
		}
	}
	return ""
}

// record keeps fd as the Job's latest finding. An image pull failure keeps
// the time it was first seen across ErrImagePull / ImagePullBackOff flips.
func (d *diagnoser) record(job string, fd finding) {
	now := d.r.now()
	d.mu.Lock()
	cur := d.byJob[job]
	changed := cur == nil || cur.reason != fd.reason
	switch {
	case cur == nil || cur.class != fd.class:
		cur = &diagnosis{finding: fd, since: now}
		d.byJob[job] = cur
	default:
		cur.finding = fd
	}
	cur.count++
	d.mu.Unlock()
	if changed {
		d.counter.Add(context.Background(), 1, metric.WithAttributes(attribute.String("reason", fd.reason)))
		d.r.log.Info("peon diagnosis", "job", job, "reason", fd.reason, "message", fd.message)
	}
}

func (d *diagnoser) get(job string) (diagnosis, bool) {
	if d == nil {
		return diagnosis{}, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	cur := d.byJob[job]
	if cur == nil {
		return diagnosis{}, false
	}
	return *cur, true
}

func (d *diagnoser) forget(job string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.byJob, job)
}

// imagePullFailFast is Config.ImagePullFailFast or its default.
func (c Config) imagePullFailFast() time.Duration {
	if c.ImagePullFailFast == 0 {
		return DefaultImagePullFailFast
	}
	return c.ImagePullFailFast
}

func (c Config) validateDiagnosis() error {
	if c.ImagePullFailFast < 0 {
		return fmt.Errorf("%s: must not be negative, got %s", PropImagePullFailFast, c.ImagePullFailFast)
	}
	return nil
}

// diagnosePending looks at a Job whose pod is not running. It returns a
// failure message when the task must fail now, else how long until a
// pending image pull failure runs out of grace (0: nothing to wait for).
func (r *Runner) diagnosePending(jobName string, pod *corev1.Pod) (failMsg string, recheck time.Duration) {
	if r.diag == nil {
		return "", 0
	}
	if fd := classifyPod(pod); fd.class != classNone {
		if cur, ok := r.diag.get(jobName); !ok || cur.reason != fd.reason || cur.class != fd.class {
			r.diag.record(jobName, fd)
		}
	}
	cur, ok := r.diag.get(jobName)
	if !ok {
		return "", 0
	}
	switch cur.class {
	case classFatal:
		return fmt.Sprintf("peon Job %s cannot start, %s: %s; the Job was deleted", jobName, cur.reason, cur.message), 0
	case classImagePull:
		grace := r.cfg.imagePullFailFast()
		waited := r.now().Sub(cur.since)
		if waited >= grace {
			return fmt.Sprintf("peon pod of Job %s could not pull its image for %s (%s), %s: %s; the Job was deleted",
				jobName, isoduration.Format(grace), PropImagePullFailFast, cur.reason, cur.message), 0
		}
		return "", grace - waited
	}
	return "", 0
}

// diagnosisSuffix adds the latest diagnosed reason to a failure message,
// unless the message names it already.
func (r *Runner) diagnosisSuffix(jobName, msg string) string {
	cur, ok := r.diag.get(jobName)
	switch {
	case !ok || strings.Contains(msg, cur.reason):
		return msg
	case strings.Contains(msg, cur.message):
		return fmt.Sprintf("%s; Kubernetes reason %s", msg, cur.reason)
	}
	return fmt.Sprintf("%s; last Kubernetes reason %s: %s", msg, cur.reason, cur.message)
}

// diagnoseFailed explains a failed Job: it records what the pod says
// (OOMKilled, Evicted) for the metric and adds an eviction or OOM kill the
// events reported to msg. Reasons from while the pod was pending are left
// out: the pod ran after them.
func (r *Runner) diagnoseFailed(jobName string, pod *corev1.Pod, msg string) string {
	if r.diag == nil {
		return msg
	}
	if fd := classifyPod(pod); fd.class == classInfo {
		if cur, ok := r.diag.get(jobName); !ok || cur.reason != fd.reason {
			r.diag.record(jobName, fd)
		}
	}
	if cur, ok := r.diag.get(jobName); !ok || cur.class != classInfo {
		return msg
	}
	return r.diagnosisSuffix(jobName, msg)
}

// PendingReason returns the latest diagnosed reason (e.g. FailedScheduling,
// ErrImagePull, QuotaExceeded) and its message for a task the runner knows.
func (r *Runner) PendingReason(taskID string) (reason, message string, ok bool) {
	r.mu.Lock()
	it := r.items[taskID]
	var job string
	if it != nil {
		job = it.jobName
	}
	r.mu.Unlock()
	if it == nil {
		return "", "", false
	}
	cur, ok := r.diag.get(job)
	if !ok {
		return "", "", false
	}
	return cur.reason, cur.message, true
}
