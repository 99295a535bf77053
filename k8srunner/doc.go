// Package k8srunner runs Druid tasks as Kubernetes Jobs (Druid's "MM-less"
// mode) and implements routing.Runner under the name "k8s".
//
// # Tracking
//
// One shared informer factory, scoped to the namespace and the labels
// druid.k8s.peons=true and taskgate.io/owner=<owner id>, watches Jobs and
// Pods (see Ownership). Event handlers only put the
// task id on a client-go workqueue; a fixed pool of Config.Workers goroutines
// reconciles a task from the informer caches. Timeouts are delayed queue
// entries (AddAfter), not timers or goroutines per task, so the goroutine
// count does not grow with the number of tasks. One ticker goroutine runs the
// periodic cleanup.
//
// # Lifecycle
//
//	Run ─▶ queued (no slot) ─▶ creating ─▶ launched (Job exists) ─▶ running (pod Running) ─▶ completed ─▶ done
//
// Run is idempotent on the task id, and a task that was shut down is never
// started again. Beyond Capacity, tasks wait in a pending queue ordered by
// priority (highest first), then arrival. The Job comes from the JobBuilder
// (adapters); its trace context is written to the annotation
// taskgate.io/traceparent. A Job that already exists (AlreadyExists) is
// adopted, never duplicated.
//
// A running task's location is the pod IP, port 8100 and TLS port -1, or
// port -1 and TLS port 8091 when the pod is annotated tls.enabled=true, with
// the pod name. The final status is:
//   - Job Complete: the status.json the peon pushed to the task log store,
//     with the peon's duration. It may land after the Job completes (Druid
//     #17848): the runner looks again every 2 s for StatusWaitTimeout, then
//     fails the task with "task succeeded but no status.json was written".
//   - Job Failed: FAILED with the pod's reason (the main container's exit
//     code, reason and message), or "task exceeded maxTaskDuration" when the
//     Job hit its activeDeadlineSeconds.
//   - Job deleted by someone else before it finished: FAILED saying so (Druid
//     #14001), never a task that hangs.
//   - Pod not Running within LaunchTimeout (k8sjobLaunchTimeout): FAILED, and
//     the Job is deleted (Druid #14030).
//   - Shutdown: FAILED "shutdown: <reason>"; a queued task just leaves the
//     queue, a launched one has its Job deleted with background propagation.
//
// Listeners get locationChanged when the pod gets its address and
// statusChanged with the final status.
//
// # Ownership
//
// Tasks run in Config.Namespace (druid.indexer.runner.namespace), which may
// differ from the gateway's own namespace, Config.OverlordNamespace
// (druid.indexer.runner.overlordNamespace, apache/druid#17738); the adapters
// label Jobs with Druid's druid.overlord.namespace=<that namespace>. Every Job
// and pod this runner creates also carries taskgate.io/owner=<owner id>
// (taskgate.k8s.ownerId; default the overlord namespace, else the task
// namespace), stamped by the runner whatever the JobBuilder did. The
// informers select on it, so restore, capacity counting, cleanup, status and
// the pending-pod diagnosis only ever see this gateway's Jobs: two gateways,
// or a gateway and a Druid Overlord, can share a task namespace. HA replicas
// of one gateway must share the owner id.
//
// Druid's own runner puts no owner label on its Jobs. With
// Config.AdoptDruidJobs (taskgate.k8s.adoptDruidJobs, default true), Start
// first lists the peon Jobs without an owner label (one LIST) and adopts
// those whose druid.overlord.namespace label is absent or names this
// gateway's namespace: it labels the Job (a merge patch carrying the Job's
// resourceVersion, so two gateways cannot both win) and its pods, and
// annotates the Job taskgate.io/adopted-at. Relabelling, rather than
// tracking unlabelled Jobs on the side, keeps one selector for everything,
// makes the ownership visible (kubectl get jobs -l taskgate.io/owner=...),
// and survives restarts, even with adoption turned off later. A pod the job
// controller creates after the adoption is labelled when the runner next
// looks at the Job. Adoption happens only at Start: a Job that appears later
// without the label was started by someone else. The default is true because
// switching a cluster from Druid's runner (and upgrading from a taskgate
// without owner labels) must not lose running tasks, as Druid's own restore
// does not; turn it off when a Druid Overlord with the Kubernetes runner
// keeps running tasks in the namespace without an overlordNamespace.
//
// A create that finds the Job already there (AlreadyExists) tracks it when
// it is this runner's, adopts it under the same rules when it is Druid's,
// and fails the task when it belongs to another task or another gateway.
//
// # Restore
//
// Start waits (at most taskJoinTimeout, adoption included) for the informers
// to sync, then turns every peon Job of this gateway into a work item,
// including the adopted ones (the task id comes from the task.id annotation,
// the task from the Job's task JSON or the payload store). Restore returns
// them; they complete like any other task and count against capacity.
//
// # Slots and memory
//
// Slot counts use Druid's worker category "_k8s_worker_category": total is
// Capacity, used the tasks that hold a slot (Job being created, launched,
// running, or completed while its status is read), idle the rest. Finished
// tasks stay listed (Get, Known) for CompletedRetention and at most
// CompletedMax of them, oldest dropped first.
//
// # Logs
//
// While the pod runs, StreamLog follows the main container's log from the
// API (see StreamLog for offsets); afterwards the log comes from the task log
// store.
//
// # Telemetry
//
// Spans k8srunner.submit, k8srunner.createJob, k8srunner.podStart and
// k8srunner.complete carry the task id, type and datasource. The histogram
// k8s.peon.startup.time (ms; Druid's k8s/peon/startup/time) measures Job
// creation to pod running, with Druid's dimensions dataSource, taskId,
// taskType and groupId.
package k8srunner
