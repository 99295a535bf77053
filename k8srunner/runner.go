package k8srunner

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/taskgate/taskgate/adapters"
	"github.com/taskgate/taskgate/routing"
	"github.com/taskgate/taskgate/task"
)

// WorkerCategory is the worker category of every slot count, as Druid's
// KubernetesTaskRunner reports it (WORKER_CATEGORY), so the hybrid runner's
// merged counts line up with Druid's.
const WorkerCategory = "_k8s_worker_category"

// AnnotationTraceParent carries the W3C trace context of the submit span on
// the Jobs taskgate creates, so a trace can follow a task into its peon.
const AnnotationTraceParent = "taskgate.io/traceparent"

// podJobIndex indexes peon pods by the name of the Job that owns them.
const podJobIndex = "job"

// phase is where a task is inside the runner.
type phase int

const (
	phaseQueued    phase = iota // waiting for capacity; no Job yet
	phaseCreating               // has a slot; the Job is being created
	phaseLaunched               // Job created; pod not Running yet
	phaseRunning                // pod Running
	phaseCompleted              // Job finished; reading status.json
	phaseDone                   // final status known
)

// item is one task the runner knows.
type item struct {
	id         string
	task       *task.Task // nil for a re-attached Job whose task JSON was unreadable
	taskType   string
	dataSource string
	groupID    string
	priority   int
	seq        uint64
	heapIndex  int

	jobName  string
	phase    phase
	restored bool
	// adopted is set for a Job this runner took over from Druid's runner;
	// its pods may lack the owner label (see claimPodsOfAdopted).
	adopted       bool
	podsClaimedAt time.Time
	jobSeen       bool // the informer has shown the Job at least once
	created       time.Time
	launchedAt    time.Time
	doneAt        time.Time
	location      task.Location
	podName       string
	status        *task.Status
	// statusWaitSince is when the runner first found no status.json for a
	// completed Job.
	statusWaitSince time.Time
	jobDuration     int64

	submitCtx  context.Context // carries the submit span's context
	launchSpan trace.Span
	// logCtx is cancelled shortly after the task ends, closing any pod log
	// stream that the API server has not closed itself (Druid #14285).
	logCtx    context.Context
	logCancel context.CancelFunc
}

func (it *item) active() bool {
	return it.phase == phaseCreating || it.phase == phaseLaunched || it.phase == phaseRunning || it.phase == phaseCompleted
}

func (it *item) workItem() routing.WorkItem {
	w := routing.WorkItem{
		TaskID:             it.id,
		TaskType:           it.taskType,
		DataSource:         it.dataSource,
		GroupID:            it.groupID,
		Runner:             routing.RunnerK8s,
		Location:           it.location,
		CreatedTime:        it.created,
		QueueInsertionTime: it.created,
	}
	switch it.phase {
	case phaseQueued, phaseCreating, phaseLaunched:
		w.State = task.RunnerStatePending
	case phaseRunning, phaseCompleted:
		w.State = task.RunnerStateRunning
	default:
		w.State = task.RunnerStateNone
	}
	if it.status != nil {
		s := *it.status
		w.Status = &s
	}
	return w
}

// pendingQueue orders queued tasks by priority (highest first), then by
// arrival.
type pendingQueue []*item

func (q pendingQueue) Len() int { return len(q) }
func (q pendingQueue) Less(i, j int) bool {
	if q[i].priority != q[j].priority {
		return q[i].priority > q[j].priority
	}
	return q[i].seq < q[j].seq
}
func (q pendingQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].heapIndex, q[j].heapIndex = i, j
}
func (q *pendingQueue) Push(x any) {
	it := x.(*item)
	it.heapIndex = len(*q)
	*q = append(*q, it)
}
func (q *pendingQueue) Pop() any {
	old := *q
	n := len(old)
	it := old[n-1]
	old[n-1] = nil
	it.heapIndex = -1
	*q = old[:n-1]
	return it
}

// Runner runs tasks as peon Jobs and tracks them from one shared informer
// factory. See the package documentation.
type Runner struct {
	cfg   Config
	deps  Deps
	log   *slog.Logger
	now   func() time.Time
	owner string // Config.Owner()

	tracer    trace.Tracer
	startupMs metric.Int64Histogram

	mu        sync.Mutex
	items     map[string]*item
	byJob     map[string]string // Job name → task id
	pending   pendingQueue
	nActive   int
	nDone     int
	seq       uint64
	listeners map[int]routing.Listener
	nextL     int
	restored  []routing.WorkItem
	started   bool
	stopped   bool

	factory    informers.SharedInformerFactory
	jobLister  batchlisters.JobLister
	podLister  corelisters.PodLister
	podIndexer cache.Indexer
	queue      workqueue.TypedRateLimitingInterface[string]
	stopCh     chan struct{}
	// reachMu guards the Kubernetes API reachability (reachability.go).
	reachMu     sync.Mutex
	unreachable string
	diag        *diagnoser // pending-pod diagnosis, see diagnosis.go
	wg          sync.WaitGroup
}

var _ routing.Runner = (*Runner)(nil)

// New checks cfg and deps and returns a runner; Start brings it up.
func New(cfg Config, deps Deps) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("k8s runner config: %w", err)
	}
	switch {
	case deps.Client == nil:
		return nil, errors.New("k8s runner: Deps.Client is required")
	case deps.Jobs == nil:
		return nil, errors.New("k8s runner: Deps.Jobs (the task to Job builder) is required")
	case deps.Status == nil:
		return nil, errors.New("k8s runner: Deps.Status (the task log store) is required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.TracerProvider == nil {
		deps.TracerProvider = otel.GetTracerProvider()
	}
	if deps.MeterProvider == nil {
		deps.MeterProvider = otel.GetMeterProvider()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	const scope = "github.com/taskgate/taskgate/k8srunner"
	hist, err := deps.MeterProvider.Meter(scope).Int64Histogram("k8s.peon.startup.time",
		metric.WithUnit("ms"),
		metric.WithDescription("Milliseconds from submitting a peon Job to its pod running (Druid's k8s/peon/startup/time)."))
	if err != nil {
		return nil, fmt.Errorf("k8s runner: startup histogram: %w", err)
	}
	return &Runner{
		cfg:       cfg,
		deps:      deps,
		owner:     cfg.Owner(),
		log:       deps.Logger.With("runner", routing.RunnerK8s),
		now:       deps.Now,
		tracer:    deps.TracerProvider.Tracer(scope),
		startupMs: hist,
		items:     map[string]*item{},
		byJob:     map[string]string{},
		listeners: map[int]routing.Listener{},
	}, nil
}

// Name implements routing.Runner.
func (r *Runner) Name() string { return routing.RunnerK8s }

// Start adopts peon Jobs that Druid's own runner started (see
// Config.AdoptDruidJobs), runs the informers, waits (at most
// taskJoinTimeout, adoption included) for them to sync, re-attaches every
// existing peon Job of this gateway (label taskgate.io/owner=Config.Owner()),
// and starts the workers and the cleanup ticker. A runner starts once.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	if r.started {
		r.mu.Unlock()
		return errors.New("k8s runner: already started")
	}
	r.started = true
	r.mu.Unlock()

	syncCtx, cancel := context.WithTimeout(ctx, r.cfg.TaskJoinTimeout)
	defer cancel()
	// Before the informers list: adopted Jobs then look like this runner's
	// own to them and to restore.
	r.adoptDruidJobs(syncCtx)

	r.stopCh = make(chan struct{})
	r.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](200*time.Millisecond, 10*time.Second),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "k8srunner"})
	r.factory = informers.NewSharedInformerFactoryWithOptions(r.deps.Client, 0,
		informers.WithNamespace(r.cfg.Namespace),
		// Only this gateway's Jobs and pods: never another gateway's or a
		// Druid Overlord's sharing the namespace.
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = r.ownerSelector()
		}))
	jobInf := r.factory.Batch().V1().Jobs()
	podInf := r.factory.Core().V1().Pods()
	// Managed fields are never read and are a large part of each object.
	for _, inf := range []cache.SharedIndexInformer{jobInf.Informer(), podInf.Informer()} {
		if err := inf.SetTransform(stripManagedFields); err != nil {
			return fmt.Errorf("k8s runner: informer transform: %w", err)
		}
	}
	if err := podInf.Informer().AddIndexers(cache.Indexers{podJobIndex: podJobNames}); err != nil {
		return fmt.Errorf("k8s runner: pod index: %w", err)
	}
	if _, err := jobInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { r.enqueueJob(o) },
		UpdateFunc: func(_, o any) { r.enqueueJob(o) },
		DeleteFunc: func(o any) { r.enqueueJob(o) },
	}); err != nil {
		return fmt.Errorf("k8s runner: job handler: %w", err)
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { r.enqueuePod(o) },
		UpdateFunc: func(_, o any) { r.enqueuePod(o) },
		DeleteFunc: func(o any) { r.enqueuePod(o) },
	}); err != nil {
		return fmt.Errorf("k8s runner: pod handler: %w", err)
	}
	r.jobLister = jobInf.Lister()
	r.podLister = podInf.Lister()
	r.podIndexer = podInf.Informer().GetIndexer()
	if err := r.startDiagnosis(jobInf.Informer()); err != nil { // pending-pod diagnosis (diagnosis.go)
		return err
	}
	r.factory.Start(r.stopCh)

	for typ, ok := range r.factory.WaitForCacheSync(syncCtx.Done()) {
		if !ok {
			close(r.stopCh)
			r.factory.Shutdown()
			r.queue.ShutDown()
			return fmt.Errorf("k8s runner: %s informer did not sync within %s (%s): %w", typ, r.cfg.TaskJoinTimeout, PropTaskJoinTimeout, context.Cause(syncCtx))
		}
	}
	r.restore(syncCtx)

	for i := 0; i < r.cfg.Workers; i++ {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for r.processNext() {
			}
		}()
	}
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		r.cleanupLoop()
	}()
	go func() {
		defer r.wg.Done()
		r.probeLoop()
	}()
	r.dispatch()
	r.log.Info("kubernetes runner started", "namespace", r.cfg.Namespace, "ownerId", r.owner, "capacity", r.capacity(), "restored", len(r.restored))
	return nil
}

// Stop stops the informers and workers. Jobs keep running; a later Start
// (of this or another gateway) re-attaches them.
func (r *Runner) Stop(ctx context.Context) error {
	r.mu.Lock()
	if !r.started || r.stopped {
		r.mu.Unlock()
		return nil
	}
	r.stopped = true
	for _, it := range r.items {
		if it.launchSpan != nil {
			it.launchSpan.End()
			it.launchSpan = nil
		}
	}
	r.mu.Unlock()
	close(r.stopCh)
	r.queue.ShutDown()
	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		r.factory.Shutdown()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("k8s runner stop: %w", ctx.Err())
	}
}

// Restore returns the tasks re-attached from existing Jobs at Start.
func (r *Runner) Restore(ctx context.Context) ([]routing.WorkItem, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]routing.WorkItem, 0, len(r.restored))
	for _, w := range r.restored {
		if it := r.items[w.TaskID]; it != nil {
			out = append(out, it.workItem())
		}
	}
	return out, nil
}

// restore turns every peon Job in the informer cache (this gateway's, by
// the owner label) into a work item.
func (r *Runner) restore(ctx context.Context) {
	jobs, err := r.jobLister.Jobs(r.cfg.Namespace).List(labels.Everything())
	if err != nil {
		r.log.Error("list peon jobs to restore", "err", err)
		return
	}
	sort.Slice(jobs, func(i, j int) bool { return jobs[i].CreationTimestamp.Before(&jobs[j].CreationTimestamp) })
	for _, job := range jobs {
		id, err := adapters.TaskIDFromJob(job)
		if err != nil {
			r.log.Warn("peon job without a task id; not tracked", "job", job.Name, "err", err)
			continue
		}
		it := &item{
			id: id, jobName: job.Name, phase: phaseLaunched, restored: true, jobSeen: true,
			adopted: job.Annotations[AnnotationAdoptedAt] != "",
			created: job.CreationTimestamp.Time, launchedAt: job.CreationTimestamp.Time,
			location: task.UnknownLocation(), heapIndex: -1, submitCtx: context.Background(),
			taskType:   annotationOr(job, adapters.AnnotationTaskType, job.Labels[adapters.LabelTaskType]),
			dataSource: annotationOr(job, adapters.AnnotationTaskDataSource, job.Labels[adapters.LabelTaskDataSource]),
			groupID:    annotationOr(job, adapters.AnnotationTaskGroupID, id),
		}
		if t, err := adapters.TaskFromJob(ctx, job, r.deps.Payloads); err == nil {
			it.task, it.taskType, it.dataSource, it.groupID, it.priority = t, t.Type, t.DataSource, t.GroupID, t.Priority
		} else {
			r.log.Warn("re-attached job's task JSON is unreadable; tracking it by its annotations", "job", job.Name, "task", id, "err", err)
		}
		it.logCtx, it.logCancel = context.WithCancel(context.Background())
		r.mu.Lock()
		if _, known := r.items[id]; known {
			r.mu.Unlock()
			continue
		}
		r.items[id] = it
		r.byJob[job.Name] = id
		r.nActive++
		r.restored = append(r.restored, it.workItem())
		r.mu.Unlock()
		r.queue.Add(id)
	}
}

func annotationOr(job *batchv1.Job, key, def string) string {
	if v := job.Spec.Template.Annotations[key]; v != "" {
		return v
	}
	if v := job.Annotations[key]; v != "" {
		return v
	}
	return def
}

// Run queues a task; it gets a Job when a slot is free. Running a known id
// again, or one that was shut down, does nothing.
func (r *Runner) Run(ctx context.Context, t *task.Task) error {
	if t == nil || t.ID == "" {
		return errors.New("k8s runner: task with an id is required")
	}
	_, span := r.tracer.Start(ctx, "k8srunner.submit", trace.WithAttributes(taskAttrs(t.ID, t.Type, t.DataSource)...))
	defer span.End()
	now := r.now()
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return errors.New("k8s runner: stopped")
	}
	if _, ok := r.items[t.ID]; ok {
		r.mu.Unlock()
		return nil
	}
	r.seq++
	it := &item{
		id: t.ID, task: t, taskType: t.Type, dataSource: t.DataSource, groupID: t.GroupID,
		priority: t.Priority, seq: r.seq, jobName: adapters.JobName(t.ID), phase: phaseQueued,
		created: now, location: task.UnknownLocation(),
		// The submit span ends when Run returns; its context stays the parent
		// of the task's later spans and goes into the Job's annotation.
		submitCtx: trace.ContextWithSpanContext(context.Background(), span.SpanContext()),
	}
	it.logCtx, it.logCancel = context.WithCancel(context.Background())
	r.items[t.ID] = it
	heap.Push(&r.pending, it)
	r.mu.Unlock()
	r.dispatch()
	return nil
}

// dispatch gives free slots to queued tasks, highest priority first.
func (r *Runner) dispatch() {
	r.mu.Lock()
	if !r.started || r.queue == nil {
		r.mu.Unlock()
		return
	}
	var ids []string
	// Read the capacity on every pass: a lower one only stops new launches
	// (tasks holding a slot keep it), a higher one launches at once.
	for capacity := r.capacity(); r.nActive < capacity && r.pending.Len() > 0; {
		it := heap.Pop(&r.pending).(*item)
		it.phase = phaseCreating
		r.nActive++
		ids = append(ids, it.id)
	}
	r.mu.Unlock()
	for _, id := range ids {
		r.queue.Add(id)
	}
}

// capacity is the live capacity: Deps.Capacity when it gives one, else
// Config.Capacity.
func (r *Runner) capacity() int {
	if r.deps.Capacity != nil {
		if c := r.deps.Capacity.Capacity(); c >= 1 {
			return c
		}
	}
	return r.cfg.Capacity
}

// CapacityChanged tells the runner that Deps.Capacity may have changed (the
// wiring calls it from the execution config's change feed). Queued tasks
// that now fit get their Jobs at once; when the capacity went down, running
// tasks are left alone and new ones wait until enough of them end.
func (r *Runner) CapacityChanged() {
	r.mu.Lock()
	c, active, queued := r.capacity(), r.nActive, r.pending.Len()
	r.mu.Unlock()
	r.log.Info("kubernetes runner capacity changed", "capacity", c, "active", active, "queued", queued)
	r.dispatch()
}

// Shutdown stops a task: a queued one leaves the queue, a launched one loses
// its Job (background propagation). Either way it ends FAILED
// "shutdown: <reason>" and its Job is never created again.
func (r *Runner) Shutdown(ctx context.Context, taskID, reason string) error {
	r.mu.Lock()
	it := r.items[taskID]
	if it == nil || it.phase == phaseDone {
		r.mu.Unlock()
		return nil
	}
	hadJob := it.phase != phaseQueued && it.phase != phaseCreating || it.jobSeen
	wasCreating := it.phase == phaseCreating
	if it.phase == phaseQueued {
		heap.Remove(&r.pending, it.heapIndex)
	}
	st := task.Failure(taskID, "shutdown: %s", reason)
	ev := r.finishLocked(it, st)
	r.mu.Unlock()
	r.log.Info("task shut down", "task", taskID, "reason", reason)
	r.emit(ev...)
	r.dispatch()
	// A worker creating the Job right now sees the task done and deletes
	// what it created; deleting here too covers the Job being already there.
	if hadJob || wasCreating {
		if err := r.deleteJob(ctx, it.jobName); err != nil {
			return fmt.Errorf("shutdown %s: %w", taskID, err)
		}
	}
	return nil
}

// Get implements routing.Runner.
func (r *Runner) Get(taskID string) (routing.WorkItem, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	it := r.items[taskID]
	if it == nil {
		return routing.WorkItem{}, false
	}
	return it.workItem(), true
}

func (r *Runner) list(keep func(*item) bool) []routing.WorkItem {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]routing.WorkItem, 0)
	for _, it := range r.items {
		if keep(it) {
			out = append(out, it.workItem())
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedTime.Equal(out[j].CreatedTime) {
			return out[i].CreatedTime.Before(out[j].CreatedTime)
		}
		return out[i].TaskID < out[j].TaskID
	})
	return out
}

// Running lists tasks whose pod runs (or whose Job finished and whose
// status is being read).
func (r *Runner) Running() []routing.WorkItem {
	return r.list(func(it *item) bool { return it.phase == phaseRunning || it.phase == phaseCompleted })
}

// Pending lists queued tasks and tasks whose pod has not started.
func (r *Runner) Pending() []routing.WorkItem {
	return r.list(func(it *item) bool { return it.phase <= phaseLaunched })
}

// Known lists every task the runner remembers, finished ones included.
func (r *Runner) Known() []routing.WorkItem { return r.list(func(*item) bool { return true }) }

// TotalSlots is the live capacity, under Druid's worker category.
func (r *Runner) TotalSlots() map[string]int { return map[string]int{WorkerCategory: r.capacity()} }

// UsedSlots counts tasks holding a slot (Job created or being created).
func (r *Runner) UsedSlots() map[string]int { return map[string]int{WorkerCategory: r.UsedCapacity()} }

// IdleSlots is capacity minus used, never negative.
func (r *Runner) IdleSlots() map[string]int {
	return map[string]int{WorkerCategory: max(0, r.capacity()-r.UsedCapacity())}
}

// TotalCapacity implements routing.Runner with the live capacity.
func (r *Runner) TotalCapacity() int { return r.capacity() }

// UsedCapacity implements routing.Runner. Re-attached Jobs count, so it can
// exceed the capacity after a restart with a lower one.
func (r *Runner) UsedCapacity() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nActive
}

// Subscribe implements routing.Runner.
func (r *Runner) Subscribe(l routing.Listener) func() {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := r.nextL
	r.nextL++
	r.listeners[id] = l
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.listeners, id)
	}
}

// emit calls the listeners outside the lock.
func (r *Runner) emit(evs ...routing.Event) {
	if len(evs) == 0 {
		return
	}
	r.mu.Lock()
	ls := make([]routing.Listener, 0, len(r.listeners))
	for _, l := range r.listeners {
		ls = append(ls, l)
	}
	r.mu.Unlock()
	for _, ev := range evs {
		for _, l := range ls {
			l(ev)
		}
	}
}

// finishLocked records the final status, frees the slot and returns the
// event to emit. Callers hold r.mu.
func (r *Runner) finishLocked(it *item, st task.Status) []routing.Event {
	if it.phase == phaseDone {
		return nil
	}
	if it.active() {
		r.nActive--
	}
	it.phase = phaseDone
	it.doneAt = r.now()
	if st.Location.IsUnknown() {
		st.Location = it.location
	}
	it.status = &st
	if it.launchSpan != nil {
		it.launchSpan.End()
		it.launchSpan = nil
	}
	_, span := r.tracer.Start(it.submitCtx, "k8srunner.complete", trace.WithAttributes(taskAttrs(it.id, it.taskType, it.dataSource)...))
	span.SetAttributes(statusAttrs(st)...)
	span.End()
	// Give a pod log reader a moment to drain what the API server still
	// sends, then close it: a finished task's log comes from the store.
	time.AfterFunc(logDrainGrace, it.logCancel)
	r.nDone++
	if r.nDone > r.cfg.CompletedMax {
		r.pruneLocked()
	}
	s := st
	return []routing.Event{{Kind: routing.EventStatusChanged, TaskID: it.id, Runner: routing.RunnerK8s, Location: st.Location, Status: &s, Time: it.doneAt}}
}

const logDrainGrace = 5 * time.Second

// pruneLocked forgets finished tasks past the retention time or count.
func (r *Runner) pruneLocked() {
	now := r.now()
	var done []*item
	for _, it := range r.items {
		if it.phase != phaseDone {
			continue
		}
		if now.Sub(it.doneAt) > r.cfg.CompletedRetention {
			r.forgetLocked(it)
			continue
		}
		done = append(done, it)
	}
	if extra := len(done) - r.cfg.CompletedMax; extra > 0 {
		sort.Slice(done, func(i, j int) bool { return done[i].doneAt.Before(done[j].doneAt) })
		for _, it := range done[:extra] {
			r.forgetLocked(it)
		}
	}
}

func (r *Runner) forgetLocked(it *item) {
	if it.phase == phaseDone {
		r.nDone--
	}
	delete(r.items, it.id)
	if r.byJob[it.jobName] == it.id {
		delete(r.byJob, it.jobName)
	}
}

func stripManagedFields(o any) (any, error) {
	if m, ok := o.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return o, nil
}

// podJobNames is the index function for podJobIndex.
func podJobNames(o any) ([]string, error) {
	pod, ok := o.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	if n := jobNameOfPod(pod); n != "" {
		return []string{n}, nil
	}
	return nil, nil
}

func jobNameOfPod(pod *corev1.Pod) string {
	for _, ref := range pod.OwnerReferences {
		if ref.Kind == "Job" && ref.Controller != nil && *ref.Controller {
			return ref.Name
		}
	}
	if n := pod.Labels[batchv1.JobNameLabel]; n != "" {
		return n
	}
	return pod.Labels["job-name"]
}

func (r *Runner) enqueueJob(o any) {
	if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	job, ok := o.(*batchv1.Job)
	if !ok {
		return
	}
	r.enqueueByJobName(job.Name)
}

func (r *Runner) enqueuePod(o any) {
	if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	pod, ok := o.(*corev1.Pod)
	if !ok {
		return
	}
	if n := jobNameOfPod(pod); n != "" {
		r.enqueueByJobName(n)
	}
}

// knowsJob reports whether name is the Job of a task this runner tracks.
func (r *Runner) knowsJob(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.byJob[name]
	return ok
}

func (r *Runner) enqueueByJobName(name string) {
	r.mu.Lock()
	id, ok := r.byJob[name]
	r.mu.Unlock()
	if ok {
		r.queue.Add(id)
	}
}
