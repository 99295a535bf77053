package k8srunner

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/taskgate/taskgate/adapters"
	"github.com/taskgate/taskgate/internal/testcluster"
	"github.com/taskgate/taskgate/task"
)

// BenchmarkSubmitAndTrack submits TASKGATE_BENCH_TASKS tasks (default 50)
// to a runner on the real control plane and tracks them to completion. In
// the same run, a bare client-go loop creates the same Jobs in another
// namespace. It reports:
//   - submit_ratio: the runner's Job creation rate over the bare loop's;
//   - goroutines_peak and goroutines_base: the process's goroutines at the
//     peak of the run and before the runner started;
//   - api_req/task: requests the runner made per task (Job CREATE/GET/DELETE,
//     LIST and WATCH of Jobs and Pods, pod logs), from the apiserver metrics;
//   - heap_MB: heap in use at the end.
//
// Run it with -benchtime=1x: one iteration is a whole run.
func BenchmarkSubmitAndTrack(b *testing.B) {
	n := 50
	if v := os.Getenv("TASKGATE_BENCH_TASKS"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(b, err, "TASKGATE_BENCH_TASKS")
	}
	for i := 0; i < b.N; i++ {
		benchOnce(b, n, i)
	}
}

func benchOnce(b *testing.B, n, iter int) {
	c := testcluster.Shared(b)
	ctx := context.Background()
	// The control plane is the slow part under load: keep the Jobs'
	// deadline far away.
	e := newEnv(b, func(c *adapters.Config) { c.MaxTaskDuration = time.Hour })
	e.builder.def = testcluster.Behavior{RunDuration: 100 * time.Millisecond}
	tasks := make([]*task.Task, n)
	for i := range tasks {
		tasks[i] = newTask(b, fmt.Sprintf("bench_%d_%d", iter, i), "index", 0)
		e.writeStatus(task.Success(tasks[i].ID, 1))
	}

	// Bare client-go: the same Jobs, created one after another.
	bareNS := c.NewNamespace(b)
	bare := kubernetes.NewForConfigOrDie(c.RESTConfig())
	bareStart := time.Now()
	for _, tk := range tasks {
		job, err := e.builder.FromTask(ctx, tk)
		require.NoError(b, err)
		job.Namespace = ""
		_, err = bare.BatchV1().Jobs(bareNS).Create(ctx, job, metav1.CreateOptions{})
		require.NoError(b, err)
	}
	bareRate := float64(n) / time.Since(bareStart).Seconds()
	// The bare Jobs have served their purpose; their pods would only load
	// the control plane while the runner's tasks run.
	prop := metav1.DeletePropagationBackground
	require.NoError(b, bare.BatchV1().Jobs(bareNS).DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &prop}, metav1.ListOptions{}))

	runtime.GC()
	base := runtime.NumGoroutine()
	before, err := c.RequestCounts(ctx)
	require.NoError(b, err)

	cfg := DefaultConfig()
	cfg.Namespace = e.ns
	cfg.StatusWaitTimeout = 10 * time.Second
	cfg.MaxTaskDuration = time.Hour
	r, err := New(cfg, Deps{Client: kubernetes.NewForConfigOrDie(c.RESTConfig()), Jobs: e.builder, Status: e.logs})
	require.NoError(b, err)
	require.NoError(b, r.Start(ctx))
	defer r.Stop(ctx)

	var peak atomic.Int64
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if g := int64(runtime.NumGoroutine()); g > peak.Load() {
					peak.Store(g)
				}
			}
		}
	}()

	b.ResetTimer()
	start := time.Now()
	for _, tk := range tasks {
		require.NoError(b, r.Run(ctx, tk))
	}
	launched := func() int {
		r.mu.Lock()
		defer r.mu.Unlock()
		k := 0
		for _, it := range r.items {
			if it.phase >= phaseLaunched {
				k++
			}
		}
		return k
	}
	for launched() < n {
		time.Sleep(5 * time.Millisecond)
	}
	runnerRate := float64(n) / time.Since(start).Seconds()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		done := 0
		for _, tk := range tasks {
			if w, ok := r.Get(tk.ID); ok && w.Status != nil {
				require.Equal(b, task.StateSuccess, w.Status.Status, w.Status.ErrorMsg)
				done++
			}
		}
		if done == n {
			break
		}
		require.True(b, time.Now().Before(deadline), "only %d of %d tasks finished", done, n)
		time.Sleep(50 * time.Millisecond)
	}
	total := time.Since(start)
	b.StopTimer()
	close(stop)

	after, err := c.RequestCounts(ctx)
	require.NoError(b, err)
	d := after.Sub(before)
	var req float64
	var lines []string
	for _, k := range []struct{ verb, res string }{
		{"POST", "jobs.batch"}, {"GET", "jobs.batch"}, {"DELETE", "jobs.batch"},
		{"LIST", "jobs.batch"}, {"WATCH", "jobs.batch"}, {"LIST", "pods"}, {"WATCH", "pods"}, {"GET", "pods/log"},
	} {
		v := d.Count(k.verb, k.res)
		req += v
		lines = append(lines, fmt.Sprintf("%s %s %.0f", k.verb, k.res, v))
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(runnerRate/bareRate, "submit_ratio")
	b.ReportMetric(runnerRate, "submits/s")
	b.ReportMetric(bareRate, "bare_creates/s")
	b.ReportMetric(float64(peak.Load()), "goroutines_peak")
	b.ReportMetric(float64(base), "goroutines_base")
	b.ReportMetric(req/float64(n), "api_req/task")
	b.ReportMetric(float64(n)/total.Seconds(), "tasks_done/s")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap_MB")
	if hwm, ok := peakRSS(); ok {
		// The whole test process: runner, informers, task JSON of every task.
		b.ReportMetric(float64(hwm)/(1<<20), "rss_peak_MB")
	}
	b.Logf("tasks=%d runner submit %.0f/s, bare %.0f/s; all done in %s; goroutines base %d peak %d; runner requests: %s",
		n, runnerRate, bareRate, total, base, peak.Load(), strings.Join(lines, ", "))
}

// peakRSS reads the process's peak resident set size (VmHWM) on Linux.
func peakRSS() (int64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err == nil
			}
		}
	}
	return 0, false
}
