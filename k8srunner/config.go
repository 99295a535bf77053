package k8srunner

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"

	"github.com/taskgate/taskgate/adapters"
	"github.com/taskgate/taskgate/internal/isoduration"
)

// Runtime properties read by ConfigFromProperties. The druid.* keys are
// Druid's (KubernetesTaskRunnerStaticConfig); the taskgate.k8s.* keys are
// taskgate's own and have no Druid equivalent.
const (
	PropNamespace           = "druid.indexer.runner.namespace"
	PropCapacity            = "druid.indexer.runner.capacity"
	PropLaunchTimeout       = "druid.indexer.runner.k8sjobLaunchTimeout"
	PropMaxTaskDuration     = "druid.indexer.runner.maxTaskDuration"
	PropTaskCleanupDelay    = "druid.indexer.runner.taskCleanupDelay"
	PropTaskCleanupInterval = "druid.indexer.runner.taskCleanupInterval"
	PropTaskJoinTimeout     = "druid.indexer.runner.taskJoinTimeout"
	PropDebugJobs           = "druid.indexer.runner.debugJobs"
	// PropOverlordNamespace is Druid's (apache/druid#17738): the namespace
	// of the Overlord (here: the gateway) when tasks run in another one.
	PropOverlordNamespace = "druid.indexer.runner.overlordNamespace"

	// PropOwnerID is the value of the adapters.LabelOwner label this runner
	// puts on its Jobs and pods and selects them by (taskgate's own).
	PropOwnerID = adapters.PropOwnerID
	// PropAdoptDruidJobs lets Start take over peon Jobs that Druid's own
	// Kubernetes runner (or a taskgate without owner labels) started.
	PropAdoptDruidJobs = "taskgate.k8s.adoptDruidJobs"

	// PropClientQPS and PropClientBurst set the Kubernetes client's rate
	// limit (client-go's rest.Config QPS and Burst).
	PropClientQPS   = "taskgate.k8s.clientQPS"
	PropClientBurst = "taskgate.k8s.clientBurst"
	// PropWorkers is the number of reconcile workers.
	PropWorkers = "taskgate.k8s.workers"
	// PropStatusWaitTimeout is how long a Job that completed may go without
	// a status.json before the task is failed (ISO-8601 period).
	PropStatusWaitTimeout = "taskgate.k8s.statusWaitTimeout"
	// PropCompletedRetention and PropCompletedMax bound how long, and how
	// many, finished tasks are remembered for listings.
	PropCompletedRetention = "taskgate.k8s.completedRetention"
	PropCompletedMax       = "taskgate.k8s.completedMax"
)

// Config is the Kubernetes runner's static configuration. Start from
// DefaultConfig or ConfigFromProperties.
type Config struct {
	// Namespace is where peon Jobs run (druid.indexer.runner.namespace).
	// Required.
	Namespace string
	// Capacity is how many tasks may have a Job at once; more wait in the
	// pending queue (druid.indexer.runner.capacity, default Druid's
	// Integer.MAX_VALUE, 2147483647).
	Capacity int
	// LaunchTimeout is how long a Job's pod may take to reach Running before
	// the task fails and the Job is deleted
	// (druid.indexer.runner.k8sjobLaunchTimeout, default PT1H).
	LaunchTimeout time.Duration
	// MaxTaskDuration is the longest a task may run; the adapters put it in
	// the Job's activeDeadlineSeconds and the runner names it in the failure
	// message (druid.indexer.runner.maxTaskDuration, default PT4H).
	MaxTaskDuration time.Duration
	// TaskCleanupDelay is how long finished peon Jobs are kept
	// (druid.indexer.runner.taskCleanupDelay, default P2D).
	TaskCleanupDelay time.Duration
	// TaskCleanupInterval is how often finished Jobs older than
	// TaskCleanupDelay are deleted (druid.indexer.runner.taskCleanupInterval,
	// default PT10M).
	TaskCleanupInterval time.Duration
	// TaskJoinTimeout bounds how long Start waits for the informers to sync
	// before it re-attaches existing Jobs (druid.indexer.runner.taskJoinTimeout,
	// default PT1M).
	TaskJoinTimeout time.Duration
	// DebugJobs keeps finished Jobs: the periodic cleanup deletes nothing
	// (druid.indexer.runner.debugJobs, default false). Shutdown and launch
	// timeouts still delete the Job, so a stopped task never keeps running.
	DebugJobs bool
	// OverlordNamespace is druid.indexer.runner.overlordNamespace: the
	// gateway's own namespace when tasks run in Namespace, another one. A
	// Druid Job carrying Druid's druid.overlord.namespace label is only
	// adopted when the label names this namespace (or Namespace, when this
	// is unset), so Jobs of another Overlord are never taken.
	OverlordNamespace string
	// OwnerID is taskgate.k8s.ownerId: the adapters.LabelOwner value of
	// this gateway's Jobs and pods. Its informers, restore, capacity count
	// and cleanup see only Jobs and pods with it, so two gateways (or a
	// gateway and a Druid Overlord) sharing a namespace leave each other's
	// Jobs alone. Empty means adapters.DefaultOwnerID(OverlordNamespace,
	// Namespace); see Owner.
	OwnerID string
	// AdoptDruidJobs is taskgate.k8s.adoptDruidJobs (default true): at
	// Start, peon Jobs without an owner label (started by Druid's own
	// Kubernetes runner, or by a taskgate from before owner labels) whose
	// druid.overlord.namespace label, if any, names this gateway's
	// namespace are labelled with OwnerID, with their pods, and tracked
	// to completion like this gateway's own. Only at Start: a Job that
	// appears later without the label belongs to someone else.
	AdoptDruidJobs bool

	// ClientQPS and ClientBurst are the Kubernetes client's rate limit
	// (taskgate.k8s.clientQPS, default 50; taskgate.k8s.clientBurst, default
	// 100). The runner does not build its client; ApplyTo sets them on the
	// rest.Config the caller builds it from.
	ClientQPS   float32
	ClientBurst int
	// Workers is the number of goroutines reconciling tasks
	// (taskgate.k8s.workers, default 4). It does not grow with tasks.
	Workers int
	// StatusWaitTimeout is how long a task whose Job completed waits for its
	// status.json before it fails with "succeeded but no status.json": peons
	// can push it after their container is reported done (Druid #17848)
	// (taskgate.k8s.statusWaitTimeout, default PT30S).
	StatusWaitTimeout time.Duration
	// CompletedRetention and CompletedMax bound the finished tasks kept in
	// memory for Get and Known: each is dropped after CompletedRetention, and
	// the oldest go first when more than CompletedMax are kept
	// (taskgate.k8s.completedRetention, default PT1H;
	// taskgate.k8s.completedMax, default 10000).
	CompletedRetention time.Duration
	CompletedMax       int
	// ImagePullFailFast is how long a peon pod may fail to pull its image
	// before the task fails (taskgate.k8s.imagePullFailFast; zero means
	// DefaultImagePullFailFast, PT2M). See diagnosis.go.
	ImagePullFailFast time.Duration
}

// DefaultConfig returns Druid's defaults and taskgate's for its own settings.
// Namespace is left empty: it has no default.
func DefaultConfig() Config {
	return Config{
		Capacity:            math.MaxInt32,
		LaunchTimeout:       time.Hour,
		MaxTaskDuration:     4 * time.Hour,
		TaskCleanupDelay:    48 * time.Hour,
		TaskCleanupInterval: 10 * time.Minute,
		TaskJoinTimeout:     time.Minute,
		ClientQPS:           50,
		ClientBurst:         100,
		Workers:             4,
		StatusWaitTimeout:   30 * time.Second,
		CompletedRetention:  time.Hour,
		CompletedMax:        10000,
		AdoptDruidJobs:      true,
	}
}

// Owner is the owner id in force: OwnerID, else the default derived from
// the namespaces.
func (c Config) Owner() string {
	if c.OwnerID != "" {
		return c.OwnerID
	}
	return adapters.DefaultOwnerID(c.OverlordNamespace, c.Namespace)
}

// overlordNamespace is the namespace Druid's druid.overlord.namespace label
// names for this gateway's Jobs (as the adapters write it).
func (c Config) overlordNamespace() string {
	if c.OverlordNamespace != "" {
		return c.OverlordNamespace
	}
	return c.Namespace
}

// Validate reports every field that is missing or out of range, each by its
// property name.
func (c Config) Validate() error {
	var errs []error
	bad := func(prop, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", prop, fmt.Sprintf(format, args...)))
	}
	if strings.TrimSpace(c.Namespace) == "" {
		bad(PropNamespace, "is required")
	}
	if c.OwnerID != "" || strings.TrimSpace(c.Namespace) != "" {
		if err := adapters.ValidateOwnerID(c.Owner()); err != nil {
			bad(PropOwnerID, "%v", err)
		}
	}
	if c.Capacity < 1 {
		bad(PropCapacity, "must be at least 1, got %d", c.Capacity)
	}
	for _, d := range []struct {
		prop string
		v    time.Duration
	}{
		{PropLaunchTimeout, c.LaunchTimeout},
		{PropMaxTaskDuration, c.MaxTaskDuration},
		{PropTaskCleanupDelay, c.TaskCleanupDelay},
		{PropTaskCleanupInterval, c.TaskCleanupInterval},
		{PropTaskJoinTimeout, c.TaskJoinTimeout},
		{PropCompletedRetention, c.CompletedRetention},
	} {
		if d.v <= 0 {
			bad(d.prop, "must be a positive duration, got %s", d.v)
		}
	}
	if c.StatusWaitTimeout < 0 {
		bad(PropStatusWaitTimeout, "must not be negative, got %s", c.StatusWaitTimeout)
	}
	if c.ClientQPS <= 0 {
		bad(PropClientQPS, "must be positive, got %g", c.ClientQPS)
	}
	if c.ClientBurst < 1 {
		bad(PropClientBurst, "must be at least 1, got %d", c.ClientBurst)
	}
	if c.Workers < 1 || c.Workers > 64 {
		bad(PropWorkers, "must be between 1 and 64, got %d", c.Workers)
	}
	if c.CompletedMax < 0 {
		bad(PropCompletedMax, "must not be negative, got %d", c.CompletedMax)
	}
	if err := c.validateDiagnosis(); err != nil { // diagnosis.go
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ApplyTo sets the client rate limit on a rest.Config.
func (c Config) ApplyTo(rc *rest.Config) {
	rc.QPS = c.ClientQPS
	rc.Burst = c.ClientBurst
}

// PropertyGetter is where ConfigFromProperties reads runtime properties.
type PropertyGetter interface {
	Get(key string) (string, bool)
}

// ConfigFromProperties reads Druid's druid.indexer.runner.* properties and
// taskgate's taskgate.k8s.* ones over DefaultConfig, then validates. Periods
// are ISO-8601 as Druid reads them (PT1H, P2D).
func ConfigFromProperties(p PropertyGetter) (Config, error) {
	c := DefaultConfig()
	var errs []error
	get := func(key string) (string, bool) {
		v, ok := p.Get(key)
		v = strings.TrimSpace(v)
		return v, ok && v != ""
	}
	if v, ok := get(PropNamespace); ok {
		c.Namespace = v
	}
	if v, ok := get(PropOverlordNamespace); ok {
		c.OverlordNamespace = v
	}
	if v, ok := get(PropOwnerID); ok {
		c.OwnerID = v
	}
	ints := []struct {
		prop string
		dst  *int
	}{{PropCapacity, &c.Capacity}, {PropClientBurst, &c.ClientBurst}, {PropWorkers, &c.Workers}, {PropCompletedMax, &c.CompletedMax}}
	for _, f := range ints {
		if v, ok := get(f.prop); ok {
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: must be an integer, got %q", f.prop, v))
				continue
			}
			*f.dst = int(n)
		}
	}
	durs := []struct {
		prop string
		dst  *time.Duration
	}{
		{PropLaunchTimeout, &c.LaunchTimeout},
		{PropMaxTaskDuration, &c.MaxTaskDuration},
		{PropTaskCleanupDelay, &c.TaskCleanupDelay},
		{PropTaskCleanupInterval, &c.TaskCleanupInterval},
		{PropTaskJoinTimeout, &c.TaskJoinTimeout},
		{PropStatusWaitTimeout, &c.StatusWaitTimeout},
		{PropCompletedRetention, &c.CompletedRetention},
		{PropImagePullFailFast, &c.ImagePullFailFast}, // diagnosis.go
	}
	for _, f := range durs {
		if v, ok := get(f.prop); ok {
			d, err := isoduration.Parse(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", f.prop, err))
				continue
			}
			*f.dst = d
		}
	}
	bools := []struct {
		prop string
		dst  *bool
	}{{PropDebugJobs, &c.DebugJobs}, {PropAdoptDruidJobs, &c.AdoptDruidJobs}}
	for _, f := range bools {
		if v, ok := get(f.prop); ok {
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: must be true or false, got %q", f.prop, v))
				continue
			}
			*f.dst = b
		}
	}
	if v, ok := get(PropClientQPS); ok {
		f, err := strconv.ParseFloat(v, 32)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: must be a number, got %q", PropClientQPS, v))
		} else {
			c.ClientQPS = float32(f)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}
