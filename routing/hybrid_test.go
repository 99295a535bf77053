package routing

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskgate/taskgate/task"
)

func mustStrategy(t testing.TB, cfg StrategyConfig) Strategy {
	t.Helper()
	s, err := NewStrategy(cfg)
	require.NoError(t, err)
	return s
}

// newTestHybrid returns a Hybrid over two fresh fake runners, with spans
// going to an in-memory exporter and logs to a buffer.
func newTestHybrid(t testing.TB, cfg StrategyConfig) (*Hybrid, *fakeRunner, *fakeRunner, *tracetest.InMemoryExporter) {
	t.Helper()
	k8s, worker := newFakeRunner(RunnerK8s), newFakeRunner(RunnerWorker)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := NewHybrid(k8s, worker, mustStrategy(t, cfg), WithTracerProvider(tp), WithLogger(logger))
	require.NoError(t, err)
	return h, k8s, worker, exp
}

var taskTypeSplit = StrategyConfig{Type: StrategyTaskType, TaskTypeDefault: RunnerK8s,
	TaskTypeOverrides: map[string]string{"index_kafka": RunnerWorker}}

func TestNewHybridRejectsBadArguments(t *testing.T) {
	k8s, worker := newFakeRunner(RunnerK8s), newFakeRunner(RunnerWorker)
	s := mustStrategy(t, StrategyConfig{})
	tests := []struct {
		name        string
		k8s, worker Runner
		strategy    Strategy
		errHas      string
	}{
		{"nil k8s runner", nil, worker, s, "kubernetes runner is nil"},
		{"nil worker runner", k8s, nil, s, "worker runner is nil"},
		{"nil strategy", k8s, worker, nil, "strategy is nil"},
		{"swapped runners", worker, k8s, s, `must be named "k8s", got "worker"`},
		{"misnamed worker", k8s, newFakeRunner("mm"), s, `must be named "worker", got "mm"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NewHybrid(tc.k8s, tc.worker, tc.strategy)
			require.Error(t, err)
			assert.Nil(t, h)
			assert.Contains(t, err.Error(), tc.errHas)
		})
	}
}

func TestHybridSubmitRoutesByStrategy(t *testing.T) {
	tests := []struct {
		name       string
		cfg        StrategyConfig
		taskType   string
		wantRunner string
		wantRule   string
	}{
		{"k8s strategy", StrategyConfig{Type: StrategyK8s}, "index_kafka", RunnerK8s, RuleTypeK8s},
		{"worker strategy", StrategyConfig{Type: StrategyWorker}, "index_parallel", RunnerWorker, RuleTypeWorker},
		{"taskType override", taskTypeSplit, "index_kafka", RunnerWorker, "taskType.overrides[index_kafka]"},
		{"taskType type not listed falls to default", taskTypeSplit, "compact", RunnerK8s, RuleTaskTypeDefault},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, k8s, worker, _ := newTestHybrid(t, tc.cfg)
			tk := newTask(t, "task-1", tc.taskType, "wiki")

			assert.Equal(t, Decision{Runner: tc.wantRunner, Rule: tc.wantRule}, h.Route(tk), "dry run")
			assert.Zero(t, k8s.totalRuns()+worker.totalRuns(), "Route must not run anything")

			d, known, err := h.Submit(context.Background(), tk)
			require.NoError(t, err)
			assert.False(t, known)
			assert.Equal(t, Decision{Runner: tc.wantRunner, Rule: tc.wantRule}, d)

			chosen, other := k8s, worker
			if tc.wantRunner == RunnerWorker {
				chosen, other = worker, k8s
			}
			assert.Equal(t, 1, chosen.runs("task-1"))
			assert.Zero(t, other.totalRuns())
			wi, ok := h.Get("task-1")
			require.True(t, ok)
			assert.Equal(t, tc.wantRunner, wi.Runner)
		})
	}
}

func TestHybridSubmitKnownIDStartsNothing(t *testing.T) {
	tests := []struct {
		name       string
		knownOn    string // runner that already knows the id
		cfg        StrategyConfig
		wantRunner string
	}{
		{"known to worker, strategy says k8s", RunnerWorker, StrategyConfig{Type: StrategyK8s}, RunnerWorker},
		{"known to k8s, strategy says worker", RunnerK8s, StrategyConfig{Type: StrategyWorker}, RunnerK8s},
		{"known to k8s, strategy says k8s", RunnerK8s, StrategyConfig{Type: StrategyK8s}, RunnerK8s},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, k8s, worker, _ := newTestHybrid(t, tc.cfg)
			map[string]*fakeRunner{RunnerK8s: k8s, RunnerWorker: worker}[tc.knownOn].add("task-1", task.RunnerStateRunning)

			d, known, err := h.Submit(context.Background(), newTask(t, "task-1", "index_kafka", "wiki"))
			require.NoError(t, err)
			assert.True(t, known)
			assert.Equal(t, Decision{Runner: tc.wantRunner, Rule: RuleAlreadyKnown}, d)
			assert.Zero(t, k8s.totalRuns()+worker.totalRuns())

			// Run (the Runner contract) is idempotent too.
			require.NoError(t, h.Run(context.Background(), newTask(t, "task-1", "index_kafka", "wiki")))
			assert.Zero(t, k8s.totalRuns()+worker.totalRuns())
		})
	}
}

func TestHybridRemembersStartedIDBeforeRunnerListsIt(t *testing.T) {
	h, k8s, worker, _ := newTestHybrid(t, taskTypeSplit)
	k8s.listLate = true
	tk := newTask(t, "late-1", "compact", "wiki")

	_, known, err := h.Submit(context.Background(), tk)
	require.NoError(t, err)
	require.False(t, known)
	_, listed := k8s.Get("late-1")
	require.False(t, listed, "precondition: the runner does not list the task yet")

	// A strategy change in between must not send the same id elsewhere.
	require.NoError(t, h.SetStrategy(mustStrategy(t, StrategyConfig{Type: StrategyWorker})))
	d, known, err := h.Submit(context.Background(), tk)
	require.NoError(t, err)
	assert.True(t, known)
	assert.Equal(t, Decision{Runner: RunnerK8s, Rule: RuleAlreadyKnown}, d)
	assert.Equal(t, 1, k8s.runs("late-1"))
	assert.Zero(t, worker.totalRuns())
}

func TestHybridConcurrentDuplicateSubmitsStartOnce(t *testing.T) {
	h, k8s, _, _ := newTestHybrid(t, StrategyConfig{Type: StrategyK8s})
	// The runner blocks inside Run and only lists the task afterwards, so
	// without the in-flight guard every racing submit would start it.
	k8s.runGate = make(chan struct{})
	k8s.runEntered = make(chan string, 64)
	k8s.listLate = true

	const n = 32
	var (
		wg      sync.WaitGroup
		ready   sync.WaitGroup
		start   = make(chan struct{})
		mu      sync.Mutex
		started int
		known   int
	)
	ready.Add(n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tk := newTask(t, "dup-1", "index_parallel", "wiki")
			ready.Done()
			<-start
			_, k, err := h.Submit(context.Background(), tk)
			assert.NoError(t, err)
			mu.Lock()
			defer mu.Unlock()
			if k {
				known++
			} else {
				started++
			}
		}()
	}
	ready.Wait()
	close(start)
	<-k8s.runEntered
	time.Sleep(20 * time.Millisecond) // let the other submitters pile up
	close(k8s.runGate)
	wg.Wait()

	assert.Equal(t, 1, k8s.runs("dup-1"))
	assert.Equal(t, 1, started)
	assert.Equal(t, n-1, known)
	assert.Empty(t, k8s.runEntered, "Run entered more than once")
}

func TestHybridFailedRunIsNotRemembered(t *testing.T) {
	h, k8s, _, exp := newTestHybrid(t, StrategyConfig{Type: StrategyK8s})
	k8s.runErr = ErrNotConfigured
	tk := newTask(t, "fail-1", "index", "wiki")

	d, known, err := h.Submit(context.Background(), tk)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrNotConfigured)
	assert.Contains(t, err.Error(), "fail-1")
	assert.False(t, known)
	assert.Equal(t, RunnerK8s, d.Runner)

	spans := exp.GetSpans()
	require.Len(t, spans, 1)
	assert.Equal(t, codes.Error, spans[0].Status.Code)
	require.NotEmpty(t, spans[0].Events, "error recorded as a span event")
	assert.Equal(t, "exception", spans[0].Events[0].Name)

	// The next attempt runs again and succeeds.
	k8s.mu.Lock()
	k8s.runErr = nil
	k8s.mu.Unlock()
	_, known, err = h.Submit(context.Background(), tk)
	require.NoError(t, err)
	assert.False(t, known)
	assert.Equal(t, 2, k8s.runs("fail-1"))
}

func TestHybridSubmitWaitingHonoursContext(t *testing.T) {
	h, k8s, _, _ := newTestHybrid(t, StrategyConfig{Type: StrategyK8s})
	k8s.runGate = make(chan struct{})
	k8s.runEntered = make(chan string, 2)
	tk := newTask(t, "slow-1", "index", "wiki")

	firstDone := make(chan error, 1)
	go func() {
		_, _, err := h.Submit(context.Background(), tk)
		firstDone <- err
	}()
	<-k8s.runEntered

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, _, err := h.Submit(ctx, tk)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	close(k8s.runGate)
	require.NoError(t, <-firstDone)
	assert.Equal(t, 1, k8s.runs("slow-1"))
}

func TestHybridSubmitBadInput(t *testing.T) {
	h, k8s, worker, _ := newTestHybrid(t, StrategyConfig{})
	_, _, err := h.Submit(context.Background(), nil)
	assert.ErrorContains(t, err, "task is nil")
	_, _, err = h.Submit(context.Background(), &task.Task{ID: "a/b", Type: "index"})
	var fe *task.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "id", fe.Field)

	// A custom strategy that names no real runner is an error, not a panic.
	require.NoError(t, h.SetStrategy(strategyFunc(func(*task.Task) Decision { return Decision{Runner: "moon", Rule: "custom"} })))
	_, _, err = h.Submit(context.Background(), newTask(t, "x", "index", "wiki"))
	assert.ErrorContains(t, err, `unknown runner "moon"`)
	assert.Zero(t, k8s.totalRuns()+worker.totalRuns())

	assert.ErrorContains(t, h.SetStrategy(nil), "strategy is nil")
}

type strategyFunc func(*task.Task) Decision

func (f strategyFunc) Decide(t *task.Task) Decision { return f(t) }

func TestHybridSetStrategySwapsRouting(t *testing.T) {
	h, k8s, worker, _ := newTestHybrid(t, StrategyConfig{Type: StrategyK8s})
	_, _, err := h.Submit(context.Background(), newTask(t, "a", "index_kafka", "wiki"))
	require.NoError(t, err)

	split := mustStrategy(t, taskTypeSplit)
	require.NoError(t, h.SetStrategy(split))
	assert.Same(t, split, h.Strategy())
	_, _, err = h.Submit(context.Background(), newTask(t, "b", "index_kafka", "wiki"))
	require.NoError(t, err)

	assert.Equal(t, 1, k8s.runs("a"))
	assert.Equal(t, 1, worker.runs("b"))
	assert.Zero(t, k8s.runs("b"))
}

func TestHybridSubmitSpan(t *testing.T) {
	h, k8s, _, exp := newTestHybrid(t, taskTypeSplit)
	k8s.add("known-1", task.RunnerStateRunning)

	_, _, err := h.Submit(context.Background(), newTask(t, "kafka-1", "index_kafka", "wikipedia"))
	require.NoError(t, err)
	_, _, err = h.Submit(context.Background(), newTask(t, "known-1", "index_kafka", "wikipedia"))
	require.NoError(t, err)

	spans := exp.GetSpans()
	require.Len(t, spans, 2)
	want := []map[attribute.Key]attribute.Value{
		{
			AttrTaskID:       attribute.StringValue("kafka-1"),
			AttrTaskType:     attribute.StringValue("index_kafka"),
			AttrDataSource:   attribute.StringValue("wikipedia"),
			AttrGroupID:      attribute.StringValue("group-kafka-1"),
			AttrRunner:       attribute.StringValue(RunnerWorker),
			AttrRule:         attribute.StringValue("taskType.overrides[index_kafka]"),
			AttrAlreadyKnown: attribute.BoolValue(false),
		},
		{
			AttrTaskID:       attribute.StringValue("known-1"),
			AttrTaskType:     attribute.StringValue("index_kafka"),
			AttrDataSource:   attribute.StringValue("wikipedia"),
			AttrGroupID:      attribute.StringValue("group-known-1"),
			AttrRunner:       attribute.StringValue(RunnerK8s),
			AttrRule:         attribute.StringValue(RuleAlreadyKnown),
			AttrAlreadyKnown: attribute.BoolValue(true),
		},
	}
	for i, s := range spans {
		assert.Equal(t, "taskgate.submit", s.Name)
		assert.Equal(t, "github.com/taskgate/taskgate/routing", s.InstrumentationScope.Name)
		assert.NotEqual(t, codes.Error, s.Status.Code)
		got := map[attribute.Key]attribute.Value{}
		for _, kv := range s.Attributes {
			got[kv.Key] = kv.Value
		}
		assert.Equal(t, want[i], got)
	}
}

func TestHybridSubmitSpanIsParentOfRunnerWork(t *testing.T) {
	k8s, worker := newFakeRunner(RunnerK8s), newFakeRunner(RunnerWorker)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	var runCtxSpan string
	spy := &ctxSpyRunner{fakeRunner: k8s, onRun: func(ctx context.Context) {
		runCtxSpan = spanIDFrom(ctx)
	}}
	h, err := NewHybrid(spy, worker, mustStrategy(t, StrategyConfig{}), WithTracerProvider(tp),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	_, _, err = h.Submit(context.Background(), newTask(t, "p-1", "index", "wiki"))
	require.NoError(t, err)
	spans := exp.GetSpans()
	require.Len(t, spans, 1)
	assert.Equal(t, spans[0].SpanContext.SpanID().String(), runCtxSpan, "runner must get the submit span's context")
}

func spanIDFrom(ctx context.Context) string {
	return trace.SpanContextFromContext(ctx).SpanID().String()
}

type ctxSpyRunner struct {
	*fakeRunner
	onRun func(context.Context)
}

func (r *ctxSpyRunner) Run(ctx context.Context, t *task.Task) error {
	r.onRun(ctx)
	return r.fakeRunner.Run(ctx, t)
}

func TestHybridLogsDecision(t *testing.T) {
	var buf bytes.Buffer
	k8s, worker := newFakeRunner(RunnerK8s), newFakeRunner(RunnerWorker)
	h, err := NewHybrid(k8s, worker, mustStrategy(t, taskTypeSplit),
		WithLogger(slog.New(slog.NewTextHandler(&buf, nil))), WithTracerProvider(sdktrace.NewTracerProvider()))
	require.NoError(t, err)
	_, _, err = h.Submit(context.Background(), newTask(t, "log-1", "index_kafka", "wiki"))
	require.NoError(t, err)
	assert.Contains(t, buf.String(), "task=log-1")
	assert.Contains(t, buf.String(), "runner=worker")
	assert.Contains(t, buf.String(), `rule=taskType.overrides[index_kafka]`)
}

func TestHybridShutdown(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name                   string
		id                     string
		k8sErr, workerErr      error
		knownOnK8s             bool
		wantErr                error
		wantK8sNone, wantAnyNo bool
	}{
		{name: "known to k8s: both asked, k8s stops it", id: "t1", knownOnK8s: true, wantK8sNone: true},
		{name: "unknown id is a no-op on both", id: "nobody", wantAnyNo: true},
		{name: "a not-configured runner is skipped", id: "t1", knownOnK8s: true, workerErr: ErrNotConfigured, wantK8sNone: true},
		{name: "an error on one side does not stop the other", id: "t1", knownOnK8s: true, workerErr: boom, wantErr: boom, wantK8sNone: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, k8s, worker, _ := newTestHybrid(t, StrategyConfig{})
			k8s.shutdownErr, worker.shutdownErr = tc.k8sErr, tc.workerErr
			if tc.knownOnK8s {
				k8s.add("t1", task.RunnerStateRunning)
			}
			worker.add("other", task.RunnerStateRunning)

			err := h.Shutdown(context.Background(), tc.id, "test")
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				assert.Contains(t, err.Error(), "worker runner")
			} else {
				require.NoError(t, err)
			}
			// Druid's order: worker first, then k8s; both always asked.
			assert.Equal(t, []string{tc.id}, worker.shutdownCalls())
			assert.Equal(t, []string{tc.id}, k8s.shutdownCalls())
			if tc.wantK8sNone {
				wi, _ := k8s.Get("t1")
				assert.Equal(t, task.RunnerStateNone, wi.State)
			}
			// Nothing else changed: the other task still runs and no task appeared.
			wi, _ := worker.Get("other")
			assert.Equal(t, task.RunnerStateRunning, wi.State)
			_, ok := h.Get("nobody")
			assert.False(t, ok)
		})
	}
	h, _, _, _ := newTestHybrid(t, StrategyConfig{})
	assert.ErrorContains(t, h.Shutdown(context.Background(), "", "x"), "task id is empty")
}

func TestHybridListingsConcatenate(t *testing.T) {
	h, k8s, worker, _ := newTestHybrid(t, StrategyConfig{})
	k8s.add("k-run", task.RunnerStateRunning)
	k8s.add("k-pend", task.RunnerStatePending)
	worker.add("w-run1", task.RunnerStateRunning)
	worker.add("w-run2", task.RunnerStateRunning)
	worker.add("w-done", task.RunnerStateNone)

	ids := func(items []WorkItem) []string {
		out := make([]string, 0, len(items))
		for _, wi := range items {
			out = append(out, wi.Runner+"/"+wi.TaskID)
		}
		return out
	}
	assert.Equal(t, []string{"k8s/k-run", "worker/w-run1", "worker/w-run2"}, ids(h.Running()))
	assert.Equal(t, []string{"k8s/k-pend"}, ids(h.Pending()))
	assert.Equal(t, []string{"k8s/k-run", "k8s/k-pend", "worker/w-run1", "worker/w-run2", "worker/w-done"}, ids(h.Known()))

	empty, _, _, _ := newTestHybrid(t, StrategyConfig{})
	assert.Empty(t, empty.Known())
	assert.NotNil(t, empty.Known(), "an empty listing is [] in JSON, not null")
}

func TestConcatDoesNotAliasRunnerSlices(t *testing.T) {
	a := make([]WorkItem, 1, 8)
	a[0] = WorkItem{TaskID: "a"}
	out := concat(a, []WorkItem{{TaskID: "b"}})
	out[0].TaskID = "changed"
	assert.Equal(t, "a", a[0].TaskID)
	assert.Empty(t, a[:2][1].TaskID, "the runner's spare capacity must not be written to")
}

func TestHybridSlots(t *testing.T) {
	set := map[string]func(f *fakeRunner, m map[string]int){
		"total": func(f *fakeRunner, m map[string]int) { f.total = m },
		"idle":  func(f *fakeRunner, m map[string]int) { f.idle = m },
		"used":  func(f *fakeRunner, m map[string]int) { f.used = m },
	}
	get := map[string]func(h *Hybrid) map[string]int{
		"total": (*Hybrid).TotalSlots,
		"idle":  (*Hybrid).IdleSlots,
		"used":  (*Hybrid).UsedSlots,
	}
	cases := []struct {
		name        string
		k8s, worker map[string]int
		want        map[string]int
	}{
		{"same category is summed", map[string]int{"_default_worker_category": 3}, map[string]int{"_default_worker_category": 4},
			map[string]int{"_default_worker_category": 7}},
		{"distinct categories are kept", map[string]int{"k8s": 5}, map[string]int{"mm-a": 2, "mm-b": 1},
			map[string]int{"k8s": 5, "mm-a": 2, "mm-b": 1}},
		{"mixed", map[string]int{"_default_worker_category": 10, "gpu": 1}, map[string]int{"_default_worker_category": 2, "cold": 4},
			map[string]int{"_default_worker_category": 12, "gpu": 1, "cold": 4}},
		{"one side empty", nil, map[string]int{"x": 1}, map[string]int{"x": 1}},
		{"both empty", nil, nil, map[string]int{}},
	}
	for _, kind := range []string{"total", "idle", "used"} {
		for _, tc := range cases {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				h, k8s, worker, _ := newTestHybrid(t, StrategyConfig{})
				set[kind](k8s, tc.k8s)
				set[kind](worker, tc.worker)
				got := get[kind](h)
				assert.Equal(t, tc.want, got)
				got["mutate"] = 1 // the result is the caller's own map
				assert.NotContains(t, get[kind](h), "mutate")
			})
		}
	}
}

func TestHybridCapacity(t *testing.T) {
	tests := []struct {
		name        string
		k8s, worker int
		want        int
	}{
		{"both unknown", -1, -1, -1},
		{"only k8s known", 10, -1, 10},
		{"only worker known", -1, 4, 4},
		{"both known", 10, 4, 14},
		{"zero and unknown", 0, -1, 0},
		{"other negatives count as zero", -5, 3, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, k8s, worker, _ := newTestHybrid(t, StrategyConfig{})
			k8s.totalCap, worker.totalCap = tc.k8s, tc.worker
			k8s.usedCap, worker.usedCap = tc.k8s, tc.worker
			assert.Equal(t, tc.want, h.TotalCapacity())
			assert.Equal(t, tc.want, h.UsedCapacity())
		})
	}
}

func TestHybridGetPrefersK8s(t *testing.T) {
	h, k8s, worker, _ := newTestHybrid(t, StrategyConfig{})
	k8s.add("both", task.RunnerStatePending)
	worker.add("both", task.RunnerStateRunning)
	worker.add("w-only", task.RunnerStateRunning)
	k8s.add("k-only", task.RunnerStateRunning)

	tests := []struct {
		id         string
		wantOK     bool
		wantRunner string
		wantState  task.RunnerState
	}{
		{"both", true, RunnerK8s, task.RunnerStatePending},
		{"w-only", true, RunnerWorker, task.RunnerStateRunning},
		{"k-only", true, RunnerK8s, task.RunnerStateRunning},
		{"none", false, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			wi, ok := h.Get(tc.id)
			assert.Equal(t, tc.wantOK, ok)
			assert.Equal(t, tc.wantRunner, wi.Runner)
			assert.Equal(t, tc.wantState, wi.State)
		})
	}
}

func TestHybridStreamLog(t *testing.T) {
	boom := errors.New("deep storage down")
	tests := []struct {
		name              string
		k8sLogs, wLogs    map[string]string
		k8sErr, workerErr error
		wantOK            bool
		wantLog           string
		wantErr           error
	}{
		{name: "k8s has it", k8sLogs: map[string]string{"t": "from k8s"}, wLogs: map[string]string{"t": "from worker"}, wantOK: true, wantLog: "from k8s"},
		{name: "worker has it", wLogs: map[string]string{"t": "from worker"}, wantOK: true, wantLog: "from worker"},
		{name: "nobody has it", wantOK: false},
		{name: "k8s not configured", k8sErr: ErrNotConfigured, wLogs: map[string]string{"t": "from worker"}, wantOK: true, wantLog: "from worker"},
		{name: "k8s fails, worker has it", k8sErr: boom, wLogs: map[string]string{"t": "from worker"}, wantOK: true, wantLog: "from worker"},
		{name: "k8s fails, worker has nothing", k8sErr: boom, wantErr: boom},
		{name: "unknown task errors are not failures", k8sErr: ErrUnknownTask, workerErr: ErrUnknownTask},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, k8s, worker, _ := newTestHybrid(t, StrategyConfig{})
			k8s.logs, worker.logs = tc.k8sLogs, tc.wLogs
			k8s.logErr, worker.logErr = tc.k8sErr, tc.workerErr
			rc, ok, err := h.StreamLog(context.Background(), "t", 0)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				assert.False(t, ok)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantOK, ok)
			if !ok {
				assert.Nil(t, rc)
				return
			}
			b, err := io.ReadAll(rc)
			require.NoError(t, err)
			require.NoError(t, rc.Close())
			assert.Equal(t, tc.wantLog, string(b))
		})
	}
}

func TestHybridLifecycle(t *testing.T) {
	boom := errors.New("boom")
	t.Run("start and stop both", func(t *testing.T) {
		h, k8s, worker, _ := newTestHybrid(t, StrategyConfig{})
		require.NoError(t, h.Start(context.Background()))
		require.NoError(t, h.Stop(context.Background()))
		assert.Equal(t, []int{1, 1, 1, 1}, []int{k8s.starts, worker.starts, k8s.stops, worker.stops})
	})
	t.Run("not configured runner is skipped", func(t *testing.T) {
		h, k8s, worker, _ := newTestHybrid(t, StrategyConfig{})
		k8s.startErr, k8s.stopErr, k8s.restoreErr = ErrNotConfigured, ErrNotConfigured, ErrNotConfigured
		worker.restoreItems = []WorkItem{{TaskID: "w1", Runner: RunnerWorker}}
		require.NoError(t, h.Start(context.Background()))
		items, err := h.Restore(context.Background())
		require.NoError(t, err)
		assert.Equal(t, []WorkItem{{TaskID: "w1", Runner: RunnerWorker}}, items)
		require.NoError(t, h.Stop(context.Background()))
		assert.Equal(t, 1, worker.starts)
	})
	t.Run("failure on one side still reaches the other", func(t *testing.T) {
		h, k8s, worker, _ := newTestHybrid(t, StrategyConfig{})
		k8s.startErr = boom
		err := h.Start(context.Background())
		require.ErrorIs(t, err, boom)
		assert.Contains(t, err.Error(), "start on k8s runner")
		assert.Equal(t, 1, worker.starts)
	})
	t.Run("restore concatenates, k8s first, and keeps what one side restored", func(t *testing.T) {
		h, k8s, worker, _ := newTestHybrid(t, StrategyConfig{})
		k8s.restoreItems = []WorkItem{{TaskID: "k1", Runner: RunnerK8s}, {TaskID: "k2", Runner: RunnerK8s}}
		worker.restoreItems = []WorkItem{{TaskID: "w1", Runner: RunnerWorker}}
		items, err := h.Restore(context.Background())
		require.NoError(t, err)
		assert.Equal(t, []string{"k1", "k2", "w1"}, []string{items[0].TaskID, items[1].TaskID, items[2].TaskID})

		worker.restoreErr = boom
		items, err = h.Restore(context.Background())
		require.ErrorIs(t, err, boom)
		assert.Len(t, items, 2)
	})
}

func TestHybridSubscribe(t *testing.T) {
	h, k8s, worker, _ := newTestHybrid(t, StrategyConfig{})
	var mu sync.Mutex
	var got []string
	unsub := h.Subscribe(func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, e.Runner+"/"+e.TaskID)
	})
	assert.Equal(t, 1, k8s.subscribers())
	assert.Equal(t, 1, worker.subscribers())

	k8s.emit(Event{Kind: EventStatusChanged, TaskID: "a", Runner: RunnerK8s})
	worker.emit(Event{Kind: EventLocationChanged, TaskID: "b", Runner: RunnerWorker})
	mu.Lock()
	assert.Equal(t, []string{"k8s/a", "worker/b"}, got)
	mu.Unlock()

	unsub()
	unsub() // safe twice
	assert.Zero(t, k8s.subscribers())
	assert.Zero(t, worker.subscribers())
	k8s.emit(Event{Kind: EventStatusChanged, TaskID: "c", Runner: RunnerK8s})
	mu.Lock()
	assert.Len(t, got, 2)
	mu.Unlock()

	h.Subscribe(nil)() // a nil listener registers nothing
	assert.Zero(t, k8s.subscribers())
}

func TestHybridPrunesStartedIDsOnceListed(t *testing.T) {
	h, k8s, _, _ := newTestHybrid(t, StrategyConfig{Type: StrategyK8s})
	k8s.listLate = true
	h.mu.Lock()
	h.sweepAt = 4
	h.mu.Unlock()

	for _, id := range []string{"a", "b", "c"} {
		_, _, err := h.Submit(context.Background(), newTask(t, id, "index", "wiki"))
		require.NoError(t, err)
	}
	h.mu.Lock()
	assert.Len(t, h.started, 3, "unlisted ids are remembered")
	h.mu.Unlock()

	k8s.list() // the runner now lists a, b, c
	_, _, err := h.Submit(context.Background(), newTask(t, "d", "index", "wiki"))
	require.NoError(t, err)

	h.mu.Lock()
	assert.Equal(t, map[string]string{"d": RunnerK8s}, h.started, "listed ids pruned, d kept")
	assert.Equal(t, minSweepAt, h.sweepAt)
	h.mu.Unlock()

	// Pruned ids are still known through the runner.
	for _, id := range []string{"a", "b", "c", "d"} {
		_, known, err := h.Submit(context.Background(), newTask(t, id, "index", "wiki"))
		require.NoError(t, err)
		assert.True(t, known, id)
		assert.Equal(t, 1, k8s.runs(id), id)
	}
}

func TestHybridOverNotConfiguredRunners(t *testing.T) {
	h, err := NewHybrid(NewNotConfigured(RunnerK8s, "kubernetes runner not built yet"),
		NewNotConfigured(RunnerWorker, "no middle managers"), mustStrategy(t, taskTypeSplit),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), WithTracerProvider(sdktrace.NewTracerProvider()))
	require.NoError(t, err)
	require.NoError(t, h.Start(context.Background()))
	_, known, err := h.Submit(context.Background(), newTask(t, "nc-1", "index_kafka", "wiki"))
	require.ErrorIs(t, err, ErrNotConfigured)
	assert.Contains(t, err.Error(), "no middle managers")
	assert.False(t, known)
	// The failed id is not remembered: once a runner exists it can run.
	h.mu.Lock()
	assert.Empty(t, h.started)
	h.mu.Unlock()
	require.NoError(t, h.Shutdown(context.Background(), "nc-1", "test"))
	assert.Empty(t, h.Known())
	assert.Equal(t, -1, h.TotalCapacity())
	assert.Equal(t, map[string]int{}, h.TotalSlots())
	require.NoError(t, h.Stop(context.Background()))
}
