// Package adapters turns a Druid task into the batch/v1 Job that runs its
// peon, as Druid's Kubernetes runner builds it, so that a stock Druid peon
// image runs unchanged and Jobs started by Druid's own runner can be adopted
// (and the other way round).
//
// Three adapters, chosen by druid.indexer.runner.k8s.adapter.type:
// overlordSingleContainer (default) and overlordMultiContainer copy a source
// pod's spec (the Overlord's, or the gateway's own), the latter keeping its
// sidecars under kubexit; customTemplateAdapter starts from PodTemplate files,
// one of which a TemplateSelector picks per task.
//
// Every adapter gives a Job the identity Druid gives it: the job name derived
// from the task id (JobName), label druid.k8s.peons=true, the task.* labels and
// annotations, the TASK_JSON / TASK_DIR / TASK_ID / JAVA_OPTS / druid_host /
// HOSTNAME / LOAD_BROADCAST_* environment, ports 8100 and 8091, and the Job
// limits (backoffLimit 0, activeDeadlineSeconds, ttlSecondsAfterFinished).
// Where Druid's own output would be invalid or unsafe (a job name with a
// backslash, a task id with shell characters in the peon command line) the
// adapters differ from Druid, and the function comments say how.
//
// With an owner id (taskgate.k8s.ownerId) Jobs and pods also carry
// taskgate's label taskgate.io/owner, which the runner selects on.
//
// Pod template files are read again when they change (apache/druid#17701;
// a ConfigMap mount's symlink swap included) and linted on every load: a
// file that does not parse or has lint errors is refused and the last good
// template of its key stays in use, with the error logged, counted
// (MetricTemplateReloadErrors) and shown by TemplateStatuses; lint warnings
// are logged once per load. ExecutionConfigChecker checks a dynamic
// execution config against the templates.
//
// Adapters are pure: they make no Kubernetes API calls. The only I/O is
// reading pod template files and, in FromTask, pushing payloads too large for
// TASK_JSON to a PayloadStore.
package adapters
