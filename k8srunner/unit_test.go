package k8srunner

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/taskgate/taskgate/adapters"
	"github.com/taskgate/taskgate/task"
)

// orderBuilder records the order in which Jobs are built.
type orderBuilder struct {
	mu    sync.Mutex
	order []string
}

func (b *orderBuilder) FromTask(_ context.Context, t *task.Task) (*batchv1.Job, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.order = append(b.order, t.ID)
	return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: adapters.JobName(t.ID), Labels: map[string]string{adapters.LabelPeon: "true"}}}, nil
}

func (b *orderBuilder) built() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.order...)
}

type noStore struct{}

func (noStore) Status(context.Context, string) (*task.Status, bool, error) { return nil, false, nil }
func (noStore) StreamLog(context.Context, string, int64) (io.ReadCloser, bool, error) {
	return nil, false, nil
}

func startFake(t *testing.T, cfg Config, b JobBuilder) *Runner {
	t.Helper()
	r, err := New(cfg, Deps{Client: fake.NewClientset(), Jobs: b, Status: noStore{}})
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background()))
	t.Cleanup(func() { _ = r.Stop(context.Background()) })
	return r
}

// The pending queue gives a freed slot to the highest priority, then to the
// earliest arrival.
func TestPendingQueuePriorityThenFIFO(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Namespace = "ns"
	cfg.Capacity = 1
	b := &orderBuilder{}
	r := startFake(t, cfg, b)
	ctx := context.Background()
	require.NoError(t, r.Run(ctx, newTask(t, "first", "index", 0)))
	for _, x := range []struct {
		id string
		p  int
	}{{"low", 0}, {"high_a", 50}, {"mid", 25}, {"high_b", 50}} {
		require.NoError(t, r.Run(ctx, newTask(t, x.id, "index", x.p)))
	}
	eventually(t, 5*time.Second, "first built", func() bool { return len(b.built()) == 1 })
	assert.Len(t, r.Pending(), 5, "queued and not-yet-running tasks are pending")
	want := []string{"first", "high_a", "high_b", "mid", "low"}
	for i := 0; i < len(want)-1; i++ {
		require.NoError(t, r.Shutdown(ctx, want[i], "next"))
		eventually(t, 5*time.Second, "next built", func() bool { return len(b.built()) == i+2 })
	}
	assert.Equal(t, want, b.built())
	w, ok := r.Get("first")
	require.True(t, ok)
	assert.Equal(t, task.RunnerStateNone, w.State)
	assert.Equal(t, "shutdown: next", w.Status.ErrorMsg)
}

func TestCompletedTasksAreBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Namespace = "ns"
	cfg.CompletedMax = 2
	r := startFake(t, cfg, &orderBuilder{})
	ctx := context.Background()
	for _, id := range []string{"a", "b", "c"} {
		require.NoError(t, r.Run(ctx, newTask(t, id, "index", 0)))
		require.NoError(t, r.Shutdown(ctx, id, "done"))
	}
	_, ok := r.Get("a")
	assert.False(t, ok, "the oldest finished task is forgotten past CompletedMax")
	assert.Len(t, r.Known(), 2)
}

func TestPodLogOffsets(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Namespace = "ns"
	r := startFake(t, cfg, &orderBuilder{})
	// client-go's fake serves "fake logs" for any pod.
	tests := []struct {
		offset int64
		want   string
	}{{0, "fake logs"}, {5, "logs"}, {-4, "logs"}, {-100, "fake logs"}, {100, ""}}
	for _, tt := range tests {
		rc, ok, err := r.podLog(context.Background(), context.Background(), "t", "pod", tt.offset)
		require.NoError(t, err)
		require.True(t, ok)
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		assert.Equal(t, tt.want, string(b), "offset %d", tt.offset)
	}
}

func TestLastBytes(t *testing.T) {
	in := strings.Repeat("0123456789", 10000)
	got, err := lastBytes(bytes.NewReader([]byte(in)), 15)
	require.NoError(t, err)
	assert.Equal(t, "567890123456789", string(got))
}

func TestPodFailureMessage(t *testing.T) {
	pod := &corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
		{Name: "sidecar", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}},
		{Name: "main", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled", Message: "killed\n"}}},
	}}}
	assert.Equal(t, "container main exited with code 137 (OOMKilled): killed", podFailure(pod))
	evicted := &corev1.Pod{Status: corev1.PodStatus{Reason: "Evicted", Message: "node low on memory"}}
	assert.Equal(t, "Evicted node low on memory", podFailure(evicted))
}

// The Job controller updates a new Job's status right after its creation,
// so adoption's conditional patch may meet a newer resourceVersion: it reads
// the Job again and retries while the Job is still nobody's.
func TestAdoptJobRetriesAfterAConflict(t *testing.T) {
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "druidjob", Namespace: "druid", ResourceVersion: "1",
		Labels: map[string]string{adapters.LabelPeon: "true"}},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{
			Annotations: map[string]string{adapters.AnnotationTaskID: "druid_task"}}}}}
	client := fake.NewClientset(job)
	conflicts := 0
	client.PrependReactor("patch", "jobs", func(k8stesting.Action) (bool, runtime.Object, error) {
		if conflicts < 2 {
			conflicts++
			return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "batch", Resource: "jobs"}, "druidjob", errors.New("modified"))
		}
		return false, nil, nil
	})
	cfg := DefaultConfig()
	cfg.Namespace = "druid"
	r, err := New(cfg, Deps{Client: client, Jobs: &orderBuilder{}, Status: noStore{}})
	require.NoError(t, err)
	require.NoError(t, r.adoptJob(context.Background(), job))
	assert.Equal(t, 2, conflicts)
	got, err := client.BatchV1().Jobs("druid").Get(context.Background(), "druidjob", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, r.owner, got.Labels[adapters.LabelOwner])

	// A Job another gateway took meanwhile is left alone.
	other := job.DeepCopy()
	other.Name = "takenjob"
	other.Labels = map[string]string{adapters.LabelPeon: "true", adapters.LabelOwner: "someone-else"}
	_, err = client.BatchV1().Jobs("druid").Create(context.Background(), other, metav1.CreateOptions{})
	require.NoError(t, err)
	conflicts = 0
	stale := other.DeepCopy()
	delete(stale.Labels, adapters.LabelOwner)
	err = r.adoptJob(context.Background(), stale)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "someone-else")
}
