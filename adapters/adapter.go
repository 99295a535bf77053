package adapters

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/taskgate/taskgate/task"
)

// Adapter turns tasks into peon Jobs.
type Adapter interface {
	// Type is the adapter type (TypeSingleContainer, ...).
	Type() string
	// Render builds the Job for t without side effects (for dry runs). When
	// the task JSON is too large for TASK_JSON the Job goes without it and
	// Rendered.PayloadInDeepStorage is set.
	Render(t *task.Task) (*Rendered, error)
	// FromTask builds the Job for t, first pushing the task payload to the
	// PayloadStore when it is too large for TASK_JSON (ErrPayloadTooLarge
	// when there is no store). The caller creates the Job.
	FromTask(ctx context.Context, t *task.Task) (*batchv1.Job, error)
}

// Rendered is a Job built for a task, with what the caller needs to know
// about it.
type Rendered struct {
	Job *batchv1.Job
	// PayloadInDeepStorage is true when the task JSON (Payload) must be pushed
	// to the task payload store before the Job is created.
	PayloadInDeepStorage bool
	// Payload is the task JSON exactly as received.
	Payload []byte
	// TemplateKey and TemplateReason say which pod template was used and why
	// (customTemplateAdapter only).
	TemplateKey    string
	TemplateReason string
}

// Deps are what an adapter needs besides its Config.
type Deps struct {
	// SourcePod is the pod whose spec the overlord adapters copy (Druid uses
	// the Overlord's own pod). The caller fetches it; adapters make no API
	// calls. Required for TypeSingleContainer and TypeMultiContainer.
	SourcePod *corev1.Pod
	// Payloads receives task payloads too large for TASK_JSON. Optional.
	Payloads PayloadStore
	// Selector picks pod templates (customTemplateAdapter). Default
	// TaskTypeSelector.
	Selector TemplateSelector
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// MeterProvider records MetricTemplateReloadErrors; default the global
	// provider.
	MeterProvider metric.MeterProvider
}

// New returns the adapter named by cfg.AdapterType. It validates cfg, and for
// customTemplateAdapter reads and checks every pod template file now, so a
// bad template fails at start-up rather than at the first task.
func New(cfg Config, deps Deps) (Adapter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("adapter config: %w", err)
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.MeterProvider == nil {
		deps.MeterProvider = otel.GetMeterProvider()
	}
	switch cfg.AdapterType {
	case TypeSingleContainer, TypeMultiContainer:
		if deps.SourcePod == nil {
			return nil, fmt.Errorf("%s adapter needs the source pod whose spec peon Jobs copy (the Overlord's or the gateway's own pod)", cfg.AdapterType)
		}
		if len(deps.SourcePod.Spec.Containers) == 0 {
			return nil, fmt.Errorf("source pod %s/%s has no containers", deps.SourcePod.Namespace, deps.SourcePod.Name)
		}
		return &overlordAdapter{cfg: cfg, deps: deps, multi: cfg.AdapterType == TypeMultiContainer}, nil
	case TypeCustomTemplate:
		if deps.Selector == nil {
			deps.Selector = TaskTypeSelector{}
		}
		store, err := newTemplateStore(cfg.PodTemplates, cfg.Labels, deps.Logger, deps.MeterProvider)
		if err != nil {
			return nil, err
		}
		return &templateAdapter{cfg: cfg, deps: deps, templates: store}, nil
	}
	return nil, fmt.Errorf("%s: unknown adapter type %q", PropAdapterType, cfg.AdapterType)
}

// fromRendered is FromTask for every adapter.
func fromRendered(ctx context.Context, a Adapter, store PayloadStore, t *task.Task) (*batchv1.Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, err := a.Render(t)
	if err != nil {
		return nil, err
	}
	if r.PayloadInDeepStorage {
		if store == nil {
			return nil, fmt.Errorf("task %s: compressed task JSON is over Druid's %d-character TASK_JSON limit and no task payload store is configured (Druid pushes such payloads to the task log store; configure one so the peon can fetch it): %w", t.ID, MaxTaskJSONChars, ErrPayloadTooLarge)
		}
		if err := store.PushTaskPayload(ctx, t.ID, r.Payload); err != nil {
			return nil, fmt.Errorf("push task payload of %s: %w", t.ID, err)
		}
	}
	return r.Job, nil
}

// encodedPayload compresses the task JSON and says whether it fits TASK_JSON.
// Druid puts it in TASK_JSON when shorter than the limit and pushes it when
// longer, so a payload of exactly the limit would get neither; here it is
// pushed.
func encodedPayload(t *task.Task) (encoded string, fits bool, err error) {
	raw := t.Raw()
	if len(raw) == 0 {
		return "", false, errors.New("task has no JSON")
	}
	encoded, err = EncodeTaskJSON(raw)
	if err != nil {
		return "", false, fmt.Errorf("task %s: %w", t.ID, err)
	}
	return encoded, len(encoded) < MaxTaskJSONChars, nil
}

// identity is what every adapter puts on a Job so Druid and taskgate know it.
type identity struct {
	jobName     string
	labels      map[string]string
	annotations map[string]string
}

// newIdentity builds the Job's labels and annotations: the configured ones,
// then Druid's (which win on a clash).
func newIdentity(c Config, t *task.Task) identity {
	labels := maps.Clone(c.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelPeon] = "true"
	if ns := overlordNamespace(c); ns != "" {
		labels[LabelOverlordNamespace] = LabelValue(ns)
	}
	labels[LabelTaskID] = TaskIDLabelValue(t.ID)
	labels[LabelTaskType] = LabelValue(t.Type)
	labels[LabelTaskGroupID] = TaskIDLabelValue(t.GroupID)
	labels[LabelTaskDataSource] = LabelValue(t.DataSource)
	if c.OwnerID != "" {
		labels[LabelOwner] = c.OwnerID
	}

	annotations := maps.Clone(c.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[AnnotationTaskID] = t.ID
	annotations[AnnotationTaskType] = t.Type
	annotations[AnnotationTaskGroupID] = t.GroupID
	annotations[AnnotationTaskDataSource] = t.DataSource
	return identity{
		jobName:     JobNameWithPrefix(c.K8sTaskPodNamePrefix, t.ID),
		labels:      labels,
		annotations: annotations,
	}
}

func overlordNamespace(c Config) string {
	if c.OverlordNamespace != "" {
		return c.OverlordNamespace
	}
	return c.Namespace
}

// jobSpecLimits sets Druid's Job-level settings.
func jobSpecLimits(c Config, spec *batchv1.JobSpec) {
	deadline := int64(c.MaxTaskDuration / time.Second)
	spec.ActiveDeadlineSeconds = &deadline
	backoff := int32(0)
	spec.BackoffLimit = &backoff
	if !c.DebugJobs {
		ttl := int32(c.TaskCleanupDelay / time.Second)
		spec.TTLSecondsAfterFinished = &ttl
	}
}

// setEnv appends vars to env, first removing entries of the same names: the
// container then sees what it would with Druid's appended duplicates (the
// last definition wins) without the API server's duplicate warnings.
func setEnv(env []corev1.EnvVar, vars ...corev1.EnvVar) []corev1.EnvVar {
	names := make(map[string]bool, len(vars))
	for _, v := range vars {
		names[v.Name] = true
	}
	out := make([]corev1.EnvVar, 0, len(env)+len(vars))
	for _, e := range env {
		if !names[e.Name] {
			out = append(out, e)
		}
	}
	return append(out, vars...)
}

func fieldRefEnv(name, fieldPath string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: fieldPath}}}
}

func valueEnv(name, value string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, Value: value}
}
