package k8srunner

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/taskgate/taskgate/adapters"
	"github.com/taskgate/taskgate/internal/testcluster"
	"github.com/taskgate/taskgate/routing"
	"github.com/taskgate/taskgate/task"
	"github.com/taskgate/taskgate/tasklogs"
)

// TestMain runs one control plane for the package. The controller manager's
// default client limit (20 QPS) makes the job controller, not the runner,
// the bottleneck of the many-task tests and the benchmark; it is raised.
func TestMain(m *testing.M) {
	testcluster.MainWithConfig(m, testcluster.Config{
		ControllerManagerArgs: []string{"--kube-api-qps=200", "--kube-api-burst=400", "--concurrent-job-syncs=10"},
	})
}

const baseTemplate = `apiVersion: v1
kind: PodTemplate
metadata:
  name: peon-base
template:
  metadata:
    labels:
      app.kubernetes.io/name: druid-peon
  spec:
    containers:
      - name: main
        image: example.invalid/druid:test
        command: ["sh", "-c", "/peon.sh /druid/data 1"]
`

// testBuilder is the real customTemplateAdapter plus kwok behaviour
// annotations chosen per task, and an optional Job mutation.
type testBuilder struct {
	inner adapters.Adapter

	mu     sync.Mutex
	behave map[string]testcluster.Behavior
	def    testcluster.Behavior
	mutate func(*batchv1.Job)
	builds map[string]int
}

func (b *testBuilder) FromTask(ctx context.Context, t *task.Task) (*batchv1.Job, error) {
	job, err := b.inner.FromTask(ctx, t)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	bh, ok := b.behave[t.ID]
	if !ok {
		bh = b.def
	}
	job.Spec.Template.Annotations = bh.Apply(job.Spec.Template.Annotations)
	if b.mutate != nil {
		b.mutate(job)
	}
	b.builds[t.ID]++
	return job, nil
}

func (b *testBuilder) set(id string, bh testcluster.Behavior) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.behave[id] = bh
}

type env struct {
	t       testing.TB
	c       *testcluster.Cluster
	ns      string
	cs      kubernetes.Interface
	logs    *tasklogs.File
	builder *testBuilder
	adCfg   adapters.Config

	mu     sync.Mutex
	events []routing.Event
}

// newEnv makes a namespace, a file task log store and a builder over the
// real customTemplateAdapter. adapt tweaks the adapter config.
func newEnv(t testing.TB, adapt func(*adapters.Config)) *env {
	t.Helper()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	dir := t.TempDir()
	tpl := filepath.Join(dir, "base.yaml")
	require.NoError(t, os.WriteFile(tpl, []byte(baseTemplate), 0o600))
	ac := adapters.DefaultConfig()
	ac.AdapterType = adapters.TypeCustomTemplate
	ac.Namespace = ns
	ac.PodTemplates = map[string]string{adapters.BaseTemplateKey: tpl}
	ac.MaxTaskDuration = time.Minute
	ac.TaskCleanupDelay = time.Hour
	if adapt != nil {
		adapt(&ac)
	}
	ad, err := adapters.New(ac, adapters.Deps{})
	require.NoError(t, err)
	logs, err := tasklogs.NewFile(filepath.Join(dir, "tasklogs"))
	require.NoError(t, err)
	return &env{
		t: t, c: c, ns: ns, cs: c.Client(), logs: logs, adCfg: ac,
		builder: &testBuilder{inner: ad, behave: map[string]testcluster.Behavior{}, builds: map[string]int{}},
	}
}

func (e *env) config(mut func(*Config)) Config {
	cfg := DefaultConfig()
	cfg.Namespace = e.ns
	cfg.LaunchTimeout = 30 * time.Second
	cfg.StatusWaitTimeout = 2 * time.Second
	cfg.TaskJoinTimeout = 20 * time.Second
	cfg.MaxTaskDuration = e.adCfg.MaxTaskDuration
	if mut != nil {
		mut(&cfg)
	}
	return cfg
}

// start builds and starts a runner; it is stopped when the test ends.
func (e *env) start(cfg Config, deps ...func(*Deps)) *Runner {
	e.t.Helper()
	d := Deps{Client: e.c.Client(), Jobs: e.builder, Status: e.logs, Payloads: e.logs}
	for _, f := range deps {
		f(&d)
	}
	r, err := New(cfg, d)
	require.NoError(e.t, err)
	r.Subscribe(func(ev routing.Event) {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.events = append(e.events, ev)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(e.t, r.Start(ctx))
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.Stop(ctx)
	})
	return r
}

func (e *env) eventsFor(id string) []routing.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []routing.Event
	for _, ev := range e.events {
		if ev.TaskID == id {
			out = append(out, ev)
		}
	}
	return out
}

func newTask(t testing.TB, id, typ string, priority int) *task.Task {
	t.Helper()
	raw := fmt.Sprintf(`{"type":%q,"id":%q,"dataSource":"wiki","context":{"priority":%d,"tags":{"team":"ingest"}}}`, typ, id, priority)
	tk, err := task.Parse([]byte(raw))
	require.NoError(t, err)
	return tk
}

// writeStatus lays out the status.json a peon pushes.
func (e *env) writeStatus(st task.Status) {
	e.t.Helper()
	b, err := json.Marshal(st)
	require.NoError(e.t, err)
	require.NoError(e.t, os.MkdirAll(e.logs.Dir(), 0o755))
	require.NoError(e.t, os.WriteFile(e.logs.Path(st.ID, "status.json"), b, 0o600))
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}

// waitDone waits for the task's final status.
func waitDone(t *testing.T, r *Runner, id string, timeout time.Duration) task.Status {
	t.Helper()
	var st *task.Status
	eventually(t, timeout, "task "+id+" to finish", func() bool {
		w, ok := r.Get(id)
		if ok && w.Status != nil {
			st = w.Status
			return true
		}
		return false
	})
	return *st
}

func waitState(t *testing.T, r *Runner, id string, s task.RunnerState, timeout time.Duration) routing.WorkItem {
	t.Helper()
	var w routing.WorkItem
	eventually(t, timeout, fmt.Sprintf("task %s in state %s", id, s), func() bool {
		var ok bool
		w, ok = r.Get(id)
		return ok && w.State == s
	})
	return w
}

// jobGone reports whether the Job is deleted or being deleted.
func (e *env) jobGone(name string) bool {
	j, err := e.cs.BatchV1().Jobs(e.ns).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true
	}
	return err == nil && j.DeletionTimestamp != nil
}

func (e *env) jobExists(name string) bool {
	_, err := e.cs.BatchV1().Jobs(e.ns).Get(context.Background(), name, metav1.GetOptions{})
	return err == nil
}
