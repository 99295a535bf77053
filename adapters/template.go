package adapters

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/taskgate/taskgate/task"
)

// templateAdapter is Druid's PodTemplateTaskAdapter (customTemplateAdapter):
// a PodTemplate file is the base of the Job's pod and only what the peon needs
// is added: identity labels and annotations, the compressed task in the "task"
// annotation, and TASK_DIR, TASK_ID, LOAD_BROADCAST_*, TASK_JSON env on the
// first container.
type templateAdapter struct {
	cfg       Config
	deps      Deps
	templates *templateStore
}

func (a *templateAdapter) Type() string { return TypeCustomTemplate }

func (a *templateAdapter) FromTask(ctx context.Context, t *task.Task) (*batchv1.Job, error) {
	return fromRendered(ctx, a, a.deps.Payloads, t)
}

func (a *templateAdapter) Render(t *task.Task) (*Rendered, error) {
	if t == nil {
		return nil, errors.New("task is nil")
	}
	c := a.cfg
	mode, err := BroadcastDatasourceLoadingMode(t)
	if err != nil {
		return nil, err
	}
	encoded, fits, err := encodedPayload(t)
	if err != nil {
		return nil, err
	}

	available := a.templates.snapshot()
	key, reason, explicit, err := a.taskTemplateKey(t, available)
	if err != nil {
		return nil, err
	}
	if !explicit {
		key, reason, err = a.deps.Selector.SelectTemplate(t, available)
		if err != nil {
			return nil, fmt.Errorf("select pod template for task %s: %w", t.ID, err)
		}
	}
	if key == "" {
		key = BaseTemplateKey
	}
	if _, ok := available[key]; !ok {
		reason = fmt.Sprintf("%s; but no template %q is configured (%s%s), so using base", reason, key, PropPodTemplatePrefix, key)
		key = BaseTemplateKey
	}
	// Druid reads the chosen file for every task, so edits apply to the next
	// task without a restart; the store re-reads it when it has changed, and
	// keeps the last good version while a bad edit is in the file.
	tmpl, err := a.templates.get(key)
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", t.ID, err)
	}
	if a.templates.refusal(key) != nil {
		reason += "; its file's current content is refused (see " + PathPodTemplateStatus + "), so the last good version is used"
	}
	a.deps.Logger.Debug("pod template selected", "task", t.ID, "template", key, "reason", reason)

	pod := tmpl.Template.DeepCopy()
	if len(pod.Spec.Containers) == 0 {
		return nil, fmt.Errorf("pod template %s (%s): template.spec.containers is empty; the first container runs the peon", key, a.templates.files[key])
	}
	switch pod.Spec.RestartPolicy {
	case "":
		// A Job's pods must not restart in place; Druid relies on the template
		// saying so, and the API server would default it to Always.
		pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	case corev1.RestartPolicyNever:
	default:
		// Always is refused by the API server for Jobs; OnFailure would
		// restart the peon in place and run the task a second time.
		return nil, fmt.Errorf("pod template %s (%s): template.spec.restartPolicy %s would run the peon more than once; use Never",
			key, a.templates.files[key], pod.Spec.RestartPolicy)
	}

	id := newIdentity(c, t)
	id.annotations[AnnotationJobTemplate] = key
	id.annotations[AnnotationTemplateReason] = reason

	// Pod annotations are Druid's: the template's own plus the task identity,
	// not druid.indexer.runner.annotations (those go on the Job only).
	podAnnotations := maps.Clone(pod.Annotations)
	if podAnnotations == nil {
		podAnnotations = map[string]string{}
	}
	podAnnotations[AnnotationTLSEnabled] = strconv.FormatBool(c.EnableTLSPort)
	podAnnotations[AnnotationTaskID] = t.ID
	podAnnotations[AnnotationTaskType] = t.Type
	podAnnotations[AnnotationTaskGroupID] = t.GroupID
	podAnnotations[AnnotationTaskDataSource] = t.DataSource
	if fits {
		podAnnotations[AnnotationTask] = encoded
	} else {
		delete(podAnnotations, AnnotationTask)
	}
	podAnnotations[AnnotationJobTemplate] = key
	pod.Annotations = podAnnotations

	podLabels := maps.Clone(pod.Labels)
	if podLabels == nil {
		podLabels = map[string]string{}
	}
	maps.Copy(podLabels, id.labels)
	pod.Labels = podLabels

	vars := []corev1.EnvVar{
		valueEnv(EnvTaskDir, c.BaseDir),
		valueEnv(EnvTaskID, escapeVarRefs(t.ID)),
		valueEnv(EnvLoadBroadcastDatasourceMode, mode),
		valueEnv(EnvLoadBroadcastSegments, strconv.FormatBool(SupportsQueries(t))),
	}
	first := &pod.Spec.Containers[0]
	env := removeEnv(first.Env, EnvTaskJSON)
	// Druid leaves druid_host and HOSTNAME to the template. taskgate adds them,
	// with the overlord adapters' values, only where the template has not set
	// them, so every peon advertises its pod IP and knows its pod name.
	for _, v := range []corev1.EnvVar{fieldRefEnv(EnvDruidHost, "status.podIP"), fieldRefEnv(EnvHostname, "metadata.name")} {
		if !hasEnv(env, v.Name) {
			vars = append(vars, v)
		}
	}
	if fits {
		vars = append(vars, fieldRefEnv(EnvTaskJSON, "metadata.annotations['"+AnnotationTask+"']"))
	}
	first.Env = setEnv(env, vars...)
	if first.Resources, err = applyTaskResources(first.Resources, t); err != nil {
		return nil, fmt.Errorf("task %s: %w", t.ID, err)
	}

	job := &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        id.jobName,
			Labels:      id.labels,
			Annotations: id.annotations,
		},
		Spec: batchv1.JobSpec{Template: *pod},
	}
	jobSpecLimits(c, &job.Spec)
	return &Rendered{
		Job:                  job,
		PayloadInDeepStorage: !fits,
		Payload:              t.Raw(),
		TemplateKey:          key,
		TemplateReason:       reason,
	}, nil
}

// taskTemplateKey reads the template a task names in its context, when the
// operator allowed it. As in Druid, it wins over every selection strategy,
// and a name with no configured template fails the task instead of falling
// back: a user only sets it on purpose, so a miss is a misconfiguration.
func (a *templateAdapter) taskTemplateKey(t *task.Task, available map[string]*corev1.PodTemplate) (key, reason string, ok bool, err error) {
	if !a.cfg.AllowTaskPodTemplateSelection {
		return "", "", false, nil
	}
	if _, set := t.Context[ContextPodTemplateSelectionKey]; !set {
		return "", "", false, nil
	}
	name, isString := t.ContextString(ContextPodTemplateSelectionKey)
	if !isString || name == "" {
		return "", "", false, fmt.Errorf("task %s: context %s must be a non-empty string naming a pod template (%s<name>)",
			t.ID, ContextPodTemplateSelectionKey, PropPodTemplatePrefix)
	}
	if _, found := available[name]; !found {
		return "", "", false, fmt.Errorf("task %s: context %s names pod template %q, but %s%s is not configured (configured: %s)",
			t.ID, ContextPodTemplateSelectionKey, name, PropPodTemplatePrefix, name, strings.Join(sortedTemplateKeys(available), ", "))
	}
	return name, fmt.Sprintf("task context %s names pod template %q", ContextPodTemplateSelectionKey, name), true, nil
}

func sortedTemplateKeys(m map[string]*corev1.PodTemplate) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func hasEnv(env []corev1.EnvVar, name string) bool {
	for _, e := range env {
		if e.Name == name {
			return true
		}
	}
	return false
}

// parsePodTemplate reads a v1 PodTemplate from YAML or JSON. Like Druid's
// parser it accepts a file without kind or apiVersion.
func parsePodTemplate(data []byte) (*corev1.PodTemplate, error) {
	var t corev1.PodTemplate
	if err := yaml.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("not a PodTemplate: %w", err)
	}
	if (t.Kind != "PodTemplate" && t.Kind != "") || (t.APIVersion != "v1" && t.APIVersion != "") {
		return nil, fmt.Errorf("kind must be PodTemplate (apiVersion v1), got kind %q apiVersion %q", t.Kind, t.APIVersion)
	}
	if len(t.Template.Spec.Containers) == 0 {
		return nil, errors.New("template.spec.containers is empty; the first container runs the peon")
	}
	return &t, nil
}
