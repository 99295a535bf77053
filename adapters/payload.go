package adapters

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/taskgate/taskgate/task"
)

// PayloadStore keeps task payloads too large for TASK_JSON where the peon
// fetches them: the task log store's task payload (Druid's
// TaskLogs.pushTaskPayload; for example {taskId}/task.json in S3). A peon that
// finds no TASK_JSON reads it from there by its --taskId.
type PayloadStore interface {
	PushTaskPayload(ctx context.Context, taskID string, payload []byte) error
}

// PayloadSource reads a pushed task payload back (Druid's
// TaskLogs.streamTaskPayload), for TaskFromJob on Jobs without TASK_JSON.
type PayloadSource interface {
	TaskPayload(ctx context.Context, taskID string) ([]byte, error)
}

// ErrPayloadTooLarge reports a task whose compressed JSON does not fit in
// TASK_JSON while no PayloadStore is configured.
var ErrPayloadTooLarge = errors.New("task payload too large for TASK_JSON")

// ErrNoTaskPayload reports a Job that carries no task JSON and whose payload
// could not be read from a PayloadSource.
var ErrNoTaskPayload = errors.New("job carries no task payload")

// maxDecompressedTask bounds what DecodeTaskJSON inflates, so a hostile Job
// cannot make the gateway allocate without limit.
const maxDecompressedTask = 64 << 20

// EncodeTaskJSON is Druid's Base64Compression.compressBase64: gzip, then
// standard base64 with padding.
func EncodeTaskJSON(raw []byte) (string, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	// Java's GZIPOutputStream writes OS 0 in the header; match it so headers
	// look alike (the deflate bytes differ between implementations anyway).
	zw.OS = 0
	if _, err := zw.Write(raw); err != nil {
		return "", fmt.Errorf("gzip task JSON: %w", err)
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("gzip task JSON: %w", err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// DecodeTaskJSON reverses EncodeTaskJSON (Base64Compression.decompressBase64).
func DecodeTaskJSON(s string) ([]byte, error) {
	z, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("task JSON is not base64: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, fmt.Errorf("task JSON is not gzip: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxDecompressedTask+1))
	if err != nil {
		return nil, fmt.Errorf("gunzip task JSON: %w", err)
	}
	if len(out) > maxDecompressedTask {
		return nil, fmt.Errorf("task JSON inflates past %d bytes", maxDecompressedTask)
	}
	return out, nil
}

// TaskIDFromJob returns the original task id of a peon Job, taskgate's or
// Druid's: the pod template's task.id annotation (where Druid reads it), else
// the Job's own.
func TaskIDFromJob(job *batchv1.Job) (string, error) {
	if job == nil {
		return "", errors.New("job is nil")
	}
	if id := job.Spec.Template.Annotations[AnnotationTaskID]; id != "" {
		return id, nil
	}
	if id := job.Annotations[AnnotationTaskID]; id != "" {
		return id, nil
	}
	return "", fmt.Errorf("job %s has no %s annotation on its pod template", job.Name, AnnotationTaskID)
}

// TemplateKeyFromJob returns the pod template key a Job was built from, or ""
// for Jobs of the overlord adapters.
func TemplateKeyFromJob(job *batchv1.Job) string {
	if job == nil {
		return ""
	}
	if k := job.Annotations[AnnotationJobTemplate]; k != "" {
		return k
	}
	return job.Spec.Template.Annotations[AnnotationJobTemplate]
}

// TaskFromJob recovers the task a peon Job runs, from any adapter's Job,
// taskgate's or Druid's: the pod template's "task" annotation, else the main
// container's TASK_JSON value, else (payloads too large for either) the task
// payload read from src, which may be nil.
func TaskFromJob(ctx context.Context, job *batchv1.Job, src PayloadSource) (*task.Task, error) {
	if job == nil {
		return nil, errors.New("job is nil")
	}
	encoded := job.Spec.Template.Annotations[AnnotationTask]
	if encoded == "" {
		if c := mainContainerOf(job.Spec.Template.Spec.Containers); c != nil {
			for _, e := range c.Env {
				if e.Name == EnvTaskJSON && e.Value != "" {
					encoded = e.Value
				}
			}
		}
	}
	if encoded != "" {
		raw, err := DecodeTaskJSON(encoded)
		if err != nil {
			return nil, fmt.Errorf("job %s: %w", job.Name, err)
		}
		t, err := task.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("job %s: task JSON: %w", job.Name, err)
		}
		return t, nil
	}
	id, err := TaskIDFromJob(job)
	if err != nil {
		return nil, err
	}
	if src == nil {
		return nil, fmt.Errorf("job %s (task %s): no task JSON in the Job and no payload source to read it from: %w", job.Name, id, ErrNoTaskPayload)
	}
	raw, err := src.TaskPayload(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("job %s: read task payload of %s: %w", job.Name, id, err)
	}
	t, err := task.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("job %s: task payload of %s: %w", job.Name, id, err)
	}
	return t, nil
}

// mainContainerOf is the container named "main", else the first, as Druid's
// toTask finds it.
func mainContainerOf(cs []corev1.Container) *corev1.Container {
	for i := range cs {
		if cs[i].Name == MainContainerName {
			return &cs[i]
		}
	}
	if len(cs) > 0 {
		return &cs[0]
	}
	return nil
}
