package workerrunner

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/taskgate/taskgate/internal/isoduration"
	"github.com/taskgate/taskgate/workerrunner/protocol"
)

// Runtime properties read by ConfigFromProperties. The druid.* keys are
// Druid's (HttpRemoteTaskRunnerConfig, node discovery); the taskgate.worker.*
// keys are taskgate's own: Druid has no static worker list, and keeps the
// select strategy in its dynamic worker config, which taskgate takes as a
// static property in Druid's JSON shape.
const (
	PropTaskAssignmentTimeout         = "druid.indexer.runner.taskAssignmentTimeout"
	PropTaskCleanupTimeout            = "druid.indexer.runner.taskCleanupTimeout"
	PropPendingTasksRunnerNumThreads  = "druid.indexer.runner.pendingTasksRunnerNumThreads"
	PropMaxRetriesBeforeBlacklist     = "druid.indexer.runner.maxRetriesBeforeBlacklist"
	PropWorkerBlackListBackoffTime    = "druid.indexer.runner.workerBlackListBackoffTime"
	PropWorkerBlackListCleanupPeriod  = "druid.indexer.runner.workerBlackListCleanupPeriod"
	PropMaxPercentageBlacklistWorkers = "druid.indexer.runner.maxPercentageBlacklistWorkers"
	PropShutdownRequestMaxRetries     = "druid.indexer.runner.shutdownRequestMaxRetries"
	PropShutdownRequestHTTPTimeout    = "druid.indexer.runner.shutdownRequestHttpTimeout"
	PropAssignRequestMaxRetries       = "druid.indexer.runner.assignRequestMaxRetries"
	PropAssignRequestHTTPTimeout      = "druid.indexer.runner.assignRequestHttpTimeout"
	PropSyncRequestTimeout            = "druid.indexer.runner.syncRequestTimeout"
	PropMinWorkerVersion              = "druid.indexer.runner.minWorkerVersion"
	PropParallelIndexTaskSlotRatio    = "druid.indexer.runner.parallelIndexTaskSlotRatio"
	PropParallelIndexWorkerRatio      = "druid.indexer.runner.parallelIndexWorkerRatio" // older name
	PropRunnerType                    = "druid.indexer.runner.type"
	PropWorkerType                    = "druid.indexer.runner.k8sAndWorker.runnerStrategy.workerType"
	PropEscalatorUsername             = "druid.escalator.internalClientUsername"
	PropEscalatorPassword             = "druid.escalator.internalClientPassword"
	PropDiscoveryType                 = "druid.discovery.type"
	PropK8sClusterIdentifier          = "druid.discovery.k8s.clusterIdentifier"
	PropK8sPodNamespaceEnvKey         = "druid.discovery.k8s.podNamespaceEnvKey"

	// PropWorkerURLs is the static worker list: a JSON array whose entries
	// are base URLs ("http://mm-0:8091") or objects
	// {"url": ..., "capacity": N, "category": ..., "version": ...}.
	PropWorkerURLs = "taskgate.worker.urls"
	// PropWorkerDefaultCapacity is the capacity of static entries given as a
	// bare URL: a Middle Manager does not tell its capacity over HTTP (Druid
	// learns it from the discovery announcement).
	PropWorkerDefaultCapacity = "taskgate.worker.defaultCapacity"
	// PropSelectStrategy is Druid's dynamic worker config "selectStrategy"
	// JSON, e.g. {"type":"fillCapacity","affinityConfig":{...}}.
	PropSelectStrategy = "taskgate.worker.selectStrategy"
	// PropK8sNamespace is where Kubernetes discovery lists pods. Unset: the
	// namespace in the environment variable named by podNamespaceEnvKey, as
	// Druid (which watches its own namespace).
	PropK8sNamespace = "taskgate.worker.k8s.namespace"
	// PropCompletedRetention and PropCompletedMax bound how long, and how
	// many, finished tasks are remembered for Get and Known.
	PropCompletedRetention = "taskgate.worker.completedRetention"
	PropCompletedMax       = "taskgate.worker.completedMax"
)

// Worker types (Druid's runnerStrategy.workerType).
const (
	WorkerTypeHTTPRemote = "httpRemote"
	WorkerTypeRemote     = "remote"
)

// Discovery types.
const (
	DiscoveryStatic = "static"
	DiscoveryK8s    = "k8s"
)

// Config is the worker runner's static configuration. Start from
// DefaultConfig or ConfigFromProperties.
type Config struct {
	// TaskAssignmentTimeout is how long an assigned task may take to appear
	// in its worker's sync before it fails (taskAssignmentTimeout, PT5M).
	TaskAssignmentTimeout time.Duration
	// TaskCleanupTimeout is how long a lost worker's tasks are kept before
	// they fail (taskCleanupTimeout, PT15M). A worker is lost when discovery
	// drops it, or (taskgate, for static lists) when its sync keeps failing.
	TaskCleanupTimeout time.Duration
	// PendingTasksRunnerNumThreads caps concurrent assignments
	// (pendingTasksRunnerNumThreads, 1). Each worker still has at most one
	// unacknowledged assignment.
	PendingTasksRunnerNumThreads int
	// MaxRetriesBeforeBlacklist: a worker whose consecutive failed tasks
	// exceed it is blacklisted (maxRetriesBeforeBlacklist, 5).
	MaxRetriesBeforeBlacklist int
	// WorkerBlackListBackoffTime is how long a worker stays blacklisted
	// (workerBlackListBackoffTime, PT15M).
	WorkerBlackListBackoffTime time.Duration
	// WorkerBlackListCleanupPeriod is how often the blacklist is reviewed
	// (workerBlackListCleanupPeriod, PT5M).
	WorkerBlackListCleanupPeriod time.Duration
	// MaxPercentageBlacklistWorkers caps the blacklist, in percent of all
	// workers (maxPercentageBlacklistWorkers, 20).
	MaxPercentageBlacklistWorkers int
	// ShutdownRequestMaxRetries and ShutdownRequestHTTPTimeout: attempts and
	// per-attempt timeout of a shutdown call (3, PT1M).
	ShutdownRequestMaxRetries  int
	ShutdownRequestHTTPTimeout time.Duration
	// AssignRequestMaxRetries and AssignRequestHTTPTimeout: attempts and
	// per-attempt timeout of an assignTask call (3, PT1M).
	AssignRequestMaxRetries  int
	AssignRequestHTTPTimeout time.Duration
	// SyncRequestTimeout is the long-poll timeout sent to workers
	// (syncRequestTimeout, PT3M); the client waits 5 s longer.
	SyncRequestTimeout time.Duration
	// MinWorkerVersion: workers whose version compares lower as a string get
	// no tasks (minWorkerVersion, "0").
	MinWorkerVersion string
	// ParallelIndexTaskSlotRatio is the share of a worker's slots that
	// index_parallel supervisor tasks may take: floor(ratio × capacity),
	// clamped to [1, capacity] (parallelIndexTaskSlotRatio, 1).
	ParallelIndexTaskSlotRatio float64
	// WorkerType is Druid's runnerStrategy.workerType; only httpRemote is
	// supported.
	WorkerType string

	// Username and Password are sent to workers as HTTP Basic (Druid's
	// escalator internal client credentials); empty: none.
	Username string
	Password string
	// Smile makes the runner speak Jackson Smile to its workers, exactly as
	// an Overlord does (assignTask bodies and sync answers). Off by default:
	// real Middle Managers answer JSON too. The gateway-as-worker tests use
	// it to play an unmodified Overlord.
	Smile bool

	// Discovery is "static" (Workers) or "k8s" (druid.discovery.type=k8s).
	Discovery string
	// Workers is the static worker list (taskgate.worker.urls).
	Workers []StaticWorker
	// DefaultCapacity is the capacity of static entries without one
	// (taskgate.worker.defaultCapacity, 1).
	DefaultCapacity int
	// K8sClusterIdentifier is druid.discovery.k8s.clusterIdentifier;
	// required for k8s discovery.
	K8sClusterIdentifier string
	// K8sNamespace is where pods are listed (see PropK8sNamespace).
	K8sNamespace string

	// SelectStrategy is Druid's worker select strategy
	// (taskgate.worker.selectStrategy; default equalDistribution).
	SelectStrategy SelectStrategy

	// SyncBackoffMin and SyncBackoffMax bound the wait after a failed sync
	// (1 s doubling, capped at 2 min, as Druid's syncer). Not properties.
	SyncBackoffMin time.Duration
	SyncBackoffMax time.Duration
	// StartSyncTimeout bounds how long Start waits for the first sync of
	// the workers discovered at start: 3 × (SyncRequestTimeout + 5 s) in
	// Druid. taskgate does not fail Start when a worker stays mute; it logs
	// and goes on, so one dead worker cannot block the gateway.
	StartSyncTimeout time.Duration
	// CompletedRetention and CompletedMax bound the finished tasks kept in
	// memory (PT1H, 10000).
	CompletedRetention time.Duration
	CompletedMax       int
}

// StaticWorker is one entry of the static worker list.
type StaticWorker struct {
	URL      string `json:"url"`
	Capacity int    `json:"capacity"`
	Category string `json:"category"`
	Version  string `json:"version"`
}

// UnmarshalJSON accepts a bare URL string or an object.
func (s *StaticWorker) UnmarshalJSON(b []byte) error {
	var u string
	if err := json.Unmarshal(b, &u); err == nil {
		*s = StaticWorker{URL: u}
		return nil
	}
	type plain StaticWorker
	var p plain
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("worker entry must be a URL string or an object with url, capacity, category, version: %w", err)
	}
	*s = StaticWorker(p)
	return nil
}

// DefaultConfig returns Druid's defaults and taskgate's for its own settings.
func DefaultConfig() Config {
	return Config{
		TaskAssignmentTimeout:         5 * time.Minute,
		TaskCleanupTimeout:            15 * time.Minute,
		PendingTasksRunnerNumThreads:  1,
		MaxRetriesBeforeBlacklist:     5,
		WorkerBlackListBackoffTime:    15 * time.Minute,
		WorkerBlackListCleanupPeriod:  5 * time.Minute,
		MaxPercentageBlacklistWorkers: 20,
		ShutdownRequestMaxRetries:     3,
		ShutdownRequestHTTPTimeout:    time.Minute,
		AssignRequestMaxRetries:       3,
		AssignRequestHTTPTimeout:      time.Minute,
		SyncRequestTimeout:            3 * time.Minute,
		MinWorkerVersion:              "0",
		ParallelIndexTaskSlotRatio:    1,
		WorkerType:                    WorkerTypeHTTPRemote,
		Discovery:                     DiscoveryStatic,
		DefaultCapacity:               1,
		SelectStrategy:                SelectStrategy{Type: StrategyEqualDistribution},
		SyncBackoffMin:                time.Second,
		SyncBackoffMax:                2 * time.Minute,
		StartSyncTimeout:              3 * (3*time.Minute + 5*time.Second),
		CompletedRetention:            time.Hour,
		CompletedMax:                  10000,
	}
}

// ErrRemoteNotSupported is returned for workerType=remote (ZooKeeper).
var ErrRemoteNotSupported = errors.New("workerType remote (ZooKeeper-based RemoteTaskRunner) is not supported yet; use httpRemote")

// Validate names every field (by its property) that is missing or out of range.
func (c Config) Validate() error {
	var errs []error
	bad := func(prop, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", prop, fmt.Sprintf(format, args...)))
	}
	switch c.WorkerType {
	case WorkerTypeHTTPRemote:
	case WorkerTypeRemote:
		errs = append(errs, fmt.Errorf("%s: %w", PropWorkerType, ErrRemoteNotSupported))
	default:
		bad(PropWorkerType, "must be httpRemote or remote, got %q", c.WorkerType)
	}
	for _, d := range []struct {
		prop string
		v    time.Duration
	}{
		{PropTaskAssignmentTimeout, c.TaskAssignmentTimeout},
		{PropTaskCleanupTimeout, c.TaskCleanupTimeout},
		{PropWorkerBlackListBackoffTime, c.WorkerBlackListBackoffTime},
		{PropWorkerBlackListCleanupPeriod, c.WorkerBlackListCleanupPeriod},
		{PropShutdownRequestHTTPTimeout, c.ShutdownRequestHTTPTimeout},
		{PropAssignRequestHTTPTimeout, c.AssignRequestHTTPTimeout},
		{PropCompletedRetention, c.CompletedRetention},
		{"SyncBackoffMin", c.SyncBackoffMin},
		{"SyncBackoffMax", c.SyncBackoffMax},
		{"StartSyncTimeout", c.StartSyncTimeout},
	} {
		if d.v <= 0 {
			bad(d.prop, "must be a positive period, got %s", isoduration.Format(d.v))
		}
	}
	if c.SyncRequestTimeout < time.Millisecond {
		bad(PropSyncRequestTimeout, "must be at least 1 ms, got %s", isoduration.Format(c.SyncRequestTimeout))
	}
	if c.SyncBackoffMax < c.SyncBackoffMin {
		bad("SyncBackoffMax", "must not be below SyncBackoffMin")
	}
	if c.PendingTasksRunnerNumThreads < 1 {
		bad(PropPendingTasksRunnerNumThreads, "must be at least 1, got %d", c.PendingTasksRunnerNumThreads)
	}
	if c.MaxRetriesBeforeBlacklist < 1 {
		bad(PropMaxRetriesBeforeBlacklist, "must be at least 1, got %d", c.MaxRetriesBeforeBlacklist)
	}
	if c.MaxPercentageBlacklistWorkers < 0 || c.MaxPercentageBlacklistWorkers > 100 {
		bad(PropMaxPercentageBlacklistWorkers, "must be in 0..100, got %d", c.MaxPercentageBlacklistWorkers)
	}
	if c.ShutdownRequestMaxRetries < 1 {
		bad(PropShutdownRequestMaxRetries, "must be at least 1, got %d", c.ShutdownRequestMaxRetries)
	}
	if c.AssignRequestMaxRetries < 1 {
		bad(PropAssignRequestMaxRetries, "must be at least 1, got %d", c.AssignRequestMaxRetries)
	}
	if c.ParallelIndexTaskSlotRatio < 0 || c.ParallelIndexTaskSlotRatio > 1 {
		bad(PropParallelIndexTaskSlotRatio, "must be in 0..1, got %g", c.ParallelIndexTaskSlotRatio)
	}
	if c.CompletedMax < 0 {
		bad(PropCompletedMax, "must not be negative, got %d", c.CompletedMax)
	}
	if c.DefaultCapacity < 1 {
		bad(PropWorkerDefaultCapacity, "must be at least 1, got %d", c.DefaultCapacity)
	}
	if err := c.SelectStrategy.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", PropSelectStrategy, err))
	}
	switch c.Discovery {
	case DiscoveryStatic:
		seen := map[string]bool{}
		for i, w := range c.Workers {
			if err := w.validate(); err != nil {
				bad(PropWorkerURLs, "entry %d: %v", i, err)
				continue
			}
			h, _ := w.hostPort()
			if seen[h] {
				bad(PropWorkerURLs, "entry %d: worker %s is listed twice", i, h)
			}
			seen[h] = true
		}
	case DiscoveryK8s:
		if c.K8sClusterIdentifier == "" {
			bad(PropK8sClusterIdentifier, "is required with %s=k8s", PropDiscoveryType)
		}
		if c.K8sNamespace == "" {
			bad(PropK8sNamespace, "is required with k8s discovery (or set the pod namespace environment variable)")
		}
	default:
		bad(PropDiscoveryType, "must be k8s, or unset for the static list %s, got %q", PropWorkerURLs, c.Discovery)
	}
	return errors.Join(errs...)
}

func (w StaticWorker) validate() error {
	u, err := url.Parse(w.URL)
	switch {
	case w.URL == "":
		return errors.New("url is required")
	case err != nil:
		return fmt.Errorf("url %q: %v", w.URL, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("url %q: scheme must be http or https", w.URL)
	case u.Host == "" || u.Port() == "":
		return fmt.Errorf("url %q: host:port is required", w.URL)
	case u.Path != "" && u.Path != "/":
		return fmt.Errorf("url %q: must be a base URL without a path", w.URL)
	case w.Capacity < 0:
		return fmt.Errorf("capacity must be at least 1, got %d", w.Capacity)
	}
	return nil
}

func (w StaticWorker) hostPort() (string, string) {
	u, _ := url.Parse(w.URL)
	return u.Host, u.Scheme
}

// PropertyGetter is where ConfigFromProperties reads runtime properties.
type PropertyGetter interface {
	Get(key string) (string, bool)
}

// ConfigFromProperties reads Druid's druid.indexer.runner.* properties and
// taskgate's taskgate.worker.* ones over DefaultConfig, then validates.
// Periods are ISO-8601 as Druid reads them (PT15M).
func ConfigFromProperties(p PropertyGetter) (Config, error) {
	c := DefaultConfig()
	var errs []error
	get := func(key string) (string, bool) {
		v, ok := p.Get(key)
		v = strings.TrimSpace(v)
		return v, ok && v != ""
	}
	// druid.indexer.runner.type names the worker runner itself (httpRemote,
	// remote); only in k8sAndWorker mode does the strategy's workerType
	// (which has a default, so it is always set) choose it.
	runnerType, _ := get(PropRunnerType)
	switch runnerType {
	case WorkerTypeRemote, WorkerTypeHTTPRemote:
		c.WorkerType = runnerType
	default:
		if v, ok := get(PropWorkerType); ok {
			c.WorkerType = v
		}
	}
	for _, f := range []struct {
		prop string
		dst  *int
	}{
		{PropPendingTasksRunnerNumThreads, &c.PendingTasksRunnerNumThreads},
		{PropMaxRetriesBeforeBlacklist, &c.MaxRetriesBeforeBlacklist},
		{PropMaxPercentageBlacklistWorkers, &c.MaxPercentageBlacklistWorkers},
		{PropShutdownRequestMaxRetries, &c.ShutdownRequestMaxRetries},
		{PropAssignRequestMaxRetries, &c.AssignRequestMaxRetries},
		{PropWorkerDefaultCapacity, &c.DefaultCapacity},
		{PropCompletedMax, &c.CompletedMax},
	} {
		if v, ok := get(f.prop); ok {
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: must be an integer, got %q", f.prop, v))
				continue
			}
			*f.dst = int(n)
		}
	}
	for _, f := range []struct {
		prop string
		dst  *time.Duration
	}{
		{PropTaskAssignmentTimeout, &c.TaskAssignmentTimeout},
		{PropTaskCleanupTimeout, &c.TaskCleanupTimeout},
		{PropWorkerBlackListBackoffTime, &c.WorkerBlackListBackoffTime},
		{PropWorkerBlackListCleanupPeriod, &c.WorkerBlackListCleanupPeriod},
		{PropShutdownRequestHTTPTimeout, &c.ShutdownRequestHTTPTimeout},
		{PropAssignRequestHTTPTimeout, &c.AssignRequestHTTPTimeout},
		{PropSyncRequestTimeout, &c.SyncRequestTimeout},
		{PropCompletedRetention, &c.CompletedRetention},
	} {
		if v, ok := get(f.prop); ok {
			d, err := isoduration.Parse(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", f.prop, err))
				continue
			}
			*f.dst = d
		}
	}
	for _, prop := range []string{PropParallelIndexWorkerRatio, PropParallelIndexTaskSlotRatio} {
		if v, ok := get(prop); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: must be a number, got %q", prop, v))
				continue
			}
			c.ParallelIndexTaskSlotRatio = f
		}
	}
	c.StartSyncTimeout = 3 * (c.SyncRequestTimeout + 5*time.Second)
	if v, ok := get(PropMinWorkerVersion); ok {
		c.MinWorkerVersion = v
	}
	c.Username, _ = get(PropEscalatorUsername)
	c.Password, _ = get(PropEscalatorPassword)
	if v, ok := get(PropWorkerURLs); ok {
		if err := json.Unmarshal([]byte(v), &c.Workers); err != nil {
			errs = append(errs, fmt.Errorf("%s: must be a JSON array of worker URLs or {\"url\",\"capacity\",\"category\",\"version\"} objects: %w", PropWorkerURLs, err))
		}
	}
	if v, ok := get(PropSelectStrategy); ok {
		s, err := ParseSelectStrategy([]byte(v))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", PropSelectStrategy, err))
		} else {
			c.SelectStrategy = s
		}
	}
	if v, ok := get(PropDiscoveryType); ok && v == DiscoveryK8s {
		c.Discovery = DiscoveryK8s
		c.K8sClusterIdentifier, _ = get(PropK8sClusterIdentifier)
		envKey := "POD_NAMESPACE"
		if k, ok := get(PropK8sPodNamespaceEnvKey); ok {
			envKey = k
		}
		c.K8sNamespace = os.Getenv(envKey)
		if ns, ok := get(PropK8sNamespace); ok {
			c.K8sNamespace = ns
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

// workerInfos turns the static list into discovered workers.
func (c Config) staticWorkers() []WorkerInfo {
	out := make([]WorkerInfo, 0, len(c.Workers))
	for _, w := range c.Workers {
		host, scheme := w.hostPort()
		wi := WorkerInfo{Scheme: scheme, Host: host, Capacity: w.Capacity, Category: w.Category, Version: w.Version}
		if wi.Capacity == 0 {
			wi.Capacity = c.DefaultCapacity
		}
		if wi.Category == "" {
			wi.Category = protocol.DefaultWorkerCategory
		}
		if wi.Version == "" {
			wi.Version = "0"
		}
		out = append(out, wi)
	}
	return out
}
