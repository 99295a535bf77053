// Package workerrunner runs Druid tasks on classic Middle Managers over
// Druid's worker HTTP protocol, as the Overlord's httpRemote runner
// (HttpRemoteTaskRunner) does: discovery, per-worker change sync,
// assignment, shutdown and logs. Runner implements routing.Runner as
// "worker".
//
// How it behaves, and where it differs from Druid on purpose:
//
//   - Discovery feeds the runner through the Discovery interface: a static
//     list (taskgate.worker.urls, Druid has none) or Druid's Kubernetes node
//     discovery (pods labelled and annotated by druid-kubernetes-extensions,
//     one shared informer). Static entries carry their capacity, category
//     and version because a Middle Manager does not tell them over HTTP
//     (Druid reads them from the discovery announcement); a bare URL gets
//     taskgate.worker.defaultCapacity.
//   - One goroutine per worker long-polls its change history; a worker is
//     usable after its first full sync and while it is enabled, synced, not
//     blacklisted, has no unacknowledged assignment and a version ≥
//     minWorkerVersion. A worker whose sync is failing gets no tasks
//     (Druid would still try and wait for the acknowledgement timeout).
//   - Worker loss: a worker removed by discovery, or (taskgate, because a
//     static worker never leaves discovery) whose sync has failed
//     continuously for taskCleanupTimeout, has its running tasks FAILED with
//     Druid's cleanup message. A worker that comes back earlier keeps them;
//     its first full sync fails those it no longer knows ("This task
//     disappeared on the worker ...").
//   - taskgate has no task storage, so every running task a worker reports
//     that the runner does not know is adopted (Druid adopts only tasks its
//     storage says are running and shuts the others down); finished tasks
//     are adopted from a worker's first sync only, so results of tasks that
//     ended while the gateway was down are reported once on start. Restore
//     returns the tasks adopted by the first syncs. Run of an adopted id is a
//     no-op that attaches the payload, so nothing runs twice.
//   - The pending queue is ordered by context priority, then arrival; a task
//     that fits nowhere does not hold back the others. Shutdown of a queued
//     task fails it with "shutdown: <reason>" (Druid leaves it queued).
//   - Assignment: the select strategy (equalDistribution, fillCapacity,
//     affinityConfig) among eligible workers with room for requiredCapacity
//     and no running task of the same availabilityGroup; a call that fails
//     every attempt is treated as assigned, and the task fails if its worker
//     does not report it within taskAssignmentTimeout, as Druid.
//   - Blacklisting follows HRTR: more than maxRetriesBeforeBlacklist
//     consecutive failures blacklist a worker for workerBlackListBackoffTime
//     while fewer than maxPercentageBlacklistWorkers% are blacklisted.
//   - A Runner is started once; after Stop, make a new one.
package workerrunner
