// Package dynconfig holds taskgate's dynamic configuration — Druid's
// Kubernetes execution config and taskgate's routing config — with
// validation, persistence, audit history and the HTTP handlers that serve it.
//
// The execution config JSON, endpoints and audit entries are Druid's
// (KubernetesTaskExecutionConfigResource, DefaultKubernetesTaskRunnerDynamicConfig
// with capacity and merge-on-POST from apache/druid#18591). Where Druid is
// lenient, taskgate is stricter and says so: an unknown strategy or config
// "type" is rejected (Druid's Jackson defaultImpl silently uses the default),
// values of the wrong JSON type are rejected (Jackson coerces some scalars),
// and unknown fields are ignored as in Druid but logged.
package dynconfig
