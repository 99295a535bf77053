// Package k8srunner runs Druid tasks as Kubernetes Jobs (Druid's "MM-less"
// mode): it submits Jobs built by adapters, tracks every Job and peon Pod from
// shared informers, enforces capacity and timeouts, reads final status from
// the task log store, cleans up, and restores tracking after a restart.
package k8srunner
