package adapters

// Adapter types, the values of druid.indexer.runner.k8s.adapter.type (Druid's
// SingleContainerTaskAdapter.TYPE, MultiContainerTaskAdapter.TYPE,
// PodTemplateTaskAdapter.TYPE).
const (
	TypeSingleContainer = "overlordSingleContainer"
	TypeMultiContainer  = "overlordMultiContainer"
	TypeCustomTemplate  = "customTemplateAdapter"
)

// Labels, with Druid's keys (DruidK8sConstants). LabelPeon=true marks every
// peon Job and pod; the runner's informers select on it.
const (
	LabelPeon              = "druid.k8s.peons"
	LabelOverlordNamespace = "druid.overlord.namespace"
	LabelTaskID            = "druid.task.id"
	LabelTaskType          = "druid.task.type"
	LabelTaskGroupID       = "druid.task.group.id"
	LabelTaskDataSource    = "druid.task.datasource"
	// LabelOwner is taskgate's: the owner id (taskgate.k8s.ownerId) of the
	// gateway that tracks the Job. A gateway's informers select on it, so two
	// gateways (or a gateway and a Druid Overlord) sharing a namespace never
	// see, count, clean up or restore each other's Jobs. Druid has no such
	// label; a Job without it is one Druid's own runner started.
	LabelOwner = "taskgate.io/owner"
)

// Annotations, with Druid's keys. AnnotationTaskID on the pod template holds
// the original task id and is how Druid (and taskgate) find a Job's task.
// AnnotationTask holds the compressed task JSON (customTemplateAdapter).
// AnnotationJobTemplate holds the pod template key the Job was built from
// (Druid's TASK_JOB_TEMPLATE), so a restored task keeps its template.
const (
	AnnotationTask           = "task"
	AnnotationTaskID         = "task.id"
	AnnotationTaskType       = "task.type"
	AnnotationTaskGroupID    = "task.group.id"
	AnnotationTaskDataSource = "task.datasource"
	AnnotationTLSEnabled     = "tls.enabled"
	AnnotationJobTemplate    = "task.jobTemplate"
	// AnnotationTemplateReason says why the template was chosen. Druid has no
	// such annotation; it is taskgate's, for operators debugging selection.
	AnnotationTemplateReason = "taskgate.io/pod-template-reason"
)

// Environment variables the peon image reads (peon.sh, CliPeon).
const (
	EnvTaskJSON                    = "TASK_JSON"
	EnvTaskDir                     = "TASK_DIR"
	EnvTaskID                      = "TASK_ID"
	EnvJavaOpts                    = "JAVA_OPTS"
	EnvDruidHost                   = "druid_host"
	EnvHostname                    = "HOSTNAME"
	EnvLoadBroadcastSegments       = "LOAD_BROADCAST_SEGMENTS"
	EnvLoadBroadcastDatasourceMode = "LOAD_BROADCAST_DATASOURCE_MODE"
	EnvMonitors                    = "druid_monitoring_monitors"
)

// Ports and names on the peon's main container.
const (
	Port              = 8100
	TLSPort           = 8091
	PortName          = "druid-port"
	TLSPortName       = "druid-tls-port"
	MainContainerName = "main"
)

const (
	// ContextPodTemplateSelectionKey is the task context key that names the
	// task's pod template (druid.indexer.runner.k8s.podTemplate.<value>) when
	// PropAllowTaskPodTemplateSelection is true (apache/druid#19419).
	ContextPodTemplateSelectionKey = "podTemplateSelectionKey"
	// BaseTemplateKey is the pod template every task falls back to.
	BaseTemplateKey = "base"
	// MaxTaskJSONChars is Druid's MAX_ENV_VARIABLE_KBS: the longest
	// base64(gzip(task JSON)) put in TASK_JSON; longer payloads go to the task
	// log store.
	MaxTaskJSONChars = 130048
	// DefaultKubexitImage is Druid's default druid.indexer.runner.kubexitImage.
	DefaultKubexitImage = "karlkfi/kubexit:v0.3.2"
	// defaultCPUMillicores is used when cpuCoreInMicro is 0.
	defaultCPUMillicores = 1000
	// peonScript is the peon entry point in Druid's image.
	peonScript = "/peon.sh"
	// druidImageWorkDir resolves relative task directories: Druid's Overlord
	// resolves them against its working directory, /opt/druid in Druid's image.
	druidImageWorkDir = "/opt/druid"
)
