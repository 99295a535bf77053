package migration

import (
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/taskgate/taskgate/routing"
	"github.com/taskgate/taskgate/task"
)

// benchPool is how many distinct task ids the benchmark cycles through:
// with the clock moving 1ms per call and a 1-minute window, an id comes
// back long after its records left the window, as in steady state
// (about 30 000 submissions and completions in the window).
const benchPool = 1 << 17

type benchInput struct {
	tasks []*task.Task
	evs   []routing.Event
	dec   [2]routing.Decision
}

func newBenchInput(b *testing.B) *benchInput {
	in := &benchInput{
		tasks: make([]*task.Task, benchPool),
		evs:   make([]routing.Event, benchPool),
		dec: [2]routing.Decision{
			{Runner: routing.RunnerK8s, Rule: "rules[canary]", RuleName: "canary"},
			{Runner: routing.RunnerWorker, Rule: "rules[canary]", RuleName: "canary"},
		},
	}
	types := []string{"index_kafka", "index_parallel", "compact", "index_kinesis"}
	for i := range benchPool {
		id := fmt.Sprintf("task-%06d", i)
		in.tasks[i] = mkTask(b, id, types[i%len(types)])
		st := task.Success(id, int64(i%600_000))
		if i%17 == 0 {
			st = task.Failure(id, "failed")
		}
		in.evs[i] = routing.Event{Kind: routing.EventStatusChanged, TaskID: id, Runner: in.dec[i&1].Runner, Status: &st}
	}
	return in
}

func newBenchTracker(b *testing.B, mp metric.MeterProvider) *Tracker {
	var ms atomic.Int64
	tr, err := New(Config{
		Window:        time.Minute,
		Now:           func() time.Time { return t0.Add(time.Duration(ms.Add(1)) * time.Millisecond) },
		MeterProvider: mp,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tr.Close() })
	return tr
}

// BenchmarkTaskRoutedOnEvent measures one task's bookkeeping: its
// submission and its completion. The ratio of the sdk and noop runs is the
// cost of the metrics.
func BenchmarkTaskRoutedOnEvent(b *testing.B) {
	in := newBenchInput(b)
	providers := []struct {
		name string
		mp   func() metric.MeterProvider
	}{
		{"sdk-metrics", func() metric.MeterProvider {
			return sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		}},
		{"noop-metrics", func() metric.MeterProvider { return noop.NewMeterProvider() }},
	}
	for _, p := range providers {
		b.Run(p.name, func(b *testing.B) {
			tr := newBenchTracker(b, p.mp())
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				j := i & (benchPool - 1)
				tr.TaskRouted(in.tasks[j], in.dec[j&1])
				tr.OnEvent(in.evs[j])
				i++
			}
		})
		b.Run(p.name+"-parallel", func(b *testing.B) {
			tr := newBenchTracker(b, p.mp())
			var next atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					j := int(next.Add(1)) & (benchPool - 1)
					tr.TaskRouted(in.tasks[j], in.dec[j&1])
					tr.OnEvent(in.evs[j])
				}
			})
		})
	}
}
