package adapters

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Property names, Druid's (KubernetesTaskRunnerStaticConfig under
// druid.indexer.runner, TaskConfig under druid.indexer.task, DruidNode).
const (
	PropAdapterType                   = "druid.indexer.runner.k8s.adapter.type"
	PropPodTemplatePrefix             = "druid.indexer.runner.k8s.podTemplate."
	PropSidecarSupport                = "druid.indexer.runner.sidecarSupport"
	PropNamespace                     = "druid.indexer.runner.namespace"
	PropOverlordNamespace             = "druid.indexer.runner.overlordNamespace"
	PropK8sTaskPodNamePrefix          = "druid.indexer.runner.k8sTaskPodNamePrefix"
	PropDebugJobs                     = "druid.indexer.runner.debugJobs"
	PropPrimaryContainerName          = "druid.indexer.runner.primaryContainerName"
	PropKubexitImage                  = "druid.indexer.runner.kubexitImage"
	PropGraceTerminationPeriodSeconds = "druid.indexer.runner.graceTerminationPeriodSeconds"
	PropDisableClientProxy            = "druid.indexer.runner.disableClientProxy"
	PropMaxTaskDuration               = "druid.indexer.runner.maxTaskDuration"
	PropTaskCleanupDelay              = "druid.indexer.runner.taskCleanupDelay"
	PropPeonMonitors                  = "druid.indexer.runner.peonMonitors"
	PropJavaOptsArray                 = "druid.indexer.runner.javaOptsArray"
	PropJavaOpts                      = "druid.indexer.runner.javaOpts"
	PropCPUCoreInMicro                = "druid.indexer.runner.cpuCoreInMicro"
	PropLabels                        = "druid.indexer.runner.labels"
	PropAnnotations                   = "druid.indexer.runner.annotations"
	PropTaskBaseDir                   = "druid.indexer.task.baseDir"
	PropTaskBaseTaskDir               = "druid.indexer.task.baseTaskDir"
	PropEnableTLSPort                 = "druid.enableTlsPort"
	// PropAllowTaskPodTemplateSelection is Druid's opt-in (apache/druid#19419)
	// for the podTemplateSelectionKey task context key; default false.
	PropAllowTaskPodTemplateSelection = "druid.indexer.runner.allowTaskPodTemplateSelection"

	// PropOwnerID is taskgate's: the value of the LabelOwner label on every
	// Job and pod this gateway starts. Unset: DefaultOwnerID.
	PropOwnerID = "taskgate.k8s.ownerId"
	// PropTemplateReloadPeriod is taskgate's: how often WatchTemplates looks
	// for edited pod template files (ISO-8601; PT0S: only when a task or a
	// status request needs them).
	PropTemplateReloadPeriod = "taskgate.k8s.podTemplateReloadPeriod"
)

// DefaultTemplateReloadPeriod is the default of PropTemplateReloadPeriod:
// a handful of stat calls, so a bad edit is reported within seconds even
// when no task comes in.
const DefaultTemplateReloadPeriod = 10 * time.Second

// PropertyGetter is where ConfigFromProperties reads runtime properties.
// Keys returns every key that starts with prefix (full keys, any order); it
// finds the druid.indexer.runner.k8s.podTemplate.<key> properties.
type PropertyGetter interface {
	Get(key string) (string, bool)
	Keys(prefix string) []string
}

// MapProperties is a PropertyGetter over a map, for tests and callers that
// already hold the properties.
type MapProperties map[string]string

// Get returns the value of key.
func (m MapProperties) Get(key string) (string, bool) {
	v, ok := m[key]
	return v, ok
}

// Keys returns the keys that start with prefix, sorted.
func (m MapProperties) Keys(prefix string) []string {
	var out []string
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Config says how tasks become Jobs. The zero value is not usable; start from
// DefaultConfig or ConfigFromProperties. Each field names the property it
// comes from.
type Config struct {
	// AdapterType is druid.indexer.runner.k8s.adapter.type: TypeSingleContainer
	// (default), TypeMultiContainer or TypeCustomTemplate.
	AdapterType string
	// SidecarSupport is the deprecated druid.indexer.runner.sidecarSupport;
	// true means TypeMultiContainer, as in Druid.
	SidecarSupport bool
	// Namespace is druid.indexer.runner.namespace, where Jobs run. Used here
	// only for the druid.overlord.namespace label.
	Namespace string
	// OverlordNamespace is druid.indexer.runner.overlordNamespace; when set it
	// is the druid.overlord.namespace label value instead of Namespace.
	OverlordNamespace string
	// K8sTaskPodNamePrefix is druid.indexer.runner.k8sTaskPodNamePrefix; when
	// set it replaces the task id as the readable head of Job names.
	K8sTaskPodNamePrefix string
	// DebugJobs is druid.indexer.runner.debugJobs: keep finished Jobs. Jobs
	// then get no ttlSecondsAfterFinished.
	DebugJobs bool
	// PrimaryContainerName is druid.indexer.runner.primaryContainerName: the
	// source pod's container that becomes the peon ("main"); default the first.
	PrimaryContainerName string
	// KubexitImage is druid.indexer.runner.kubexitImage (overlordMultiContainer);
	// default DefaultKubexitImage.
	KubexitImage string
	// GraceTerminationPeriodSeconds is
	// druid.indexer.runner.graceTerminationPeriodSeconds; nil leaves the
	// Kubernetes default (30s). The overlord adapters always set the pod's
	// terminationGracePeriodSeconds to this, as Druid does.
	GraceTerminationPeriodSeconds *int64
	// DisableClientProxy is druid.indexer.runner.disableClientProxy. Druid
	// applies it only to the Overlord's own Kubernetes client (HTTP(S) proxy
	// settings), never to the Job; it is read here so the runner finds every
	// druid.indexer.runner.* adapter setting in one place.
	DisableClientProxy bool
	// MaxTaskDuration is druid.indexer.runner.maxTaskDuration (ISO-8601,
	// default PT4H): the Job's activeDeadlineSeconds.
	MaxTaskDuration time.Duration
	// TaskCleanupDelay is druid.indexer.runner.taskCleanupDelay (ISO-8601,
	// default P2D): the Job's ttlSecondsAfterFinished unless DebugJobs.
	TaskCleanupDelay time.Duration
	// PeonMonitors is druid.indexer.runner.peonMonitors (JSON array); when
	// non-empty it replaces the source pod's druid_monitoring_monitors.
	PeonMonitors []string
	// JavaOptsArray is druid.indexer.runner.javaOptsArray (JSON array): JVM
	// options of every peon, before the task context's own.
	JavaOptsArray []string
	// CPUCoreInMicro is druid.indexer.runner.cpuCoreInMicro: the peon's CPU in
	// millicores (Druid's name notwithstanding); 0 means 1000.
	CPUCoreInMicro int
	// Labels is druid.indexer.runner.labels (JSON object): extra Job and pod labels.
	Labels map[string]string
	// Annotations is druid.indexer.runner.annotations (JSON object): extra Job
	// annotations (and pod annotations for the overlord adapters, as Druid).
	Annotations map[string]string
	// PodTemplates maps a template key to the PodTemplate YAML file of
	// druid.indexer.runner.k8s.podTemplate.<key> (customTemplateAdapter);
	// "base" is required there.
	PodTemplates map[string]string
	// BaseDir is druid.indexer.task.baseDir (default /tmp, the JVM's
	// java.io.tmpdir on Linux): TASK_DIR for customTemplateAdapter, as Druid.
	BaseDir string
	// BaseTaskDir is druid.indexer.task.baseTaskDir; empty means
	// <BaseDir>/persistent/task, as Druid. A relative path is resolved against
	// /opt/druid, the working directory of Druid's image. The overlord
	// adapters' TASK_DIR is <BaseTaskDir>/<task id>.
	BaseTaskDir string
	// EnableTLSPort is druid.enableTlsPort: the tls.enabled annotation and the
	// peon's TLS port options.
	EnableTLSPort bool
	// AllowTaskPodTemplateSelection is
	// druid.indexer.runner.allowTaskPodTemplateSelection (default false, from
	// apache/druid#19419): when true, customTemplateAdapter lets a task's
	// ContextPodTemplateSelectionKey name its pod template, ahead of the
	// selector, and fails the task when no such template is configured.
	AllowTaskPodTemplateSelection bool
	// OwnerID is taskgate.k8s.ownerId: the LabelOwner value put on every Job
	// and pod. Empty leaves the label off (Druid's own Jobs look like that);
	// ConfigFromProperties always fills it, with DefaultOwnerID when unset.
	OwnerID string
	// TemplateReloadPeriod is taskgate.k8s.podTemplateReloadPeriod: how
	// often WatchTemplates re-reads edited pod template files. Zero leaves
	// the re-reading to the next task (as Druid, apache/druid#17701) and to
	// status requests.
	TemplateReloadPeriod time.Duration
}

// DefaultOwnerID is the owner id when taskgate.k8s.ownerId is not set: the
// namespace Druid uses to tell clusters apart (apache/druid#17738), that is
// druid.indexer.runner.overlordNamespace, else druid.indexer.runner.namespace,
// made a valid label value. Every replica of one gateway derives the same
// id, and it does not change across restarts; two gateways whose tasks share
// a namespace need different overlordNamespace or ownerId values.
func DefaultOwnerID(overlordNamespace, namespace string) string {
	if ns := strings.TrimSpace(overlordNamespace); ns != "" {
		return LabelValue(ns)
	}
	return LabelValue(strings.TrimSpace(namespace))
}

// ValidateOwnerID checks an owner id: it must be a non-empty label value.
func ValidateOwnerID(id string) error {
	if id == "" {
		return errors.New("must not be empty")
	}
	if msgs := validation.IsValidLabelValue(id); len(msgs) > 0 {
		return fmt.Errorf("%q is not a valid label value: %s", id, strings.Join(msgs, "; "))
	}
	return nil
}

// DefaultConfig returns Druid's defaults.
func DefaultConfig() Config {
	return Config{
		AdapterType:      TypeSingleContainer,
		KubexitImage:     DefaultKubexitImage,
		MaxTaskDuration:  4 * time.Hour,
		TaskCleanupDelay: 48 * time.Hour,
		BaseDir:          "/tmp",

		TemplateReloadPeriod: DefaultTemplateReloadPeriod,
	}
}

// Validate checks the config and names the property at fault.
func (c Config) Validate() error {
	var errs []error
	bad := func(prop, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", prop, fmt.Sprintf(format, args...)))
	}
	switch c.AdapterType {
	case TypeSingleContainer, TypeCustomTemplate:
		if c.SidecarSupport {
			bad(PropAdapterType, "is %q, but %s=true needs %q (Druid rejects this combination too)", c.AdapterType, PropSidecarSupport, TypeMultiContainer)
		}
	case TypeMultiContainer:
		if c.KubexitImage == "" {
			bad(PropKubexitImage, "must not be empty for %s", TypeMultiContainer)
		}
	default:
		bad(PropAdapterType, "unknown adapter type %q; use %s, %s or %s", c.AdapterType, TypeSingleContainer, TypeMultiContainer, TypeCustomTemplate)
	}
	if c.AdapterType == TypeCustomTemplate {
		if c.PodTemplates[BaseTemplateKey] == "" {
			bad(PropPodTemplatePrefix+BaseTemplateKey, "is required when %s=%s: it is the template every task without its own falls back to", PropAdapterType, TypeCustomTemplate)
		}
	}
	for key, file := range c.PodTemplates {
		if err := validTemplateKey(key); err != nil {
			bad(PropPodTemplatePrefix+key, "%v", err)
		}
		if file == "" {
			bad(PropPodTemplatePrefix+key, "file path is empty")
		}
	}
	if c.MaxTaskDuration < time.Second {
		bad(PropMaxTaskDuration, "must be at least one second, got %s", c.MaxTaskDuration)
	}
	if c.TaskCleanupDelay < 0 || c.TaskCleanupDelay/time.Second > math.MaxInt32 {
		bad(PropTaskCleanupDelay, "must be between 0 and %d seconds, got %s", math.MaxInt32, c.TaskCleanupDelay)
	}
	if c.CPUCoreInMicro < 0 {
		bad(PropCPUCoreInMicro, "must not be negative, got %d", c.CPUCoreInMicro)
	}
	if g := c.GraceTerminationPeriodSeconds; g != nil && *g < 0 {
		bad(PropGraceTerminationPeriodSeconds, "must not be negative, got %d", *g)
	}
	for _, k := range sortedKeys(c.Labels) {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			bad(PropLabels, "label key %q: %s", k, strings.Join(msgs, "; "))
		}
		if msgs := validation.IsValidLabelValue(c.Labels[k]); len(msgs) > 0 {
			bad(PropLabels, "label %q value %q: %s", k, c.Labels[k], strings.Join(msgs, "; "))
		}
	}
	for _, k := range sortedKeys(c.Annotations) {
		if msgs := validation.IsQualifiedName(strings.ToLower(k)); len(msgs) > 0 {
			bad(PropAnnotations, "annotation key %q: %s", k, strings.Join(msgs, "; "))
		}
	}
	if c.OwnerID != "" {
		if err := ValidateOwnerID(c.OwnerID); err != nil {
			bad(PropOwnerID, "%v", err)
		}
	}
	if c.TemplateReloadPeriod < 0 {
		bad(PropTemplateReloadPeriod, "must not be negative, got %s", c.TemplateReloadPeriod)
	}
	if c.BaseDir == "" {
		bad(PropTaskBaseDir, "must not be empty: it is customTemplateAdapter's TASK_DIR and the default parent of %s", PropTaskBaseTaskDir)
	}
	return errors.Join(errs...)
}

// taskBaseDir is the absolute druid.indexer.task.baseTaskDir.
func (c Config) taskBaseDir() string {
	dir := c.BaseTaskDir
	if dir == "" {
		dir = path.Join(c.BaseDir, "persistent", "task")
	}
	if !path.IsAbs(dir) {
		dir = path.Join(druidImageWorkDir, dir)
	}
	return path.Clean(dir)
}

func validTemplateKey(key string) error {
	switch {
	case key == "":
		return errors.New("template key is empty")
	case strings.Contains(key, "."):
		// Druid takes the text after the last '.' as the key and then looks up
		// a property that does not exist.
		return fmt.Errorf("template key %q must not contain '.'", key)
	}
	return nil
}

// ConfigFromProperties reads the adapter settings from Druid runtime
// properties, starting from DefaultConfig, and validates them.
// druid.indexer.runner.javaOpts is rejected: like Druid's Kubernetes runner,
// taskgate takes JVM options only as the javaOptsArray JSON array.
func ConfigFromProperties(p PropertyGetter) (Config, error) {
	c := DefaultConfig()
	var errs []error
	fail := func(err error) { errs = append(errs, err) }

	str := func(key string, dst *string) {
		if v, ok := p.Get(key); ok {
			*dst = strings.TrimSpace(v)
		}
	}
	boolean := func(key string, dst *bool) {
		if v, ok := p.Get(key); ok {
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "true":
				*dst = true
			case "false":
				*dst = false
			default:
				fail(fmt.Errorf("%s: must be true or false, got %q", key, v))
			}
		}
	}
	period := func(key string, dst *time.Duration) {
		if v, ok := p.Get(key); ok {
			d, err := parsePeriod(v)
			if err != nil {
				fail(fmt.Errorf("%s: %w", key, err))
				return
			}
			*dst = d
		}
	}
	stringList := func(key string, dst *[]string) {
		if v, ok := p.Get(key); ok {
			var list []string
			if err := json.Unmarshal([]byte(v), &list); err != nil {
				fail(fmt.Errorf("%s: must be a JSON array of strings such as [\"-Xmx1g\"], got %q: %v", key, v, err))
				return
			}
			*dst = list
		}
	}
	stringMap := func(key string, dst *map[string]string) {
		if v, ok := p.Get(key); ok {
			var m map[string]string
			if err := json.Unmarshal([]byte(v), &m); err != nil {
				fail(fmt.Errorf("%s: must be a JSON object of string values such as {\"key\":\"value\"}, got %q: %v", key, v, err))
				return
			}
			*dst = m
		}
	}

	if v, ok := p.Get(PropJavaOpts); ok {
		fail(fmt.Errorf("%s=%q is not supported by the Kubernetes runner: set %s to a JSON array instead, e.g. [\"-Xmx1g\",\"-XX:MaxDirectMemorySize=1g\"]", PropJavaOpts, v, PropJavaOptsArray))
	}
	str(PropAdapterType, &c.AdapterType)
	boolean(PropSidecarSupport, &c.SidecarSupport)
	if _, set := p.Get(PropAdapterType); !set && c.SidecarSupport {
		c.AdapterType = TypeMultiContainer
	}
	str(PropNamespace, &c.Namespace)
	str(PropOverlordNamespace, &c.OverlordNamespace)
	str(PropK8sTaskPodNamePrefix, &c.K8sTaskPodNamePrefix)
	boolean(PropDebugJobs, &c.DebugJobs)
	str(PropPrimaryContainerName, &c.PrimaryContainerName)
	str(PropKubexitImage, &c.KubexitImage)
	if v, ok := p.Get(PropGraceTerminationPeriodSeconds); ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			fail(fmt.Errorf("%s: must be a whole number of seconds, got %q", PropGraceTerminationPeriodSeconds, v))
		} else {
			c.GraceTerminationPeriodSeconds = &n
		}
	}
	boolean(PropDisableClientProxy, &c.DisableClientProxy)
	period(PropMaxTaskDuration, &c.MaxTaskDuration)
	period(PropTaskCleanupDelay, &c.TaskCleanupDelay)
	stringList(PropPeonMonitors, &c.PeonMonitors)
	stringList(PropJavaOptsArray, &c.JavaOptsArray)
	if v, ok := p.Get(PropCPUCoreInMicro); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			fail(fmt.Errorf("%s: must be a whole number of millicores, got %q", PropCPUCoreInMicro, v))
		} else {
			c.CPUCoreInMicro = n
		}
	}
	stringMap(PropLabels, &c.Labels)
	stringMap(PropAnnotations, &c.Annotations)
	for _, key := range p.Keys(PropPodTemplatePrefix) {
		name := strings.TrimPrefix(key, PropPodTemplatePrefix)
		v, _ := p.Get(key)
		if c.PodTemplates == nil {
			c.PodTemplates = map[string]string{}
		}
		c.PodTemplates[name] = strings.TrimSpace(v)
	}
	str(PropTaskBaseDir, &c.BaseDir)
	str(PropTaskBaseTaskDir, &c.BaseTaskDir)
	boolean(PropEnableTLSPort, &c.EnableTLSPort)
	boolean(PropAllowTaskPodTemplateSelection, &c.AllowTaskPodTemplateSelection)
	str(PropOwnerID, &c.OwnerID)
	if c.OwnerID == "" {
		c.OwnerID = DefaultOwnerID(c.OverlordNamespace, c.Namespace)
	}
	period(PropTemplateReloadPeriod, &c.TemplateReloadPeriod)

	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
