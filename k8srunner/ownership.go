package k8srunner

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"

	"github.com/taskgate/taskgate/adapters"
)

// AnnotationAdoptedAt is put on a Job this runner adopted (one started by
// Druid's own runner, or by a taskgate without owner labels): when it was
// adopted, RFC 3339. It tells operators where the owner label came from,
// and a restarted runner that the Job's pods may still lack the label.
const AnnotationAdoptedAt = "taskgate.io/adopted-at"

// podClaimRecheck bounds how often the pods of an adopted Job are looked up
// when the informer shows none with the owner label yet.
const podClaimRecheck = 2 * time.Second

// ownerSelector selects this runner's peon Jobs and pods.
func (r *Runner) ownerSelector() string {
	return labels.SelectorFromSet(labels.Set{adapters.LabelPeon: "true", adapters.LabelOwner: r.owner}).String()
}

// stampOwner makes sure a Job the runner creates, and its pods, carry the
// labels the runner's informers select on, whatever the JobBuilder did.
func (r *Runner) stampOwner(job *batchv1.Job) {
	for _, m := range []*map[string]string{&job.Labels, &job.Spec.Template.Labels} {
		if *m == nil {
			*m = map[string]string{}
		}
		(*m)[adapters.LabelPeon] = "true"
		(*m)[adapters.LabelOwner] = r.owner
	}
}

// adoptable says whether a Job without an owner label may be taken over,
// and if not, why. Druid's runner labels the Jobs it makes with the
// namespace of its Overlord (druid.overlord.namespace, apache/druid#17738);
// a Job labelled with another namespace belongs to another Overlord.
func (r *Runner) adoptable(job *batchv1.Job) (bool, string) {
	if owner := job.Labels[adapters.LabelOwner]; owner != "" {
		return false, fmt.Sprintf("it belongs to the gateway with %s=%s", PropOwnerID, owner)
	}
	if ns, ok := job.Labels[adapters.LabelOverlordNamespace]; ok && ns != adapters.LabelValue(r.cfg.overlordNamespace()) {
		return false, fmt.Sprintf("its %s label names another Overlord's namespace, %q (this gateway's is %q, from %s or %s)",
			adapters.LabelOverlordNamespace, ns, r.cfg.overlordNamespace(), PropOverlordNamespace, PropNamespace)
	}
	if _, err := adapters.TaskIDFromJob(job); err != nil {
		return false, err.Error()
	}
	return true, ""
}

// adoptDruidJobs runs at Start, before the informers: it lists the peon
// Jobs without an owner label (one LIST) and, when AdoptDruidJobs is set,
// labels those that are adoptable with the owner id, so the informers and
// restore see them as this runner's own. Without AdoptDruidJobs it only
// says that such Jobs exist and are left alone.
func (r *Runner) adoptDruidJobs(ctx context.Context) {
	unowned, err := labels.NewRequirement(adapters.LabelOwner, selection.DoesNotExist, nil)
	if err != nil {
		r.log.Error("adopt druid jobs: selector", "err", err)
		return
	}
	peon, _ := labels.NewRequirement(adapters.LabelPeon, selection.Equals, []string{"true"})
	sel := labels.NewSelector().Add(*peon, *unowned)
	list, err := r.deps.Client.BatchV1().Jobs(r.cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		r.log.Error("list peon jobs without an owner label; none adopted", "namespace", r.cfg.Namespace, "err", err)
		return
	}
	if len(list.Items) == 0 {
		return
	}
	if !r.cfg.AdoptDruidJobs {
		r.log.Warn("peon jobs without an owner label are left alone (Druid's own runner, or a taskgate without owner labels, started them)",
			"namespace", r.cfg.Namespace, "jobs", len(list.Items), "enable", PropAdoptDruidJobs+"=true")
		return
	}
	adopted := 0
	for i := range list.Items {
		job := &list.Items[i]
		if ok, why := r.adoptable(job); !ok {
			r.log.Info("peon job not adopted", "job", job.Name, "reason", why)
			continue
		}
		if err := r.adoptJob(ctx, job); err != nil {
			r.log.Warn("peon job not adopted", "job", job.Name, "err", err)
			continue
		}
		adopted++
	}
	r.log.Info("adopted peon jobs started without an owner label", "namespace", r.cfg.Namespace, "adopted", adopted, "seen", len(list.Items))
}

// adoptJob labels a Job with the owner id, then its existing pods. The Job
// patch carries its resourceVersion, so of two gateways adopting the same
// Job at once one wins and the other gets a conflict.
func (r *Runner) adoptJob(ctx context.Context, job *batchv1.Job) error {
	patched, err := r.patchOwner(ctx, job)
	// A conflict usually means the Job controller updated the Job's status
	// since the LIST; read it again and, if it is still nobody's, retry.
	for attempt := 0; apierrors.IsConflict(err) && attempt < 3; attempt++ {
		gctx, cancel := context.WithTimeout(ctx, apiTimeout)
		fresh, gerr := r.deps.Client.BatchV1().Jobs(r.cfg.Namespace).Get(gctx, job.Name, metav1.GetOptions{})
		cancel()
		if gerr != nil {
			return fmt.Errorf("adopt job %s: read it again after a conflict: %w", job.Name, gerr)
		}
		if ok, why := r.adoptable(fresh); !ok {
			return fmt.Errorf("adopt job %s: it changed meanwhile: %s", job.Name, why)
		}
		patched, err = r.patchOwner(ctx, fresh)
	}
	if apierrors.IsConflict(err) {
		return fmt.Errorf("adopt job %s: it kept changing (another gateway may be adopting it): %w", job.Name, err)
	}
	if err != nil {
		return fmt.Errorf("adopt job %s: %w", job.Name, err)
	}
	id, _ := adapters.TaskIDFromJob(patched)
	r.log.Info("adopted peon job", "job", job.Name, "task", id, "ownerId", r.owner)
	if err := r.claimPods(ctx, patched); err != nil {
		// The runner looks again when it tracks the Job.
		r.log.Warn("label pods of adopted job", "job", job.Name, "err", err)
	}
	return nil
}

// patchOwner labels job with the owner id, on condition that it is still
// at job's resourceVersion (of two gateways adopting at once, one wins).
func (r *Runner) patchOwner(ctx context.Context, job *batchv1.Job) (*batchv1.Job, error) {
	data, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"resourceVersion": job.ResourceVersion,
		"labels":          map[string]string{adapters.LabelOwner: r.owner},
		"annotations":     map[string]string{AnnotationAdoptedAt: r.now().UTC().Format(time.RFC3339)},
	}})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	return r.deps.Client.BatchV1().Jobs(r.cfg.Namespace).Patch(ctx, job.Name, types.MergePatchType, data, metav1.PatchOptions{})
}

// claimPods labels the pods of an adopted Job with the owner id: they were
// created from the Job's template before it had the label, and the pod
// informer selects on it.
func (r *Runner) claimPods(ctx context.Context, job *batchv1.Job) error {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	pods, err := r.deps.Client.CoreV1().Pods(r.cfg.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(labels.Set{batchv1.ControllerUidLabel: string(job.UID)}).String(),
	})
	if err != nil {
		return fmt.Errorf("list pods of job %s: %w", job.Name, err)
	}
	data, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]string{adapters.LabelOwner: r.owner}}})
	if err != nil {
		return err
	}
	for _, p := range pods.Items {
		if p.Labels[adapters.LabelOwner] == r.owner {
			continue
		}
		if _, err := r.deps.Client.CoreV1().Pods(r.cfg.Namespace).Patch(ctx, p.Name, types.MergePatchType, data, metav1.PatchOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("label pod %s of job %s: %w", p.Name, job.Name, err)
		}
	}
	return nil
}

// claimExisting decides about a Job that was already there when the runner
// created the task's Job (AlreadyExists). The runner's own Job (a retried
// create whose answer was lost) is tracked; an adoptable Druid Job is
// adopted; a Job of another task or another gateway fails the task, so a
// task never runs twice and no gateway takes another's Job (ROCm/spur#873).
// retry is set for a failed API call.
func (r *Runner) claimExisting(ctx context.Context, it *item, name string) (adopted, retry bool, failMsg string) {
	job, err := r.deps.Client.BatchV1().Jobs(r.cfg.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, true, "" // deleted meanwhile: create again
	}
	if err != nil {
		return false, true, ""
	}
	if id, err := adapters.TaskIDFromJob(job); err != nil || id != it.id {
		return false, false, fmt.Sprintf("peon Job %s already exists for another task (%s annotation %q); not taking it over", name, adapters.AnnotationTaskID, id)
	}
	owner := job.Labels[adapters.LabelOwner]
	switch {
	case owner == r.owner:
		return false, false, ""
	case owner != "":
		return false, false, fmt.Sprintf("peon Job %s of this task already exists and belongs to another gateway (%s=%s; this gateway's %s is %s); not taking it over",
			name, adapters.LabelOwner, owner, PropOwnerID, r.owner)
	case !r.cfg.AdoptDruidJobs:
		return false, false, fmt.Sprintf("peon Job %s of this task already exists without an owner label (Druid's own runner started it) and %s is false; not taking it over",
			name, PropAdoptDruidJobs)
	}
	if ok, why := r.adoptable(job); !ok {
		return false, false, fmt.Sprintf("peon Job %s of this task already exists and is not adoptable: %s", name, why)
	}
	if err := r.adoptJob(ctx, job); err != nil {
		return false, true, ""
	}
	return true, false, ""
}

// claimPodsOfAdopted labels the pods of an adopted Job that the informer
// does not show yet, at most every podClaimRecheck.
func (r *Runner) claimPodsOfAdopted(it *item, job *batchv1.Job) {
	r.mu.Lock()
	if !it.adopted || r.now().Sub(it.podsClaimedAt) < podClaimRecheck {
		r.mu.Unlock()
		return
	}
	it.podsClaimedAt = r.now()
	r.mu.Unlock()
	if err := r.claimPods(context.Background(), job); err != nil {
		r.log.Warn("label pods of adopted job", "job", job.Name, "err", err)
	}
}
