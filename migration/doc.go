// Package migration watches a migration from Middle Managers to Kubernetes
// and keeps it safe: per task type and runner statistics over a sliding
// window (the migration view), automatic rollback of canary rules whose
// Kubernetes failure rate is clearly worse (the guard), and draining of the
// Middle Managers.
//
// # Tracker
//
// A Tracker hears of every task routing.Hybrid starts (TaskRouted, as a
// routing.Observer: pass it to routing.WithObserver) and of every completion
// (OnEvent: pass it to Hybrid.Subscribe). A completion of a task it did not
// see submitted (restored after a restart) is attributed with
// Config.Lookup (Hybrid.Get); Tracker.Restored seeds the running counts with
// Hybrid.Restore's result. Both paths take one short lock and never wait
// for I/O; there is no goroutine per task. Memory is bounded: records leave
// with the window (Config.Window, default 1h), and past Config.MaxRecords
// submissions or completions, or Config.MaxInFlight running ids (default
// 100 000 each), the oldest are dropped with a warning (View.dropped counts
// them).
//
// # View (GET /taskgate/v1/migration, operationId getMigrationView)
//
//	{
//	  "window": "PT1H",                      ISO-8601 sliding window
//	  "from": "2024-06-01T09:00:00Z",        window start (exclusive)
//	  "generatedAt": "2024-06-01T10:00:00Z",
//	  "guardEnabled": true,                  a routing config source is wired
//	  "types": [{                            per task type × runner, sorted
//	    "taskType": "index_kafka", "runner": "k8s",
//	    "submitted": 40,                     in the window, by submit time
//	    "running": 3,                        started and not complete, however old
//	    "succeeded": 35, "failed": 2,        in the window, by completion time
//	    "failureRate": 0.054,                failed/(succeeded+failed), 0..1; null without completions
//	    "medianDurationMs": 61000,           nearest-rank percentiles of the durations the
//	    "p95DurationMs": 300000,             statuses reported; null without any
//	    "share": 0.5                         fraction of the type's submissions that went
//	  }],                                    to this runner, 0..1; null without submissions
//	  "rules": [{                            per named routing rule, sorted
//	    "name": "kafka-canary",
//	    "submittedK8s": 40, "submittedWorker": 40,
//	    "k8sShare": 0.5,                     measured, 0..1 (diverted tasks count where they ran); null without submissions
//	    "percent": 50,                       configured; null when not in the config in force
//	    "taskTypes": ["index_kafka"]         types it routed in the window
//	  }],
//	  "diverted": [{                         tasks that ran elsewhere than their rule chose
//	    "taskType": "index_kafka", "kind": "drain", "reason": "drain.worker",
//	    "runner": "k8s", "count": 4, "lastDetail": "drain.worker"
//	  }],
//	  "rollbacks": [{                        the guard's last 20 rollbacks, newest first
//	    "rule": "kafka-canary", "taskType": "index_kafka", "previousPercent": 50,
//	    "k8sFailureRate": 0.4, "workerFailureRate": 0.05,
//	    "k8sCompleted": 20, "workerCompleted": 40, "maxFailureRateDelta": 10,
//	    "time": "2024-06-01T10:00:00Z", "comment": "kafka-canary rolled back: ..."
//	  }],
//	  "dropped": {"inFlight": 0, "submissions": 0, "completions": 0},
//	  "unattributed": 0                      completions, since the start, whose type/runner could not be found
//	}
//
// Diversion kinds are "drain" (reason "drain.worker") and "fallback"
// (reasons "fallback.unreachable", "fallback.noIdleSlot", "fallback"); a
// text routing does not produce today is kind and reason "other".
//
// # Guard
//
// With Config.Routing set, after completions (coalesced onto one goroutine)
// every rule of the config in force with a guard and a percent above 0 is
// judged, per task type it routed in the window: when Kubernetes completed
// at least guard.minTasks tasks of the type in the window (0 means
// dynconfig.DefaultGuardMinTasks) and the Kubernetes failure rate exceeds
// the Middle Managers' by more than guard.maxFailureRateDelta percentage
// points, the rule's percent is set to 0 through the routing config, audited
// with author GuardAuthor and a comment giving both rates, the task type,
// the window and the counts. The Middle Manager rate is over the window for
// the type; with no Middle Manager completions it counts as 0, so the guard
// then acts on the Kubernetes failure rate alone. A rule is rolled back at
// most once per config generation; a failed update is retried on a later
// completion after 30s. After a rollback, Kubernetes completions of tasks
// submitted before it no longer count against that rule, so re-enabling it
// starts from fresh evidence.
//
// # Drain (GET|POST /taskgate/v1/migration/drain)
//
// GET (operationId getMigrationDrain) answers the drain settings and what
// still runs on the Middle Managers (Config.Workers):
//
//	{"worker": true, "workers": ["mm1:8091"],
//	 "running": {"mm1:8091": 2, "mm2:8091": 0},   null without Config.Workers
//	 "unassigned": 0,                             held by the worker runner, not assigned yet
//	 "runningOnWorkerSide": 2,
//	 "empty": false}
//
// empty is true when something is drained and every drained target (the
// whole worker side when worker is true, else each of workers) runs
// nothing: those Middle Managers can be shut down.
//
// POST (operationId setMigrationDrain) changes only the drain part of the
// routing config; fields left out keep their value (see DrainRequest):
// {"worker": bool}, {"workers": [...]} (replaces the list), {"add": [...]},
// {"remove": [...]}. It is audited like dynconfig's POSTs (X-Druid-Author,
// X-Druid-Comment, remote IP, Config.Identity) and answers 200 with the
// drain status; 400 {"error", "field"} naming the field for bad input
// (unknown fields included), nothing changed; 415 for a non-JSON
// Content-Type; 503 (both methods) without Config.Routing.
//
// # Metrics
//
// Through Config.MeterProvider, scope github.com/taskgate/taskgate/migration:
//
//	taskgate.migration.tasks.submitted  counter    task_type, runner, rule (routing.Decision.Rule, e.g. "rules[kafka-canary]")
//	taskgate.migration.tasks.completed  counter    task_type, runner, status (SUCCESS|FAILED)
//	taskgate.migration.task.duration    histogram  seconds; task_type, runner, status
//	taskgate.migration.tasks.running    gauge      task_type, runner
//	taskgate.migration.tasks.diverted   counter    task_type, reason (drain|fallback|other)
//	taskgate.migration.guard.rollbacks  counter    rule (the rule's name)
package migration
