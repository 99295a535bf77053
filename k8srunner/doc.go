// Package k8srunner runs Druid tasks as Kubernetes Jobs (Druid's "MM-less"
// mode) and implements routing.Runner under the name "k8s".
//
// # Tracking
//
// One shared informer factory, scoped to the namespace and the label
// druid.k8s.peons=true, watches Jobs and Pods. Event handlers only put the
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
// # Restore
//
// Start waits (at most taskJoinTimeout) for the informers to sync, then turns
// every peon Job in the namespace into a work item, including Jobs Druid's
// own runner created (the task id comes from the task.id annotation, the task
// from the Job's task JSON or the payload store). Restore returns them; they
// complete like any other task.
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
