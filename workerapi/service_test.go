package workerapi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/taskgate/taskgate/internal/mmsim"
	"github.com/taskgate/taskgate/internal/testcluster"
	"github.com/taskgate/taskgate/routing"
	"github.com/taskgate/taskgate/task"
	"github.com/taskgate/taskgate/workerrunner"
	"github.com/taskgate/taskgate/workerrunner/protocol"
)

func TestMain(m *testing.M) { testcluster.Main(m) }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// gateway is the gateway side: simulated Middle Managers behind a worker
// runner and a Hybrid, with the worker API served over real HTTP.
type gateway struct {
	mms    []*mmsim.MM
	inner  *workerrunner.Runner
	hybrid *routing.Hybrid
	svc    *Service
	srv    *httptest.Server
}

func fastWorkerConfig() workerrunner.Config {
	c := workerrunner.DefaultConfig()
	c.SyncRequestTimeout = 2 * time.Second
	c.SyncBackoffMin = 20 * time.Millisecond
	c.SyncBackoffMax = 200 * time.Millisecond
	c.TaskAssignmentTimeout = 10 * time.Second
	c.StartSyncTimeout = 10 * time.Second
	c.AssignRequestHTTPTimeout = 5 * time.Second
	c.ShutdownRequestHTTPTimeout = 5 * time.Second
	return c
}

func startGateway(t *testing.T, nMMs, capacity int) *gateway {
	t.Helper()
	g := &gateway{}
	cfg := fastWorkerConfig()
	for i := range nMMs {
		mm, err := mmsim.New(mmsim.Config{Capacity: capacity, Logger: quiet(), StartPort: 9100 + 100*i})
		require.NoError(t, err)
		require.NoError(t, mm.Start(context.Background()))
		t.Cleanup(mm.Kill)
		g.mms = append(g.mms, mm)
		cfg.Workers = append(cfg.Workers, workerrunner.StaticWorker{URL: mm.URL(), Capacity: capacity})
	}
	var err error
	g.inner, err = workerrunner.New(cfg, workerrunner.Options{Logger: quiet()})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, g.inner.Start(ctx))
	t.Cleanup(func() { _ = g.inner.Stop(context.Background()) })
	s, err := routing.NewStrategy(routing.StrategyConfig{Type: routing.StrategyWorker})
	require.NoError(t, err)
	g.hybrid, err = routing.NewHybrid(routing.NewNotConfigured(routing.RunnerK8s, "test"), g.inner, s, routing.WithLogger(quiet()))
	require.NoError(t, err)
	g.srv = httptest.NewUnstartedServer(nil)
	g.svc = g.newService(t)
	g.srv.Config.Handler = protocol.NewHandler(g.svc, protocol.WithLogger(quiet()))
	g.srv.Start()
	t.Cleanup(g.srv.Close)
	return g
}

func (g *gateway) newService(t *testing.T) *Service {
	t.Helper()
	svc, err := New(Config{HostAndPort: g.srv.Listener.Addr().String(), Capacity: 50, Logger: quiet()}, g.hybrid)
	require.NoError(t, err)
	require.NoError(t, svc.Start(context.Background()))
	t.Cleanup(svc.Stop)
	return svc
}

// overlord is an Overlord's view of workers: taskgate's own HTTP remote task
// runner implementation speaking Smile, as Druid's does.
func overlord(t *testing.T, cfg workerrunner.Config, opts workerrunner.Options) *workerrunner.Runner {
	t.Helper()
	cfg.Smile = true
	opts.Logger = quiet()
	r, err := workerrunner.New(cfg, opts)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, r.Start(ctx))
	t.Cleanup(func() { _ = r.Stop(context.Background()) })
	return r
}

func simTask(t *testing.T, id string, durMs int, result task.State) *task.Task {
	t.Helper()
	raw := fmt.Sprintf(`{"type":"noop","id":%q,"dataSource":"wiki","resource":{"availabilityGroup":%q,"requiredCapacity":1},"context":{"simulate":{"durationMs":%d,"result":%q}}}`, id, id, durMs, result)
	tk, err := task.Parse([]byte(raw))
	require.NoError(t, err)
	return tk
}

type statuses struct {
	mu   sync.Mutex
	byID map[string][]task.Status
	locs map[string]task.Location
}

func newStatuses() *statuses {
	return &statuses{byID: map[string][]task.Status{}, locs: map[string]task.Location{}}
}

func (s *statuses) listen(e routing.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch e.Kind {
	case routing.EventStatusChanged:
		s.byID[e.TaskID] = append(s.byID[e.TaskID], *e.Status)
	case routing.EventLocationChanged:
		s.locs[e.TaskID] = e.Location
	}
}

func (s *statuses) done(n int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID) == n
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// An unmodified Overlord finds taskgate through Druid's Kubernetes discovery
// (the announcement on the gateway's pod), assigns tasks in Smile, and hears
// each task's real peon location and final status once.
func TestOverlordDiscoversGatewayAndRunsTasksThroughIt(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	g := startGateway(t, 2, 3)

	// The gateway's own pod, announced as a middleManager.
	pod, err := c.Client().CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "taskgate-0"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "gateway", Image: "taskgate:dev"}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	const cluster = "prod-druid"
	ann, err := NewAnnouncer(c.Client(), AnnouncerConfig{PodName: pod.Name, Namespace: ns, ClusterIdentifier: cluster, Worker: g.svc.Worker()})
	require.NoError(t, err)
	require.NoError(t, ann.Announce(ctx))
	got, err := c.Client().CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "true", got.Labels["druidDiscoveryAnnouncement-middleManager"])
	assert.Equal(t, cluster, got.Labels["druidDiscoveryAnnouncement-cluster-identifier"])
	assert.Equal(t, strings.ReplaceAll(g.svc.HostAndPort(), ":", "-"), got.Labels["druidDiscoveryAnnouncement-id"])
	info, ok, err := workerrunner.ParseWorkerAnnouncement([]byte(got.Annotations["druidNodeInfo-middleManager"]))
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, g.svc.HostAndPort(), info.Host)
	assert.Equal(t, 50, info.Capacity)

	disc, err := workerrunner.NewK8sDiscovery(c.Client(), ns, cluster, quiet())
	require.NoError(t, err)
	cfg := fastWorkerConfig()
	cfg.Discovery = workerrunner.DiscoveryK8s
	cfg.K8sClusterIdentifier = cluster
	cfg.K8sNamespace = ns
	ov := overlord(t, cfg, workerrunner.Options{Discovery: disc})
	assert.Equal(t, map[string]int{protocol.DefaultWorkerCategory: 50}, ov.TotalSlots())

	rec := newStatuses()
	defer ov.Subscribe(rec.listen)()
	const n = 24
	for i := range n {
		result := task.StateSuccess
		if i%6 == 5 {
			result = task.StateFailed
		}
		require.NoError(t, ov.Run(ctx, simTask(t, fmt.Sprintf("ov-%02d", i), 50+10*(i%5), result)))
	}
	waitFor(t, 60*time.Second, "every task final at the Overlord", func() bool { return rec.done(n) })
	rec.mu.Lock()
	for i := range n {
		id := fmt.Sprintf("ov-%02d", i)
		require.Len(t, rec.byID[id], 1, "task %s: exactly one final status", id)
		want := task.StateSuccess
		if i%6 == 5 {
			want = task.StateFailed
		}
		assert.Equal(t, want, rec.byID[id][0].Status, id)
		// The Overlord saw the peon's real address, not the gateway's.
		inner, ok := g.inner.Get(id)
		require.True(t, ok)
		assert.Equal(t, inner.Location, rec.locs[id], "location of %s", id)
		assert.NotEqual(t, g.svc.HostAndPort(), fmt.Sprintf("%s:%d", rec.locs[id].Host, rec.locs[id].Port))
	}
	rec.mu.Unlock()
	assigned := 0
	for _, mm := range g.mms {
		assigned += mm.Stats().Assigned
	}
	assert.Equal(t, n, assigned, "each task ran once on the Middle Managers")

	// Shutdown from the Overlord reaches the task behind the gateway.
	require.NoError(t, ov.Run(ctx, simTask(t, "ov-long", 30000, task.StateSuccess)))
	waitFor(t, 20*time.Second, "long task running behind the gateway", func() bool {
		wi, ok := g.inner.Get("ov-long")
		return ok && wi.State == task.RunnerStateRunning
	})
	require.NoError(t, ov.Shutdown(ctx, "ov-long", "test"))
	waitFor(t, 20*time.Second, "shutdown reached the Middle Manager", func() bool {
		wi, ok := g.inner.Get("ov-long")
		return ok && wi.Status != nil && wi.Status.Status == task.StateFailed
	})

	require.NoError(t, ann.Unannounce(ctx))
	got, err = c.Client().CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
	require.NoError(t, err)
	assert.NotContains(t, got.Labels, "druidDiscoveryAnnouncement-middleManager")
	assert.NotContains(t, got.Annotations, "druidNodeInfo-middleManager")
}

// After a gateway restart the Overlord's counter is reset, and its first
// full sync must list every task the gateway runs, or the Overlord fails
// the missing ones at once.
func TestRestartedServiceListsEveryTaskInFirstFullSync(t *testing.T) {
	g := startGateway(t, 1, 4)
	ctx := context.Background()
	for i := range 3 {
		require.NoError(t, g.svc.AssignTask(ctx, simTask(t, fmt.Sprintf("r-%d", i), 20000, task.StateSuccess)))
	}
	require.NoError(t, g.svc.AssignTask(ctx, simTask(t, "r-short", 10, task.StateSuccess)))
	waitFor(t, 20*time.Second, "short task done", func() bool {
		wi, ok := g.inner.Get("r-short")
		return ok && wi.Status != nil
	})
	g.svc.Stop()

	fresh := g.newService(t)
	snap, err := fresh.Changes(ctx, protocol.Counter{Counter: -1})
	require.NoError(t, err)
	byID := map[string]task.State{}
	for _, it := range snap.Requests {
		if it.Type == protocol.ItemTaskUpdate {
			byID[it.TaskAnnouncement.ID()] = it.TaskAnnouncement.State()
		}
	}
	assert.Equal(t, map[string]task.State{"r-0": task.StateRunning, "r-1": task.StateRunning, "r-2": task.StateRunning, "r-short": task.StateSuccess}, byID)
	ids, err := fresh.Tasks(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"r-0", "r-1", "r-2"}, ids)
	// Assigning a known id again starts nothing.
	require.NoError(t, fresh.AssignTask(ctx, simTask(t, "r-0", 10, task.StateSuccess)))
	assert.Equal(t, 4, g.mms[0].Stats().Assigned)
}

func TestCompletedTasksArePruned(t *testing.T) {
	g := startGateway(t, 1, 2)
	ctx := context.Background()
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	svc, err := New(Config{HostAndPort: "gw:8091", Logger: quiet(), Now: clock, CompletedRetention: time.Minute}, g.hybrid)
	require.NoError(t, err)
	require.NoError(t, svc.Start(ctx))
	defer svc.Stop()
	require.NoError(t, svc.AssignTask(ctx, simTask(t, "p-1", 10, task.StateSuccess)))
	waitFor(t, 20*time.Second, "done", func() bool {
		snap, _ := svc.Changes(ctx, protocol.Counter{Counter: -1})
		for _, it := range snap.Requests {
			if it.Type == protocol.ItemTaskUpdate && it.TaskAnnouncement.State() == task.StateSuccess {
				return true
			}
		}
		return false
	})
	last := svc.history.LastCounter()
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	svc.prune()
	delta, err := svc.Changes(ctx, last)
	require.NoError(t, err)
	require.Len(t, delta.Requests, 1)
	assert.Equal(t, protocol.ItemTaskRemoval, delta.Requests[0].Type)
	assert.Equal(t, "p-1", delta.Requests[0].TaskID)
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "host:port is required"},
		{Config{HostAndPort: "gw"}, "must be host:port"},
		{Config{HostAndPort: "gw:0"}, "port must be 1..65535"},
		{Config{HostAndPort: "gw:8091", Capacity: -1}, "capacity must be >= 0"},
	} {
		assert.ErrorContains(t, tc.cfg.Validate(), tc.want)
	}
	_, err := NewAnnouncer(nil, AnnouncerConfig{PodName: "p", Namespace: "n", ClusterIdentifier: "Bad_ID", Worker: protocol.Worker{Host: "gw:8091"}})
	assert.ErrorContains(t, err, "clusterIdentifier")
	_, err = NewAnnouncer(nil, AnnouncerConfig{PodName: "p", Namespace: "n", ClusterIdentifier: "ok-id", Worker: protocol.Worker{Host: "[::1]:8091"}})
	assert.ErrorContains(t, err, "must not contain ':'")
}
