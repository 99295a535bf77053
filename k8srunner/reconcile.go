package k8srunner

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/taskgate/taskgate/adapters"
	"github.com/taskgate/taskgate/internal/isoduration"
	"github.com/taskgate/taskgate/routing"
	"github.com/taskgate/taskgate/task"
)

// apiTimeout bounds each API or store call a worker makes.
const apiTimeout = 30 * time.Second

// notSeenRecheck is how soon a task whose new Job the informer has not shown
// yet is looked at again (watch events normally arrive first).
const notSeenRecheck = 2 * time.Second

// statusRecheck is how often a completed Job's status.json is looked for.
const statusRecheck = 2 * time.Second

func (r *Runner) processNext() bool {
	id, quit := r.queue.Get()
	if quit {
		return false
	}
	defer r.queue.Done(id)
	retry, after := r.reconcile(id)
	switch {
	case retry:
		r.queue.AddRateLimited(id)
	case after > 0:
		r.queue.Forget(id)
		r.queue.AddAfter(id, after)
	default:
		r.queue.Forget(id)
	}
	return true
}

// reconcile moves one task along from what the listers show. It returns
// retry for a failed API call, or a delay after which to look again.
func (r *Runner) reconcile(id string) (retry bool, after time.Duration) {
	r.mu.Lock()
	it := r.items[id]
	if it == nil || it.phase == phaseDone || it.phase == phaseQueued {
		r.mu.Unlock()
		return false, 0
	}
	ph := it.phase
	r.mu.Unlock()

	if ph == phaseCreating {
		return r.create(it)
	}
	return r.track(it)
}

// create builds and creates the task's Job, adopting one that exists.
func (r *Runner) create(it *item) (bool, time.Duration) {
	ctx, cancel := context.WithTimeout(it.submitCtx, apiTimeout)
	defer cancel()
	start := r.now()
	r.mu.Lock()
	if it.launchedAt.IsZero() {
		it.launchedAt = start
	}
	launchedAt := it.launchedAt
	r.mu.Unlock()

	ctx, span := r.tracer.Start(ctx, "k8srunner.createJob", trace.WithAttributes(taskAttrs(it.id, it.taskType, it.dataSource)...))
	defer span.End()
	job, err := r.deps.Jobs.FromTask(ctx, it.task)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		r.fail(it, task.Failure(it.id, "could not build the peon Job: %v", err))
		return false, 0
	}
	if job.Annotations == nil {
		job.Annotations = map[string]string{}
	}
	r.stampOwner(job)
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(it.submitCtx, carrier)
	if tp := carrier.Get("traceparent"); tp != "" {
		job.Annotations[AnnotationTraceParent] = tp
	}
	span.SetAttributes(attribute.String("k8s.job.name", job.Name))

	r.mu.Lock()
	if it.phase != phaseCreating { // shut down meanwhile
		r.mu.Unlock()
		return false, 0
	}
	if it.jobName != job.Name {
		delete(r.byJob, it.jobName)
	}
	it.jobName = job.Name
	r.byJob[job.Name] = it.id
	r.mu.Unlock()

	_, err = r.deps.Client.BatchV1().Jobs(r.cfg.Namespace).Create(ctx, job, metav1.CreateOptions{})
	switch {
	case err == nil:
	case apierrors.IsAlreadyExists(err):
		// A Job of this task exists (a retried create whose answer was lost,
		// or a Job Druid's runner started): track it, never make a second;
		// but never take another task's or another gateway's Job.
		adopted, retry, failMsg := r.claimExisting(ctx, it, job.Name)
		switch {
		case failMsg != "":
			span.SetStatus(codes.Error, failMsg)
			r.fail(it, task.Failure(it.id, "%s", failMsg))
			return false, 0
		case retry && r.now().Sub(launchedAt) < r.cfg.LaunchTimeout:
			return true, 0
		case retry:
			r.fail(it, task.Failure(it.id, "peon Job %s already exists and could not be looked at within %s (%s)", job.Name, isoduration.Format(r.cfg.LaunchTimeout), PropLaunchTimeout))
			return false, 0
		}
		r.mu.Lock()
		it.adopted = it.adopted || adopted
		r.mu.Unlock()
		r.log.Info("peon job already exists; tracking it", "task", it.id, "job", job.Name, "adoptedFromDruid", adopted)
		span.AddEvent("adopted existing job")
	case retryable(err) && r.now().Sub(launchedAt) < r.cfg.LaunchTimeout:
		span.SetStatus(codes.Error, err.Error())
		r.log.Warn("create peon job; will retry", "task", it.id, "job", job.Name, "err", err)
		return true, 0
	default:
		span.SetStatus(codes.Error, err.Error())
		r.fail(it, task.Failure(it.id, "could not create peon Job %s: %v", job.Name, err))
		return false, 0
	}

	r.mu.Lock()
	if it.phase != phaseCreating {
		// Shut down while the create was in flight: the Job must not run.
		r.mu.Unlock()
		_ = r.deleteJob(context.Background(), job.Name)
		return false, 0
	}
	it.phase = phaseLaunched
	_, it.launchSpan = r.tracer.Start(it.submitCtx, "k8srunner.podStart",
		trace.WithTimestamp(start), trace.WithAttributes(taskAttrs(it.id, it.taskType, it.dataSource)...))
	r.mu.Unlock()
	r.queue.AddAfter(it.id, r.cfg.LaunchTimeout)
	return r.track(it)
}

// retryable reports API errors worth another try: the server or the network
// failed, not the request.
func retryable(err error) bool {
	if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsForbidden(err) ||
		apierrors.IsUnauthorized(err) || apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
		return false
	}
	return true
}

// track looks at the task's Job and pod in the informer cache.
func (r *Runner) track(it *item) (bool, time.Duration) {
	r.mu.Lock()
	jobName, ph, jobSeen, launchedAt := it.jobName, it.phase, it.jobSeen, it.launchedAt
	r.mu.Unlock()
	if ph == phaseCompleted {
		return r.readStatus(it)
	}

	job, err := r.jobLister.Jobs(r.cfg.Namespace).Get(jobName)
	if apierrors.IsNotFound(err) {
		if jobSeen {
			r.fail(it, task.Failure(it.id, "peon Job %s was deleted before the task finished (not by taskgate); the task's outcome is unknown", jobName))
			return false, 0
		}
		if r.now().Sub(launchedAt) >= r.cfg.LaunchTimeout {
			r.fail(it, task.Failure(it.id, "peon Job %s did not appear within %s (%s)", jobName, isoduration.Format(r.cfg.LaunchTimeout), PropLaunchTimeout))
			return false, 0
		}
		return false, notSeenRecheck
	}
	if err != nil {
		return true, 0
	}
	if job.DeletionTimestamp != nil && !jobFinished(job) {
		// Someone deletes the Job; the delete event finishes the task.
		r.mu.Lock()
		it.jobSeen = true
		r.mu.Unlock()
		return false, notSeenRecheck
	}
	r.mu.Lock()
	it.jobSeen = true
	r.mu.Unlock()

	pod := r.podOf(jobName)
	if pod == nil {
		r.claimPodsOfAdopted(it, job)
	}
	var events []routing.Event
	if pod != nil && pod.Status.PodIP != "" {
		events = r.observePod(it, pod)
	}
	r.emit(events...)

	switch {
	case jobCondition(job, batchv1.JobComplete):
		r.mu.Lock()
		if it.phase != phaseDone {
			it.phase = phaseCompleted
			it.jobDuration = jobDurationMs(job)
		}
		r.mu.Unlock()
		return r.readStatus(it)
	case jobCondition(job, batchv1.JobFailed):
		r.fail(it, task.Failure(it.id, "%s", r.diagnoseFailed(jobName, pod, r.failureReason(job, pod))))
		return false, 0
	}

	r.mu.Lock()
	ph = it.phase
	r.mu.Unlock()
	if ph == phaseLaunched && !podStarted(pod) {
		waited := r.now().Sub(launchedAt)
		// Pending-pod diagnosis (diagnosis.go): fail fast on what cannot heal.
		failMsg, recheck := r.diagnosePending(jobName, pod)
		if failMsg != "" {
			r.fail(it, task.Failure(it.id, "%s", failMsg))
			_ = r.deleteJob(context.Background(), jobName)
			return false, 0
		}
		if waited >= r.cfg.LaunchTimeout {
			msg := fmt.Sprintf("peon pod of Job %s was not running within %s (%s)%s; the Job was deleted",
				jobName, isoduration.Format(r.cfg.LaunchTimeout), PropLaunchTimeout, r.diagnosisSuffix(jobName, pendingReason(pod)))
			r.fail(it, task.Failure(it.id, "%s", msg))
			_ = r.deleteJob(context.Background(), jobName)
			return false, 0
		}
		if pod == nil {
			// An adopted Job's pod may lack the owner label, so the informer
			// does not show it: look again soon (claimPodsOfAdopted).
			r.mu.Lock()
			adopted := it.adopted
			r.mu.Unlock()
			if adopted && (recheck == 0 || recheck > podClaimRecheck) {
				recheck = podClaimRecheck
			}
		}
		if recheck > 0 && recheck < r.cfg.LaunchTimeout-waited {
			return false, recheck
		}
		return false, r.cfg.LaunchTimeout - waited
	}
	return false, 0
}

// observePod records the pod's location once it has an IP and emits
// locationChanged; the first time it runs, it ends the pod-start span and
// records the startup time.
func (r *Runner) observePod(it *item, pod *corev1.Pod) []routing.Event {
	loc := task.Location{Host: pod.Status.PodIP, Port: adapters.Port, TLSPort: -1, K8sPodName: pod.Name}
	if pod.Annotations[adapters.AnnotationTLSEnabled] == "true" {
		loc.Port, loc.TLSPort = -1, adapters.TLSPort
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if it.phase == phaseDone {
		return nil
	}
	var evs []routing.Event
	if it.location != loc {
		it.location = loc
		it.podName = pod.Name
		evs = append(evs, routing.Event{Kind: routing.EventLocationChanged, TaskID: it.id, Runner: routing.RunnerK8s, Location: loc, Time: r.now()})
	}
	if it.phase == phaseLaunched {
		it.phase = phaseRunning
		if !it.restored {
			ms := r.now().Sub(it.launchedAt).Milliseconds()
			r.startupMs.Record(context.Background(), ms, metric.WithAttributes(
				attribute.String("dataSource", it.dataSource), attribute.String("taskId", it.id),
				attribute.String("taskType", it.taskType), attribute.String("groupId", it.groupID)))
		}
		if it.launchSpan != nil {
			it.launchSpan.SetAttributes(attribute.String("k8s.pod.name", pod.Name), attribute.String("k8s.pod.ip", pod.Status.PodIP))
			it.launchSpan.End()
			it.launchSpan = nil
		}
	}
	return evs
}

// readStatus finishes a task whose Job completed, from its status.json.
func (r *Runner) readStatus(it *item) (bool, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	st, ok, err := r.deps.Status.Status(ctx, it.id)
	if err == nil && ok && st != nil {
		s := *st
		s.ID = it.id
		if s.Duration <= 0 {
			r.mu.Lock()
			s.Duration = it.jobDuration
			r.mu.Unlock()
		}
		if s.Status == task.StateRunning {
			// A peon pushes RUNNING only if it died mid-way; the Job is done.
			s = task.Failure(it.id, "peon Job completed but its status.json still says RUNNING")
		}
		r.finish(it, s)
		return false, 0
	}
	r.mu.Lock()
	if it.statusWaitSince.IsZero() {
		it.statusWaitSince = r.now()
	}
	waited := r.now().Sub(it.statusWaitSince)
	r.mu.Unlock()
	if waited < r.cfg.StatusWaitTimeout {
		return false, min(statusRecheck, r.cfg.StatusWaitTimeout-waited)
	}
	if err != nil {
		r.fail(it, task.Failure(it.id, "peon Job succeeded but its status.json could not be read after %s: %v", r.cfg.StatusWaitTimeout, err))
	} else {
		r.fail(it, task.Failure(it.id, "task succeeded but no status.json was written: the peon Job completed, and no status.json appeared in the task log store within %s (%s)", r.cfg.StatusWaitTimeout, PropStatusWaitTimeout))
	}
	return false, 0
}

func (r *Runner) fail(it *item, st task.Status) {
	r.log.Info("task failed", "task", it.id, "reason", st.ErrorMsg)
	r.finish(it, st)
}

func (r *Runner) finish(it *item, st task.Status) {
	r.mu.Lock()
	evs := r.finishLocked(it, st)
	r.mu.Unlock()
	r.emit(evs...)
	r.dispatch()
}

// deleteJob deletes a Job with background propagation (the garbage
// collector removes its pods); a Job already gone is fine.
func (r *Runner) deleteJob(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	prop := metav1.DeletePropagationBackground
	err := r.deps.Client.BatchV1().Jobs(r.cfg.Namespace).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &prop})
	if err != nil && !apierrors.IsNotFound(err) {
		r.log.Warn("delete peon job", "job", name, "err", err)
		return fmt.Errorf("delete job %s: %w", name, err)
	}
	return nil
}

// podOf returns the Job's most interesting pod: a running or finished one
// over a pending one.
func (r *Runner) podOf(jobName string) *corev1.Pod {
	objs, err := r.podIndexer.ByIndex(podJobIndex, jobName)
	if err != nil || len(objs) == 0 {
		return nil
	}
	var best *corev1.Pod
	rank := func(p *corev1.Pod) int {
		switch p.Status.Phase {
		case corev1.PodRunning:
			return 3
		case corev1.PodSucceeded, corev1.PodFailed:
			return 2
		}
		return 1
	}
	for _, o := range objs {
		p, ok := o.(*corev1.Pod)
		if !ok {
			continue
		}
		if best == nil || rank(p) > rank(best) || (rank(p) == rank(best) && p.CreationTimestamp.After(best.CreationTimestamp.Time)) {
			best = p
		}
	}
	return best
}

func podStarted(p *corev1.Pod) bool {
	return p != nil && p.Status.Phase != corev1.PodPending && p.Status.Phase != ""
}

func jobCondition(j *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func jobFinished(j *batchv1.Job) bool {
	return jobCondition(j, batchv1.JobComplete) || jobCondition(j, batchv1.JobFailed)
}

func jobFinishedAt(j *batchv1.Job) (time.Time, bool) {
	if j.Status.CompletionTime != nil {
		return j.Status.CompletionTime.Time, true
	}
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime.Time, true
		}
	}
	return time.Time{}, false
}

func jobDurationMs(j *batchv1.Job) int64 {
	end, ok := jobFinishedAt(j)
	if !ok || j.Status.StartTime == nil {
		return -1
	}
	return end.Sub(j.Status.StartTime.Time).Milliseconds()
}

// failureReason says why a Job failed, from its pod when that tells more.
func (r *Runner) failureReason(job *batchv1.Job, pod *corev1.Pod) string {
	var cond batchv1.JobCondition
	for _, c := range job.Status.Conditions {
		if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
			cond = c
		}
	}
	if cond.Reason == batchv1.JobReasonDeadlineExceeded {
		return fmt.Sprintf("task exceeded maxTaskDuration (%s, %s): Kubernetes stopped peon Job %s at its activeDeadlineSeconds",
			isoduration.Format(r.cfg.MaxTaskDuration), PropMaxTaskDuration, job.Name)
	}
	if pod != nil {
		if msg := podFailure(pod); msg != "" {
			return fmt.Sprintf("peon pod %s failed: %s", pod.Name, msg)
		}
	}
	msg := fmt.Sprintf("peon Job %s failed", job.Name)
	if cond.Reason != "" {
		msg += ": " + cond.Reason
	}
	if cond.Message != "" {
		msg += ": " + cond.Message
	}
	return msg
}

// podFailure describes how the peon container ended.
func podFailure(pod *corev1.Pod) string {
	statuses := pod.Status.ContainerStatuses
	var cs *corev1.ContainerStatus
	for i := range statuses {
		if statuses[i].Name == adapters.MainContainerName {
			cs = &statuses[i]
		}
	}
	if cs == nil && len(statuses) > 0 {
		cs = &statuses[0]
	}
	var parts []string
	if cs != nil && cs.State.Terminated != nil {
		t := cs.State.Terminated
		s := fmt.Sprintf("container %s exited with code %d", cs.Name, t.ExitCode)
		if t.Reason != "" {
			s += " (" + t.Reason + ")"
		}
		if t.Message != "" {
			s += ": " + strings.TrimSpace(t.Message)
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 && (pod.Status.Reason != "" || pod.Status.Message != "") {
		parts = append(parts, strings.TrimSpace(pod.Status.Reason+" "+pod.Status.Message))
	}
	return strings.Join(parts, "; ")
}

// pendingReason explains why a pod did not start, when the pod says.
func pendingReason(pod *corev1.Pod) string {
	if pod == nil {
		return " (no pod was created)"
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return fmt.Sprintf(" (pod %s unschedulable: %s)", pod.Name, strings.TrimSpace(c.Reason+" "+c.Message))
		}
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			return fmt.Sprintf(" (pod %s: container %s waiting: %s)", pod.Name, cs.Name, strings.TrimSpace(w.Reason+" "+w.Message))
		}
	}
	return fmt.Sprintf(" (pod %s was %s)", pod.Name, pod.Status.Phase)
}

func taskAttrs(id, typ, ds string) []attribute.KeyValue {
	return []attribute.KeyValue{attribute.String("druid.task.id", id), attribute.String("druid.task.type", typ), attribute.String("druid.task.datasource", ds)}
}

func statusAttrs(st task.Status) []attribute.KeyValue {
	return []attribute.KeyValue{attribute.String("druid.task.status", string(st.Status)), attribute.Int64("druid.task.duration_ms", st.Duration), attribute.String("druid.task.error", st.ErrorMsg)}
}
