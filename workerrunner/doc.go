// Package workerrunner runs Druid tasks on classic Middle Managers over
// Druid's worker HTTP protocol, as the Overlord's httpRemote runner does:
// discovery, per-worker change sync, assignment, shutdown and logs.
package workerrunner
