package peonsim

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/taskgate/taskgate/internal/testcluster"
	"github.com/taskgate/taskgate/task"
)

func TestMain(m *testing.M) { testcluster.Main(m) }

func TestConfigValidate(t *testing.T) {
	assert.ErrorContains(t, Config{TaskLogDir: "x"}.Validate(), "Namespace")
	assert.ErrorContains(t, Config{Namespace: "x"}.Validate(), "TaskLogDir")
}

func TestWritesLogAndStatusForPeonPods(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, c.Client(), Config{Namespace: ns, TaskLogDir: dir}) }()
	defer func() { cancel(); require.NoError(t, <-done) }()

	job := func(name, id string, annotations map[string]string) *batchv1.Job {
		zero := int32(0)
		a := map[string]string{annotationTaskID: id, testcluster.AnnotationRunDuration: "500ms"}
		for k, v := range annotations {
			a[k] = v
		}
		return &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: batchv1.JobSpec{BackoffLimit: &zero, Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"druid.k8s.peons": "true"}, Annotations: a},
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{Name: "main", Image: "example.invalid/druid"}}},
			}},
		}
	}
	for _, j := range []*batchv1.Job{
		job("ok", "index_ok_1", nil),
		job("bad", "index_bad_1", map[string]string{"taskgate.demo/status": "FAILED"}),
	} {
		_, err := c.Client().BatchV1().Jobs(ns).Create(ctx, j, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	read := func(id string) (task.Status, bool) {
		b, err := os.ReadFile(filepath.Join(dir, id+".status.json"))
		if err != nil {
			return task.Status{}, false
		}
		var s task.Status
		require.NoError(t, json.Unmarshal(b, &s))
		return s, true
	}
	require.Eventually(t, func() bool {
		_, ok1 := read("index_ok_1")
		_, ok2 := read("index_bad_1")
		return ok1 && ok2
	}, 60*time.Second, 100*time.Millisecond)
	s, _ := read("index_ok_1")
	assert.Equal(t, task.StateSuccess, s.Status)
	assert.GreaterOrEqual(t, s.Duration, int64(0))
	s, _ = read("index_bad_1")
	assert.Equal(t, task.StateFailed, s.Status)
	log, err := os.ReadFile(filepath.Join(dir, "index_ok_1.log"))
	require.NoError(t, err)
	assert.Contains(t, string(log), "running on pod ok-")
}
