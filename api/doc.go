// Package api is taskgate's HTTP front door: the native /taskgate/v1 task
// API (submit, status, location, shutdown, log, listings, capacity and a
// long-poll change feed), the /status probes, JSON errors, request limits,
// access logs and OpenTelemetry server spans.
//
// The package owns no task state. Everything it answers comes from a
// TaskRunner (in production routing.Hybrid); the only state kept here is a
// bounded ring of recent runner events that backs the change feed, so that
// clients can follow task changes without polling every task.
//
// docs/openapi.yaml describes the API; a test keeps it and the router in step.
package api
