package workerrunner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/taskgate/taskgate/internal/mmsim"
	"github.com/taskgate/taskgate/routing"
	"github.com/taskgate/taskgate/task"
)

// BenchmarkStatusLatency100Workers runs tasks on 100 simulated workers with
// 10 slots each and reports the time from a task's completion on its worker
// (the mtime of the status.json the simulator writes just before it records
// the change) to the statusChanged event a listener receives (p50, p99),
// then the process CPU used per second while everything is idle (100
// parked long polls; the simulators run in this process too, so it is an
// upper bound for the runner). Run with -benchtime=1x.
func BenchmarkStatusLatency100Workers(b *testing.B) {
	const workers, slots = 100, 10
	tasksPerRun := benchTasks()
	logDir := b.TempDir()
	var mms []*mmsim.MM
	for i := 0; i < workers; i++ {
		mm, err := mmsim.New(mmsim.Config{Capacity: slots, TaskLogDir: logDir, Logger: quietLogger()})
		if err != nil {
			b.Fatal(err)
		}
		if err := mm.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		defer mm.Kill()
		mms = append(mms, mm)
	}
	cfg := DefaultConfig()
	cfg.SyncRequestTimeout = 30 * time.Second
	cfg.PendingTasksRunnerNumThreads = 10
	for _, mm := range mms {
		cfg.Workers = append(cfg.Workers, StaticWorker{URL: mm.URL(), Capacity: slots})
	}
	r, err := New(cfg, Options{Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]time.Time{}
	r.Subscribe(func(e routing.Event) {
		if e.Kind == routing.EventStatusChanged {
			now := time.Now()
			mu.Lock()
			seen[e.TaskID] = now
			mu.Unlock()
		}
	})
	if err := r.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = r.Stop(context.Background()) }()

	var lat []time.Duration
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		var ids []string
		for i := 0; i < tasksPerRun; i++ {
			id := fmt.Sprintf("bench-%d-%04d", n, i)
			ids = append(ids, id)
			tk, err := task.Parse([]byte(fmt.Sprintf(`{"type":"noop","id":%q,"context":{"simulate":{"durationMs":%d}}}`, id, 50+i%100)))
			if err != nil {
				b.Fatal(err)
			}
			if err := r.Run(context.Background(), tk); err != nil {
				b.Fatal(err)
			}
		}
		deadline := time.Now().Add(2 * time.Minute)
		for {
			mu.Lock()
			done := 0
			for _, id := range ids {
				if _, ok := seen[id]; ok {
					done++
				}
			}
			mu.Unlock()
			if done == len(ids) {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("only %d of %d tasks finished", done, len(ids))
			}
			time.Sleep(10 * time.Millisecond)
		}
		for _, id := range ids {
			fi, err := os.Stat(filepath.Join(logDir, id+".status.json"))
			if err != nil {
				b.Fatal(err)
			}
			mu.Lock()
			lat = append(lat, seen[id].Sub(fi.ModTime()))
			mu.Unlock()
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")

	time.Sleep(500 * time.Millisecond) // let the last polls park
	const idle = 5 * time.Second
	before := cpuTime()
	time.Sleep(idle)
	b.ReportMetric(float64((cpuTime()-before).Microseconds())/1000/idle.Seconds(), "idle-cpu-ms/s")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchTasks is WR_BENCH_TASKS, default 2000 (twice the 1000 slots).
func benchTasks() int {
	n := 2000
	if v := os.Getenv("WR_BENCH_TASKS"); v != "" {
		_, _ = fmt.Sscan(v, &n)
	}
	return n
}
