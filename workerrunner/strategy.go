package workerrunner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
)

// Select strategy types (Druid's WorkerSelectStrategy JSON type names).
const (
	StrategyEqualDistribution = "equalDistribution"
	StrategyFillCapacity      = "fillCapacity"
	// The category-spec variants pick like their base strategy, among the
	// workers of the task's preferred category (workerCategorySpec).
	StrategyEqualDistributionWithCategorySpec = "equalDistributionWithCategorySpec"
	StrategyFillCapacityWithCategorySpec      = "fillCapacityWithCategorySpec"
)

// SelectStrategy is Druid's dynamic worker config selectStrategy:
// equalDistribution picks the eligible worker with the most free capacity,
// fillCapacity the one with the most used capacity; affinityConfig pins
// datasources to workers (by host:port) and taskLimits caps slots per task
// type, as Druid's WorkerSelectUtils does. The *WithCategorySpec variants choose among the workers of the category
// workerCategorySpec gives the task's type (and datasource or supervisor).
// Druid's javascript strategy is refused as not supported.
type SelectStrategy struct {
	Type           string          `json:"type"`
	AffinityConfig *AffinityConfig `json:"affinityConfig,omitempty"`
	TaskLimits     *TaskLimits     `json:"taskLimits,omitempty"`
	// WorkerCategorySpec is for the *WithCategorySpec types.
	WorkerCategorySpec *WorkerCategorySpec `json:"workerCategorySpec,omitempty"`
}

// WorkerCategorySpec is Druid's WorkerCategorySpec: per task type, the
// worker category its tasks prefer; strong: never another category.
type WorkerCategorySpec struct {
	CategoryMap map[string]CategoryConfig `json:"categoryMap"`
	Strong      bool                      `json:"strong"`
}

// CategoryConfig is Druid's WorkerCategorySpec.CategoryConfig: the category
// by supervisor id (streaming tasks), else by datasource, else the default.
type CategoryConfig struct {
	DefaultCategory              string            `json:"defaultCategory"`
	CategoryAffinity             map[string]string `json:"categoryAffinity"`
	SupervisorIDCategoryAffinity map[string]string `json:"supervisorIdCategoryAffinity,omitempty"`
}

// preferredCategory is WorkerSelectUtils' category choice; "" means none.
func (w *WorkerCategorySpec) preferredCategory(n taskNeeds) string {
	if w == nil {
		return ""
	}
	cc, ok := w.CategoryMap[n.taskType]
	if !ok {
		return ""
	}
	if n.supervisorID != "" {
		if c, ok := cc.SupervisorIDCategoryAffinity[n.supervisorID]; ok {
			return c
		}
	}
	if c, ok := cc.CategoryAffinity[n.dataSource]; ok {
		return c
	}
	return cc.DefaultCategory
}

// TaskLimits is Druid's TaskLimits: per task type, the most slots tasks of
// that type may take across the eligible workers, as a count and/or a ratio
// of their total capacity (the lower applies).
type TaskLimits struct {
	MaxSlotCountByType map[string]int     `json:"maxSlotCountByType,omitempty"`
	MaxSlotRatioByType map[string]float64 `json:"maxSlotRatioByType,omitempty"`
}

// allows is TaskLimits.canRunTask.
func (l *TaskLimits) allows(taskType string, req, usedByType, totalCapacity int) bool {
	if l == nil {
		return true
	}
	count, hasCount := l.MaxSlotCountByType[taskType]
	ratio, hasRatio := l.MaxSlotRatioByType[taskType]
	if !hasCount && !hasRatio {
		return true
	}
	limit := count
	if hasRatio {
		byRatio := max(1, min(int(math.Floor(ratio*float64(totalCapacity))), totalCapacity))
		if !hasCount || byRatio < limit {
			limit = byRatio
		}
	}
	return limit-usedByType >= req
}

// AffinityConfig is Druid's AffinityConfig: datasource → worker hosts
// (host:port). Strong: a datasource with affinity never runs elsewhere.
type AffinityConfig struct {
	Affinity map[string][]string `json:"affinity"`
	Strong   bool                `json:"strong"`
}

// ParseSelectStrategy reads Druid's selectStrategy JSON.
func ParseSelectStrategy(b []byte) (SelectStrategy, error) {
	var s SelectStrategy
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return SelectStrategy{}, fmt.Errorf("select strategy must be a JSON object {\"type\":\"equalDistribution\"|\"fillCapacity\",\"affinityConfig\":{...}}: %w", err)
	}
	if s.Type == "" {
		s.Type = StrategyEqualDistribution // Druid's default strategy
	}
	return s, s.Validate()
}

// Validate checks the type and the affinity config.
func (s SelectStrategy) Validate() error {
	switch s.Type {
	case StrategyEqualDistribution, StrategyFillCapacity:
		if s.WorkerCategorySpec != nil {
			return fmt.Errorf("workerCategorySpec needs type %sWithCategorySpec", s.Type)
		}
	case StrategyEqualDistributionWithCategorySpec, StrategyFillCapacityWithCategorySpec:
		if s.AffinityConfig != nil {
			return fmt.Errorf("affinityConfig is not a field of type %s (use workerCategorySpec)", s.Type)
		}
	case "javascript":
		return fmt.Errorf("type %q is not supported yet (supported: equalDistribution, fillCapacity and their WithCategorySpec variants)", s.Type)
	default:
		return fmt.Errorf("type must be equalDistribution, fillCapacity, equalDistributionWithCategorySpec or fillCapacityWithCategorySpec, got %q", s.Type)
	}
	if s.TaskLimits != nil {
		for tt, n := range s.TaskLimits.MaxSlotCountByType {
			if n < 0 {
				return fmt.Errorf("taskLimits.maxSlotCountByType[%q] must not be negative, got %d", tt, n)
			}
		}
		for tt, r := range s.TaskLimits.MaxSlotRatioByType {
			if r < 0 || r > 1 {
				return fmt.Errorf("taskLimits.maxSlotRatioByType[%q] must be in [0, 1], got %g", tt, r)
			}
		}
	}
	if s.AffinityConfig != nil {
		for ds, hosts := range s.AffinityConfig.Affinity {
			for _, h := range hosts {
				if h == "" {
					return fmt.Errorf("affinityConfig.affinity[%q]: empty worker host", ds)
				}
			}
		}
	}
	return nil
}

// candidate is the view of a worker the strategy needs.
type candidate struct {
	host     string
	category string
	capacity int
	used     int
	groups   map[string]bool
	version  string
	// parallelUsed is the capacity taken by index_parallel tasks.
	parallelUsed int
	eligibleW    *workerState
}

// taskNeeds is what a task asks of a worker.
type taskNeeds struct {
	taskType   string
	dataSource string
	req        int
	group      string
	// supervisorID is a streaming task's supervisorId, for the category spec.
	supervisorID string
	// typeUsed and totalCapacity are the slots taken by tasks of taskType
	// and the capacity, over all eligible workers (for TaskLimits).
	typeUsed      int
	totalCapacity int
}

// TypeParallelIndex is the task type whose slots parallelIndexTaskSlotRatio limits.
const TypeParallelIndex = "index_parallel"

// canRun is Druid's ImmutableWorkerInfo.canRunTask and isValidVersion.
func (c candidate) canRun(n taskNeeds, minVersion string, parallelRatio float64) bool {
	if c.capacity-c.used < n.req || c.groups[n.group] || c.version < minVersion {
		return false
	}
	if n.taskType != TypeParallelIndex {
		return true
	}
	limit := int(math.Floor(parallelRatio * float64(c.capacity)))
	limit = max(1, min(limit, c.capacity))
	return limit-c.parallelUsed >= n.req
}

// pick chooses a worker for a task among eligible candidates, or nil.
func (s SelectStrategy) pick(cands []candidate, n taskNeeds, minVersion string, parallelRatio float64) *candidate {
	dataSource := n.dataSource
	if !s.TaskLimits.allows(n.taskType, n.req, n.typeUsed, n.totalCapacity) {
		return nil
	}
	runnable := make([]candidate, 0, len(cands))
	for _, c := range cands {
		if c.canRun(n, minVersion, parallelRatio) {
			runnable = append(runnable, c)
		}
	}
	if s.WorkerCategorySpec != nil {
		if cat := s.WorkerCategorySpec.preferredCategory(n); cat != "" {
			var inCat []candidate
			for _, c := range runnable {
				if c.category == cat {
					inCat = append(inCat, c)
				}
			}
			if got := s.choose(inCat); got != nil || s.WorkerCategorySpec.Strong {
				return got
			}
		}
		return s.choose(runnable)
	}
	if s.AffinityConfig == nil {
		return s.choose(runnable)
	}
	affinityWorkers := map[string]bool{}
	for _, hosts := range s.AffinityConfig.Affinity {
		for _, h := range hosts {
			affinityWorkers[h] = true
		}
	}
	nonAffinity := func() []candidate {
		var out []candidate
		for _, c := range runnable {
			if !affinityWorkers[c.host] {
				out = append(out, c)
			}
		}
		return out
	}
	hosts, ok := s.AffinityConfig.Affinity[dataSource]
	if !ok {
		return s.choose(nonAffinity())
	}
	want := map[string]bool{}
	for _, h := range hosts {
		want[h] = true
	}
	var preferred []candidate
	for _, c := range runnable {
		if want[c.host] {
			preferred = append(preferred, c)
		}
	}
	if got := s.choose(preferred); got != nil {
		return got
	}
	if s.AffinityConfig.Strong {
		return nil
	}
	return s.choose(nonAffinity())
}

// choose applies the strategy's comparator; ties go to the lower host name
// so placement is deterministic (Druid's tie order is a hash map's).
func (s SelectStrategy) choose(cs []candidate) *candidate {
	if len(cs) == 0 {
		return nil
	}
	sort.Slice(cs, func(i, j int) bool {
		var ki, kj int
		if s.Type == StrategyFillCapacity || s.Type == StrategyFillCapacityWithCategorySpec {
			ki, kj = cs[i].used, cs[j].used
		} else {
			ki, kj = cs[i].capacity-cs[i].used, cs[j].capacity-cs[j].used
		}
		if ki != kj {
			return ki > kj
		}
		return cs[i].host < cs[j].host
	})
	return &cs[0]
}
