// Package dynconfig holds taskgate's dynamic configuration — Druid's
// Kubernetes execution config and taskgate's routing config — with
// validation, persistence, audit history and the HTTP handlers that serve it.
package dynconfig
