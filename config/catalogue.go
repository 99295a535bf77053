package config

import (
	"fmt"
	"slices"
	"strings"
)

// Type is the value type of a property, named as Druid's documentation
// names it.
type Type string

// Property value types.
const (
	TypeString     Type = "String"
	TypeInt        Type = "Integer"    // Java int: 32-bit signed
	TypeLong       Type = "Long"       // Java long: 64-bit signed
	TypeBool       Type = "Boolean"    // true or false, any letter case
	TypeFloat      Type = "Double"     // finite decimal number
	TypeDuration   Type = "Duration"   // ISO-8601 period, see ParseISODuration
	TypeJSONArray  Type = "JsonArray"  // JSON array of strings
	TypeJSONObject Type = "JsonObject" // JSON object of string values
)

// Group says which part of taskgate (and of Druid) a property belongs to.
type Group string

// Property groups, in documentation order.
const (
	GroupKubernetes   Group = "kubernetes"   // Druid's Kubernetes task runner extension
	GroupHybrid       Group = "k8sAndWorker" // the k8sAndWorker runner and its strategies
	GroupWorkerRunner Group = "worker"       // Druid's httpRemote (and remote) worker runner
	GroupTask         Group = "task"         // runner selection and task directories
	GroupTaskLogs     Group = "tasklogs"     // where peons write status.json and logs
	GroupTaskgate     Group = "taskgate"     // taskgate's own properties (no Druid equivalent)
)

// Property describes one runtime property taskgate understands.
type Property struct {
	// Name is the full property name. For a pattern it is the common prefix
	// followed by a <placeholder>, e.g. druid.indexer.runner.k8s.podTemplate.<taskType>.
	Name string
	Type Type
	// Default is the value used when no source sets the property, in the
	// property's own syntax. Empty means nothing is filled in; Doc then says
	// what an unset property means.
	Default string
	// Doc is a one-line description.
	Doc string
	// Pattern marks a family of properties sharing the prefix of Name.
	Pattern bool
	// Allowed, when set, is the closed set of accepted values.
	Allowed []string
	// Deprecated, when set, is the advice given in a warning when the
	// property is set.
	Deprecated string
	// Rejected, when set, makes setting the property a load error with
	// this advice.
	Rejected string
	Group    Group
	// Origin says where the property comes from: the Druid feature (pull
	// request) that introduced it, "Druid core" or an extension for Druid's
	// long-standing ones, or "taskgate" for taskgate's own (with the Druid
	// issue it answers, if any). Every entry has one; docs/configuration.md
	// shows it.
	Origin string

	// check validates a value beyond its type (ranges, allowed map values).
	check func(string) error
}

// Prefix returns the part of a pattern's Name before its placeholder, and
// Name itself for an ordinary property.
func (p Property) Prefix() string {
	if !p.Pattern {
		return p.Name
	}
	if i := strings.IndexByte(p.Name, '<'); i >= 0 {
		return p.Name[:i]
	}
	return p.Name
}

const (
	runnerPrefix   = "druid.indexer.runner."
	taskgatePrefix = "taskgate."
	podTemplateKey = "druid.indexer.runner.k8s.podTemplate."
	strategyPrefix = "druid.indexer.runner.k8sAndWorker.runnerStrategy."
	// Property names the loader treats specially.
	keyJavaOpts  = "druid.indexer.runner.javaOpts"
	keyOverrides = strategyPrefix + "taskType.overrides"
)

// Catalogue returns every property taskgate recognises, in documentation
// order. The slice is a copy; changing it changes nothing.
func Catalogue() []Property {
	out := make([]Property, len(catalogue))
	for i, p := range catalogue {
		p.Allowed = slices.Clone(p.Allowed)
		out[i] = p
	}
	return out
}

// LookupProperty returns the catalogue entry that governs key: the property
// of that exact name, or else the pattern whose prefix key extends.
func LookupProperty(key string) (Property, bool) {
	if i, ok := catalogueIndex[key]; ok {
		p := catalogue[i]
		p.Allowed = slices.Clone(p.Allowed)
		return p, true
	}
	for _, i := range patternIndexes {
		p := catalogue[i]
		if prefix := p.Prefix(); strings.HasPrefix(key, prefix) && len(key) > len(prefix) {
			p.Allowed = slices.Clone(p.Allowed)
			return p, true
		}
	}
	return Property{}, false
}

// lookupProperty is LookupProperty without the defensive copy, for the loader.
func lookupProperty(key string) (*Property, bool) {
	if i, ok := catalogueIndex[key]; ok {
		return &catalogue[i], true
	}
	for _, i := range patternIndexes {
		p := &catalogue[i]
		if prefix := p.Prefix(); strings.HasPrefix(key, prefix) && len(key) > len(prefix) {
			return p, true
		}
	}
	return nil, false
}

var (
	catalogueIndex = map[string]int{}
	patternIndexes []int
	// lowerNames maps lower-cased names to the real ones, for "did you mean".
	lowerNames = map[string]string{}
)

func init() {
	for i, p := range catalogue {
		if p.Pattern {
			patternIndexes = append(patternIndexes, i)
			continue
		}
		if _, dup := catalogueIndex[p.Name]; dup {
			panic("config: duplicate catalogue entry " + p.Name)
		}
		catalogueIndex[p.Name] = i
		lowerNames[strings.ToLower(p.Name)] = p.Name
	}
}

// Checks beyond the type.

func atLeast(min int64) func(string) error {
	return func(v string) error {
		n, _ := parseInteger(v, 64) // the type check already passed
		if n < min {
			return fmt.Errorf("must be at least %d, got %d", min, n)
		}
		return nil
	}
}

func between(min, max int64) func(string) error {
	return func(v string) error {
		n, _ := parseInteger(v, 64)
		if n < min || n > max {
			return fmt.Errorf("must be between %d and %d, got %d", min, max, n)
		}
		return nil
	}
}

// runnerNames are the runner names a taskType override may map to.
var runnerNames = []string{"k8s", "worker"}

func checkOverrides(v string) error {
	m, err := parseJSONObject(v)
	if err != nil {
		return err
	}
	for _, taskType := range sortedKeys(m) {
		if !slices.Contains(runnerNames, m[taskType]) {
			return fmt.Errorf("task type %q maps to unknown runner %q (want one of %s)",
				taskType, m[taskType], strings.Join(runnerNames, ", "))
		}
	}
	return nil
}

// catalogue is the table of known properties. Defaults and meanings come from
// Druid's sources (KubernetesTaskRunnerStaticConfig, KubernetesAndWorkerTaskRunnerConfig,
// KubernetesOverlordModule, TaskTypeRunnerStrategy, HttpRemoteTaskRunnerConfig,
// TaskConfig) and docs (development/extensions-core/k8s-jobs.md, configuration
// reference); where the docs and the code disagree the code wins.
var catalogue = []Property{
	// Kubernetes task runner (KubernetesTaskRunnerStaticConfig, prefix druid.indexer.runner).
	{Name: "druid.indexer.runner.namespace", Type: TypeString, Group: GroupKubernetes, Origin: "apache/druid#13156",
		Doc: "Namespace the task Jobs and pods run in. Required when druid.indexer.runner.type is k8s or k8sAndWorker."},
	{Name: "druid.indexer.runner.overlordNamespace", Type: TypeString, Group: GroupKubernetes, Origin: "apache/druid#17738, #17898",
		Doc: "Namespace the Overlord (the gateway) runs in, when tasks run in another namespace; Jobs are labelled druid.overlord.namespace with it. Unset: empty. Stop all tasks before changing it."},
	{Name: "druid.indexer.runner.k8sTaskPodNamePrefix", Type: TypeString, Group: GroupKubernetes, Origin: "apache/druid#17749",
		Doc: "Human-readable prefix used instead of the task id in Job names (lower-cased, ':-._' removed, at most 30 characters). Unset: empty, names derive from the task id. Stop all tasks before changing it."},
	{Name: "druid.indexer.runner.debugJobs", Type: TypeBool, Default: "false", Group: GroupKubernetes, Origin: "apache/druid#13156",
		Doc: "Keep Jobs after their task completes instead of cleaning them up."},
	{Name: "druid.indexer.runner.sidecarSupport", Type: TypeBool, Default: "false", Group: GroupKubernetes, Origin: "apache/druid#13156",
		Deprecated: "set druid.indexer.runner.k8s.adapter.type=overlordMultiContainer instead",
		Doc:        "Deprecated: start tasks with the same sidecars as the Overlord pod (same as adapter overlordMultiContainer)."},
	{Name: "druid.indexer.runner.primaryContainerName", Type: TypeString, Group: GroupKubernetes, Origin: "Druid Kubernetes runner",
		Doc: "Name of the Druid container in the Overlord pod spec when it has sidecars (e.g. druid-overlord). Unset: the first container."},
	{Name: "druid.indexer.runner.allowTaskPodTemplateSelection", Type: TypeBool, Default: "false", Group: GroupKubernetes, Origin: "apache/druid#19419",
		Doc: "Let a task's context key podTemplateSelectionKey name its pod template (customTemplateAdapter); a missing template fails the task (apache/druid#19419)."},
	{Name: "druid.indexer.runner.kubexitImage", Type: TypeString, Default: "karlkfi/kubexit:v0.3.2", Group: GroupKubernetes, Origin: "apache/druid#13156",
		Doc: "kubexit image that overlordMultiContainer uses to stop sidecars when the main container ends."},
	{Name: "druid.indexer.runner.disableClientProxy", Type: TypeBool, Default: "false", Group: GroupKubernetes, Origin: "apache/druid#13156",
		Doc: "Ignore HTTP(S) proxy settings when talking to the Kubernetes API."},
	{Name: "druid.indexer.runner.maxTaskDuration", Type: TypeDuration, Default: "PT4H", Group: GroupKubernetes, Origin: "apache/druid#13156",
		Doc: "Longest a task may run before it is killed (the Job's activeDeadlineSeconds)."},
	{Name: "druid.indexer.runner.taskCleanupDelay", Type: TypeDuration, Default: "P2D", Group: GroupKubernetes, Origin: "apache/druid#13156",
		Doc: "How long finished Jobs are kept before they are deleted (the Job's ttlSecondsAfterFinished)."},
	{Name: "druid.indexer.runner.taskCleanupInterval", Type: TypeDuration, Default: "PT10M", Group: GroupKubernetes, Origin: "apache/druid#13156",
		Doc: "How often finished Jobs are looked for and deleted."},
	{Name: "druid.indexer.runner.taskJoinTimeout", Type: TypeDuration, Default: "PT1M", Group: GroupKubernetes, Origin: "Druid Kubernetes runner",
		Doc: "Timeout for re-attaching, at startup, to tasks whose Jobs are already running."},
	{Name: "druid.indexer.runner.k8sjobLaunchTimeout", Type: TypeDuration, Default: "PT1H", Group: GroupKubernetes, Origin: "apache/druid#13156",
		Doc: "How long a Job may take to start its pod before the task is failed."},
	{Name: "druid.indexer.runner.logSaveTimeout", Type: TypeDuration, Default: "PT300S", Group: GroupKubernetes, Origin: "apache/druid#18444",
		Doc: "Time limit for saving a finished task's log to the task log store; past it the save is given up."},
	{Name: "druid.indexer.runner.podLogOperationTimeout", Type: TypeDuration, Group: GroupKubernetes, Origin: "Druid Kubernetes runner (Druid 35 release notes)",
		Doc: "Timeout for asynchronous operations on task pod logs (named in Druid 35's release notes)."},
	{Name: "druid.indexer.runner.peonMonitors", Type: TypeJSONArray, Default: "[]", Group: GroupKubernetes, Origin: "apache/druid#14028",
		Doc: "Monitors for peons, replacing druid.monitoring.monitors inherited from the Overlord."},
	{Name: "druid.indexer.runner.javaOptsArray", Type: TypeJSONArray, Default: "[]", Group: GroupKubernetes, Origin: "Druid Kubernetes runner",
		Doc: "JVM options for peons as a JSON array, e.g. [\"-Xmx1g\"]; joined into JAVA_OPTS with the task context's options."},
	{Name: keyJavaOpts, Type: TypeString, Group: GroupKubernetes, Origin: "Druid Kubernetes runner",
		Rejected: "the Kubernetes task runner does not support it; set druid.indexer.runner.javaOptsArray to a JSON array instead, e.g. [\"-Xms1g\",\"-Xmx1g\"]",
		Doc:      "Not supported (Druid's Kubernetes runner rejects it too): use druid.indexer.runner.javaOptsArray."},
	{Name: "druid.indexer.runner.cpuCoreInMicro", Type: TypeInt, Default: "0", Group: GroupKubernetes, Origin: "apache/druid#16008", check: atLeast(0),
		Doc: "CPU request and limit of the peon container in millicores; 0 means 1000 (one core)."},
	{Name: "druid.indexer.runner.labels", Type: TypeJSONObject, Default: "{}", Group: GroupKubernetes, Origin: "Druid Kubernetes runner",
		Doc: "Extra labels for task Jobs and pods, as a JSON object; druid.indexer.runner.labels.<name> adds one more."},
	{Name: "druid.indexer.runner.labels.<name>", Pattern: true, Type: TypeString, Group: GroupKubernetes, Origin: "Druid Kubernetes runner",
		Doc: "One extra label; the JSON object form wins where both name the same label."},
	{Name: "druid.indexer.runner.annotations", Type: TypeJSONObject, Default: "{}", Group: GroupKubernetes, Origin: "Druid Kubernetes runner",
		Doc: "Extra annotations for task Jobs and pods, as a JSON object; druid.indexer.runner.annotations.<name> adds one more."},
	{Name: "druid.indexer.runner.annotations.<name>", Pattern: true, Type: TypeString, Group: GroupKubernetes, Origin: "Druid Kubernetes runner",
		Doc: "One extra annotation; the JSON object form wins where both name the same annotation."},
	{Name: "druid.indexer.runner.graceTerminationPeriodSeconds", Type: TypeLong, Group: GroupKubernetes, Origin: "Druid Kubernetes runner", check: atLeast(0),
		Doc: "Seconds a task pod gets after SIGTERM (terminationGracePeriodSeconds). Unset: the Kubernetes default, 30."},
	{Name: "druid.indexer.runner.capacity", Type: TypeInt, Default: "2147483647", Group: GroupKubernetes, Origin: "Druid Kubernetes runner; live through the execution config: apache/druid#18591", check: atLeast(1),
		Doc: "Most Kubernetes tasks running at once (at least 1)."},
	{Name: "druid.indexer.runner.useK8sSharedInformers", Type: TypeBool, Default: "false", Group: GroupKubernetes, Origin: "apache/druid#18599",
		Doc: "Druid 36+: track Jobs and pods through shared informers. taskgate always uses informers; accepted for compatibility."},
	{Name: "druid.indexer.runner.k8sSharedInformerResyncPeriod", Type: TypeDuration, Group: GroupKubernetes, Origin: "apache/druid#18599",
		Doc: "Resync period of the shared informers. Unset: the gateway's own informer default."},
	{Name: "druid.indexer.runner.k8s.adapter.type", Type: TypeString, Group: GroupKubernetes, Origin: "apache/druid#13966",
		Allowed: []string{"overlordSingleContainer", "overlordMultiContainer", "customTemplateAdapter"},
		Doc:     "How task pod specs are built. Unset: overlordSingleContainer (overlordMultiContainer when sidecarSupport is true)."},
	{Name: podTemplateKey + "<taskType>", Pattern: true, Type: TypeString, Group: GroupKubernetes, Origin: "apache/druid#13896, #13966; selection keys #16510; re-read per task #17701",
		Doc: "Pod template file for customTemplateAdapter: base (required), a task type such as index_kafka, or a selection key of the dynamic config."},

	// k8sAndWorker runner (KubernetesAndWorkerTaskRunnerConfig, TaskTypeRunnerStrategy).
	{Name: strategyPrefix + "type", Type: TypeString, Default: "k8s", Group: GroupHybrid, Origin: "apache/druid#15196",
		Allowed: []string{"k8s", "worker", "taskType"},
		Doc:     "Which runner new tasks go to: all to k8s, all to worker, or by taskType."},
	{Name: strategyPrefix + "workerType", Type: TypeString, Default: "httpRemote", Group: GroupHybrid, Origin: "apache/druid#14918, #15196",
		Allowed: []string{"httpRemote", "remote"},
		Doc:     "Kind of worker runner for Middle Managers and Indexers."},
	{Name: strategyPrefix + "taskType.default", Type: TypeString, Group: GroupHybrid, Origin: "apache/druid#15196",
		Allowed: runnerNames,
		Doc:     "Runner for task types without an override; required when the strategy type is taskType."},
	{Name: keyOverrides, Type: TypeJSONObject, Default: "{}", Group: GroupHybrid, Origin: "apache/druid#15196", check: checkOverrides,
		Doc: "Runner per task type, as a JSON object such as {\"index_kafka\":\"worker\"}; values are k8s or worker."},
	{Name: "druid.indexer.runner.k8sAndWorker.http.httpClientType", Type: TypeString, Default: "vertx", Group: GroupHybrid, Origin: "apache/druid#18540",
		Allowed: []string{"vertx", "okhttp", "jdk"},
		Doc:     "Druid only: HTTP client library of Druid's Kubernetes client; accepted and ignored by taskgate."},
	{Name: "druid.indexer.runner.k8sAndWorker.http.workerPoolSize", Type: TypeInt, Group: GroupHybrid, Origin: "apache/druid#17913, #18540", check: atLeast(1),
		Doc: "Druid only: vert.x worker pool size of Druid's Kubernetes client; accepted and ignored."},
	{Name: "druid.indexer.runner.k8sAndWorker.http.eventLoopPoolSize", Type: TypeInt, Group: GroupHybrid, Origin: "apache/druid#17913, #18540", check: atLeast(1),
		Doc: "Druid only: vert.x event loop pool size of Druid's Kubernetes client; accepted and ignored."},
	{Name: "druid.indexer.runner.k8sAndWorker.http.internalBlockingPoolSize", Type: TypeInt, Group: GroupHybrid, Origin: "apache/druid#17913, #18540", check: atLeast(1),
		Doc: "Druid only: vert.x internal blocking pool size of Druid's Kubernetes client; accepted and ignored."},

	// Worker runner (HttpRemoteTaskRunnerConfig / RemoteTaskRunnerConfig / WorkerTaskRunnerConfig).
	{Name: "druid.indexer.runner.taskAssignmentTimeout", Type: TypeDuration, Default: "PT5M", Group: GroupWorkerRunner, Origin: "Druid core (httpRemote runner)",
		Doc: "Longest wait for a worker to acknowledge a task assignment."},
	{Name: "druid.indexer.runner.taskCleanupTimeout", Type: TypeDuration, Default: "PT15M", Group: GroupWorkerRunner, Origin: "Druid core (httpRemote runner)",
		Doc: "How long after a worker disappears its tasks are failed."},
	{Name: "druid.indexer.runner.pendingTasksRunnerNumThreads", Type: TypeInt, Default: "1", Group: GroupWorkerRunner, Origin: "Druid core (httpRemote runner)", check: atLeast(1),
		Doc: "Threads assigning pending tasks to workers."},
	{Name: "druid.indexer.runner.maxRetriesBeforeBlacklist", Type: TypeInt, Default: "5", Group: GroupWorkerRunner, Origin: "Druid core (httpRemote runner)", check: atLeast(1),
		Doc: "Consecutive task failures on a worker before it is blacklisted."},
	{Name: "druid.indexer.runner.workerBlackListBackoffTime", Type: TypeDuration, Default: "PT15M", Group: GroupWorkerRunner, Origin: "Druid core (httpRemote runner)",
		Doc: "How long a blacklisted worker stays blacklisted."},
	{Name: "druid.indexer.runner.workerBlackListCleanupPeriod", Type: TypeDuration, Default: "PT5M", Group: GroupWorkerRunner, Origin: "Druid core (httpRemote runner)",
		Doc: "How often blacklisted workers are reviewed."},
	{Name: "druid.indexer.runner.maxPercentageBlacklistWorkers", Type: TypeInt, Default: "20", Group: GroupWorkerRunner, Origin: "Druid core (httpRemote runner)", check: between(0, 100),
		Doc: "Most workers that may be blacklisted, in percent of all workers (0-100)."},
	{Name: "druid.indexer.runner.workerSyncNumThreads", Type: TypeInt, Default: "5", Group: GroupWorkerRunner, Origin: "Druid core (httpRemote runner)", check: atLeast(1),
		Doc: "Threads syncing state from workers."},
	{Name: "druid.indexer.runner.shutdownRequestMaxRetries", Type: TypeInt, Default: "3", Group: GroupWorkerRunner, Origin: "Druid core (httpRemote runner)", check: atLeast(0),
		Doc: "Attempts per task shutdown request to a worker."},
	{Name: "druid.indexer.runner.shutdownRequestHttpTimeout", Type: TypeDuration, Default: "PT1M", Group: GroupWorkerRunner, Origin: "Druid core (httpRemote runner)",
		Doc: "HTTP timeout of one shutdown request."},
	{Name: "druid.indexer.runner.assignRequestMaxRetries", Type: TypeInt, Default: "3", Group: GroupWorkerRunner, Origin: "Druid core (httpRemote runner)", check: atLeast(0),
		Doc: "Attempts per task assignment request to a worker."},
	{Name: "druid.indexer.runner.assignRequestHttpTimeout", Type: TypeDuration, Default: "PT1M", Group: GroupWorkerRunner, Origin: "Druid core (httpRemote runner)",
		Doc: "HTTP timeout of one assignment request."},
	{Name: "druid.indexer.runner.syncRequestTimeout", Type: TypeDuration, Default: "PT3M", Group: GroupWorkerRunner, Origin: "Druid core (httpRemote runner)",
		Doc: "Long-poll timeout sent to workers in sync requests (the client waits 5 s longer)."},
	{Name: "druid.indexer.runner.serverUnstabilityTimeout", Type: TypeDuration, Default: "PT1M", Group: GroupWorkerRunner, Origin: "Druid core (httpRemote runner)",
		Doc: "How long sync failures with a worker are logged quietly before they are reported as errors."},
	{Name: "druid.indexer.runner.minWorkerVersion", Type: TypeString, Default: "0", Group: GroupWorkerRunner, Origin: "Druid core (httpRemote runner)",
		Doc: "Workers whose version compares lower (as strings) get no tasks."},
	{Name: "druid.indexer.runner.parallelIndexTaskSlotRatio", Type: TypeFloat, Group: GroupWorkerRunner, Origin: "Druid core (httpRemote runner)", check: fractionCheck,
		Doc: "Share (0-1) of a worker's slots usable by index_parallel supervisor tasks. Unset: Druid's default (docs: 1)."},
	{Name: "druid.indexer.runner.parallelIndexWorkerRatio", Type: TypeFloat, Group: GroupWorkerRunner, Origin: "Druid core (httpRemote runner)", check: fractionCheck,
		Doc: "Older name of parallelIndexTaskSlotRatio."},
	{Name: "druid.indexer.runner.taskShutdownLinkTimeout", Type: TypeDuration, Default: "PT1M", Group: GroupWorkerRunner, Origin: "Druid core (ZooKeeper remote runner)",
		Doc: "ZooKeeper remote runner only: timeout of a task shutdown call; accepted and ignored by taskgate."},
	{Name: "druid.indexer.runner.maxZnodeBytes", Type: TypeString, Group: GroupWorkerRunner, Origin: "Druid core (ZooKeeper remote runner)",
		Doc: "ZooKeeper remote runner only: largest znode written (default 512KiB); accepted and ignored by taskgate."},
	{Name: "druid.indexer.runner.compressZnodes", Type: TypeBool, Group: GroupWorkerRunner, Origin: "Druid core (ZooKeeper remote runner)",
		Doc: "ZooKeeper remote runner only: compress znodes; accepted and ignored by taskgate."},

	// Runner selection and task directories.
	{Name: "druid.indexer.runner.type", Type: TypeString, Default: "httpRemote", Group: GroupTask, Origin: "Druid core",
		Doc: "Task runner: k8s (Kubernetes Jobs), k8sAndWorker (Kubernetes and Middle Managers, see the runnerStrategy properties), or a worker runner (httpRemote, remote)."},
	{Name: "druid.indexer.task.baseDir", Type: TypeString, Group: GroupTask, Origin: "Druid core (TaskConfig)",
		Doc: "Base directory for task files on the peon. Unset: the JVM's java.io.tmpdir (/tmp in Druid's image)."},
	{Name: "druid.indexer.task.baseTaskDir", Type: TypeString, Group: GroupTask, Origin: "Druid core (TaskConfig)",
		Doc: "Task directory on the peon, passed as TASK_DIR and to peon.sh. Unset: ${druid.indexer.task.baseDir}/persistent/task."},
	{Name: "druid.indexer.task.encapsulatedTask", Type: TypeBool, Default: "false", Group: GroupTask, Origin: "Druid core (TaskConfig)",
		Doc: "Must be true for Kubernetes tasks: peons report status through the task log store."},

	// Task logs (where peons write status.json and logs).
	{Name: "druid.indexer.logs.type", Type: TypeString, Default: "file", Group: GroupTaskLogs, Origin: "Druid core (task logs)",
		Doc: "Task log store: file or s3 for taskgate (Druid also has noop, hdfs, google, azure)."},
	{Name: "druid.indexer.logs.directory", Type: TypeString, Default: "log", Group: GroupTaskLogs, Origin: "Druid core (file task logs)",
		Doc: "Directory of the file task log store."},
	{Name: "druid.indexer.logs.s3Bucket", Type: TypeString, Group: GroupTaskLogs, Origin: "druid-s3-extensions",
		Doc: "Bucket of the s3 task log store."},
	{Name: "druid.indexer.logs.s3Prefix", Type: TypeString, Group: GroupTaskLogs, Origin: "druid-s3-extensions",
		Doc: "Key prefix of the s3 task log store."},
	// Druid discovery and internal client properties the worker runner reads.
	{Name: "druid.discovery.type", Type: TypeString, Default: "curator", Group: GroupWorkerRunner, Origin: "Druid core",
		Doc: "How Middle Managers are found: k8s (druid-kubernetes-extensions pod annotations) or curator (ZooKeeper, not supported: use taskgate.worker.urls)."},
	{Name: "druid.discovery.k8s.clusterIdentifier", Type: TypeString, Group: GroupWorkerRunner, Origin: "druid-kubernetes-extensions",
		Doc: "Druid cluster name in the discovery pod labels; required for druid.discovery.type=k8s."},
	{Name: "druid.discovery.k8s.podNamespaceEnvKey", Type: TypeString, Default: "POD_NAMESPACE", Group: GroupWorkerRunner, Origin: "druid-kubernetes-extensions",
		Doc: "Environment variable holding the namespace to discover pods in."},
	{Name: "druid.escalator.internalClientUsername", Type: TypeString, Group: GroupWorkerRunner, Origin: "Druid core (escalator)",
		Doc: "User for HTTP Basic calls to Middle Managers (Druid's escalator)."},
	{Name: "druid.escalator.internalClientPassword", Type: TypeString, Group: GroupWorkerRunner, Origin: "Druid core (escalator)",
		Doc: "Password for HTTP Basic calls to Middle Managers."},

	// taskgate's own properties.
	{Name: "taskgate.dynconfig.store", Type: TypeString, Default: "file", Allowed: []string{"file", "configmap"}, Group: GroupTaskgate, Origin: "taskgate",
		Doc: "Where the dynamic execution config and its audit history live: a local file, or a ConfigMap shared by all replicas."},
	{Name: "taskgate.dynconfig.file", Type: TypeString, Default: "var/taskgate/dynamic-config.json", Group: GroupTaskgate, Origin: "taskgate",
		Doc: "File of the file store (written crash-safely)."},
	{Name: "taskgate.dynconfig.maxHistory", Type: TypeInt, Group: GroupTaskgate, Origin: "taskgate", check: atLeast(1),
		Doc: "Audit entries kept. Unset: 1000 for the file store, 200 for the ConfigMap store."},
	{Name: "taskgate.dynconfig.configmap.name", Type: TypeString, Default: "taskgate-dynamic-config", Group: GroupTaskgate, Origin: "taskgate",
		Doc: "Name of the ConfigMap store's ConfigMap."},
	{Name: "taskgate.dynconfig.configmap.namespace", Type: TypeString, Group: GroupTaskgate, Origin: "taskgate",
		Doc: "Namespace of the ConfigMap store. Unset: druid.indexer.runner.namespace."},
	{Name: "taskgate.dynconfig.configmap.maxHistoryBytes", Type: TypeInt, Default: "262144", Group: GroupTaskgate, Origin: "taskgate", check: atLeast(1),
		Doc: "Byte cap of the audit history kept in the ConfigMap (at most 786432)."},
	{Name: "taskgate.k8s.sourcePod", Type: TypeString, Group: GroupTaskgate, Origin: "taskgate",
		Doc: "Pod whose spec the overlord adapters copy. Unset: the gateway's own pod (POD_NAME, then HOSTNAME)."},
	{Name: "taskgate.k8s.clientQPS", Type: TypeFloat, Default: "50", Group: GroupTaskgate, Origin: "taskgate",
		Doc: "Kubernetes client requests per second (client-go QPS)."},
	{Name: "taskgate.k8s.clientBurst", Type: TypeInt, Default: "100", Group: GroupTaskgate, Origin: "taskgate", check: atLeast(1),
		Doc: "Kubernetes client burst (client-go Burst)."},
	{Name: "taskgate.k8s.workers", Type: TypeInt, Default: "4", Group: GroupTaskgate, Origin: "taskgate", check: between(1, 64),
		Doc: "Workers reconciling task state from the shared Job and Pod informers (not per task)."},
	{Name: "taskgate.k8s.statusWaitTimeout", Type: TypeDuration, Default: "PT30S", Group: GroupTaskgate, Origin: "taskgate, for apache/druid#17848",
		Doc: "How long a succeeded Job waits for a late status.json before the task is FAILED (apache/druid#17848)."},
	{Name: "taskgate.k8s.imagePullFailFast", Type: TypeDuration, Default: "PT2M", Group: GroupTaskgate, Origin: "taskgate, for apache/druid#18159",
		Doc: "A peon pod that cannot pull its image for this long fails the task and its Job is deleted, instead of waiting for the launch timeout (pending-pod diagnosis, apache/druid#18159, #14425, #15527)."},
	{Name: "taskgate.k8s.ownerId", Type: TypeString, Group: GroupTaskgate, Origin: "taskgate, with apache/druid#17738, #17898",
		Doc: "Value of the taskgate.io/owner label on every Job and pod this gateway starts; it only sees, counts, cleans up and restores Jobs with it, so gateways (or a gateway and a Druid Overlord) can share a task namespace. Replicas of one gateway must share it. Unset: druid.indexer.runner.overlordNamespace, else druid.indexer.runner.namespace (as a label value). Stop all tasks before changing it."},
	{Name: "taskgate.k8s.adoptDruidJobs", Type: TypeBool, Default: "true", Group: GroupTaskgate, Origin: "taskgate",
		Doc: "At start, take over peon Jobs without a taskgate.io/owner label (started by Druid's own Kubernetes runner, or a taskgate without owner labels) whose druid.overlord.namespace label, if any, names this gateway's namespace: they are labelled with the owner id and tracked to completion. Set false when a Druid Overlord with the Kubernetes runner still runs tasks in the namespace without druid.indexer.runner.overlordNamespace."},
	{Name: "taskgate.k8s.podTemplateReloadPeriod", Type: TypeDuration, Default: "PT10S", Group: GroupTaskgate, Origin: "taskgate, with apache/druid#17701",
		Doc: "How often pod template files are looked at for edits (a ConfigMap mount's symlink swap included), besides at each task. A file that does not parse or fails the lint is refused: the last good template stays in use, and the error is logged, counted (taskgate.k8s.template.reload.errors) and shown at /taskgate/v1/k8s/podTemplates/status. PT0S: only at each task."},
	{Name: "taskgate.k8s.completedRetention", Type: TypeDuration, Default: "PT1H", Group: GroupTaskgate, Origin: "taskgate",
		Doc: "How long completed tasks stay in listings."},
	{Name: "taskgate.k8s.completedMax", Type: TypeInt, Default: "10000", Group: GroupTaskgate, Origin: "taskgate", check: atLeast(1),
		Doc: "At most this many completed tasks are kept for listings."},
	{Name: "taskgate.worker.urls", Type: TypeString, Group: GroupTaskgate, Origin: "taskgate",
		Doc: "Static Middle Manager list: JSON array of base URLs or {\"url\",\"capacity\",\"category\",\"version\"} objects (Druid has no static list)."},
	{Name: "taskgate.worker.defaultCapacity", Type: TypeInt, Default: "1", Group: GroupTaskgate, Origin: "taskgate", check: atLeast(1),
		Doc: "Capacity of a static worker given as a bare URL (a Middle Manager does not report it over HTTP)."},
	{Name: "taskgate.worker.selectStrategy", Type: TypeString, Group: GroupTaskgate, Origin: "taskgate",
		Doc: "Druid's worker selectStrategy JSON (equalDistribution, fillCapacity, ...WithCategorySpec; affinityConfig, taskLimits). Unset: equalDistribution."},
	{Name: "taskgate.worker.k8s.namespace", Type: TypeString, Group: GroupTaskgate, Origin: "taskgate",
		Doc: "Namespace where Kubernetes discovery lists Middle Manager pods. Unset: the namespace in the podNamespaceEnvKey variable."},
	{Name: "taskgate.worker.completedRetention", Type: TypeDuration, Default: "PT1H", Group: GroupTaskgate, Origin: "taskgate",
		Doc: "How long finished worker tasks stay in listings."},
	{Name: "taskgate.worker.completedMax", Type: TypeInt, Default: "10000", Group: GroupTaskgate, Origin: "taskgate", check: atLeast(1),
		Doc: "At most this many finished worker tasks are kept for listings."},
	{Name: "taskgate.auth.enabled", Type: TypeBool, Default: "false", Group: GroupTaskgate, Origin: "taskgate",
		Doc: "Require authentication (HTTP Basic or bearer token) and Druid-style authorization on the API; see docs/security.md."},
	{Name: "taskgate.auth.file", Type: TypeString, Group: GroupTaskgate, Origin: "taskgate",
		Doc: "Users, tokens and roles file (YAML or JSON); required when auth is enabled."},
	{Name: "taskgate.auth.realm", Type: TypeString, Default: "taskgate", Group: GroupTaskgate, Origin: "taskgate",
		Doc: "Realm named in WWW-Authenticate challenges."},
	{Name: "taskgate.auth.unsecuredPaths", Type: TypeJSONArray, Default: "[]", Group: GroupTaskgate, Origin: "taskgate",
		Doc: "Exact paths served without authentication, like Druid's druid.auth.unsecuredPaths (e.g. [\"/metrics\"])."},
	{Name: "taskgate.api.tls.certFile", Type: TypeString, Group: GroupTaskgate, Origin: "taskgate",
		Doc: "PEM certificate of the HTTPS API; set with keyFile to serve TLS."},
	{Name: "taskgate.api.tls.keyFile", Type: TypeString, Group: GroupTaskgate, Origin: "taskgate",
		Doc: "PEM private key of the HTTPS API."},
	{Name: "taskgate.api.tls.clientCAFile", Type: TypeString, Group: GroupTaskgate, Origin: "taskgate",
		Doc: "PEM CA bundle for client certificates."},
	{Name: "taskgate.api.tls.clientAuth", Type: TypeString, Allowed: []string{"none", "request", "verifyIfGiven", "require"}, Group: GroupTaskgate, Origin: "taskgate",
		Doc: "Client certificate policy. Unset: require when a client CA is set, else none."},
	{Name: "taskgate.journal.dir", Type: TypeString, Group: GroupTaskgate, Origin: "taskgate",
		Doc: "Directory where accepted tasks are kept until they start (a runner may hold a queued task only in memory), so a gateway restart loses none. Unset: \"pending\" next to taskgate.dynconfig.file with the file store, var/taskgate/pending with the ConfigMap store. In Kubernetes, put it on a volume that outlives the container."},
	{Name: "taskgate.migration.window", Type: TypeDuration, Default: "PT1H", Group: GroupTaskgate, Origin: "taskgate",
		Doc: "Sliding window of the migration view (GET /taskgate/v1/migration) and of the routing rules' rollback guards."},
	{Name: "taskgate.workerApi.listen", Type: TypeString, Group: GroupTaskgate, Origin: "taskgate",
		Doc: "host:port to serve Druid's Middle Manager API on, so an unmodified Overlord (runner type httpRemote) can use the gateway as its worker. Unset: off. With taskgate.auth.enabled it needs credentials with STATE READ/WRITE (the Overlord's escalator user), as a Middle Manager's endpoints do."},
	{Name: "taskgate.workerApi.host", Type: TypeString, Group: GroupTaskgate, Origin: "taskgate",
		Doc: "host:port the Overlord reaches the worker API at (the worker's announced host). Unset: druid.host with the listen port."},
	{Name: "taskgate.workerApi.capacity", Type: TypeInt, Default: "1000", Group: GroupTaskgate, Origin: "taskgate", check: atLeast(1),
		Doc: "Worker capacity announced to the Overlord: how many tasks it may assign at once. taskgate's runners queue beyond their own slots."},
	{Name: "taskgate.workerApi.category", Type: TypeString, Default: "_default_worker_category", Group: GroupTaskgate, Origin: "taskgate",
		Doc: "Worker category announced to the Overlord."},
	{Name: "taskgate.workerApi.version", Type: TypeString, Default: "0", Group: GroupTaskgate, Origin: "taskgate",
		Doc: "druid.worker.version announced to the Overlord; must be at least its minWorkerVersion."},
	{Name: "taskgate.workerApi.announce", Type: TypeBool, Default: "false", Group: GroupTaskgate, Origin: "taskgate, with druid-kubernetes-extensions",
		Doc: "Announce the gateway as a middleManager through Druid's Kubernetes discovery: patch the gateway's own pod (POD_NAME, POD_NAMESPACE env) with the discovery labels and annotation for taskgate.workerApi.clusterIdentifier."},
	{Name: "taskgate.workerApi.clusterIdentifier", Type: TypeString, Group: GroupTaskgate, Origin: "taskgate, with druid-kubernetes-extensions",
		Doc: "The Overlord's druid.discovery.k8s.clusterIdentifier, under which the gateway announces itself. Must differ from druid.discovery.k8s.clusterIdentifier when the gateway discovers its Middle Managers through Kubernetes (it would find itself)."},
	{Name: "druid.indexer.logs.disableAcl", Type: TypeBool, Default: "false", Group: GroupTaskLogs, Origin: "druid-s3-extensions",
		Doc: "s3 task log store: do not set an ACL on uploaded objects."},
	{Name: "druid.s3.endpoint.url", Type: TypeString, Group: GroupTaskLogs, Origin: "druid-s3-extensions",
		Doc: "S3 endpoint (e.g. a MinIO URL). Unset: AWS."},
	{Name: "druid.s3.endpoint.signingRegion", Type: TypeString, Group: GroupTaskLogs, Origin: "druid-s3-extensions",
		Doc: "S3 signing region for a custom endpoint."},
	{Name: "druid.s3.protocol", Type: TypeString, Default: "https", Allowed: []string{"http", "https"}, Group: GroupTaskLogs, Origin: "druid-s3-extensions",
		Doc: "Protocol for an S3 endpoint given without a scheme."},
	{Name: "druid.s3.enablePathStyleAccess", Type: TypeBool, Default: "false", Group: GroupTaskLogs, Origin: "druid-s3-extensions",
		Doc: "Use path-style S3 URLs (needed by most S3-compatible servers)."},
	{Name: "druid.s3.accessKey", Type: TypeString, Group: GroupTaskLogs, Origin: "druid-s3-extensions",
		Doc: "S3 access key, plain or a Druid password provider JSON ({\"type\":\"environment\",\"variable\":\"...\"})."},
	{Name: "druid.s3.secretKey", Type: TypeString, Group: GroupTaskLogs, Origin: "druid-s3-extensions",
		Doc: "S3 secret key, plain or a Druid password provider JSON."},
	{Name: "druid.s3.fileSessionCredentials", Type: TypeString, Group: GroupTaskLogs, Origin: "druid-s3-extensions",
		Doc: "Path of a properties file with S3 session credentials, used when no keys are set."},
}

func fractionCheck(v string) error {
	f, _ := parseFloat(v)
	if f < 0 || f > 1 {
		return fmt.Errorf("must be between 0 and 1, got %v", f)
	}
	return nil
}
