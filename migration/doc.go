// Package migration watches a migration from Middle Managers to Kubernetes:
// per task type and runner statistics, draining, canary progression, and
// adoption of Jobs that Druid's own Kubernetes runner created.
package migration
