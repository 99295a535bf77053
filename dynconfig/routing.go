package dynconfig

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/taskgate/taskgate/internal/isoduration"
	"github.com/taskgate/taskgate/task"
)

// RoutingConfigKey is the audit key (and type) of the routing config. Druid
// has no such document (its runner strategy is a static property); the key
// follows the execution config's naming.
const RoutingConfigKey = "k8s.taskrunner.routing.config"

// Routing strategy types: Druid's runnerStrategy.type values.
const (
	RoutingTypeK8s      = "k8s"
	RoutingTypeWorker   = "worker"
	RoutingTypeTaskType = "taskType"
)

// Runner names a routing config sends tasks to.
const (
	RunnerK8s    = "k8s"
	RunnerWorker = "worker"
)

// Bounds of a rule's guard and fallback settings.
const (
	// DefaultGuardMinTasks is how many Kubernetes completions of a task type
	// the window must hold before a guard may act: with fewer, one unlucky
	// failure would roll a canary back.
	DefaultGuardMinTasks = 20
)

// RoutingConfig is the live routing config: where each new task runs. Its
// first part is Druid's runner strategy JSON as is ({"type":"k8s"},
// {"type":"worker"}, {"type":"taskType","default":"k8s","overrides":{...}});
// Rules come before it, Drain after it.
type RoutingConfig struct {
	// Type is "k8s", "worker" or "taskType" (Druid's runnerStrategy.type).
	Type string
	// Default is the runner for task types without an override; required
	// for "taskType", as Druid requires it.
	Default string
	// Overrides maps a task type (exact match) to a runner.
	Overrides map[string]string
	// Rules are tried in order before Type; the first match decides.
	Rules []RoutingRule
	// Drain keeps new tasks off the Middle Managers (all, or some).
	Drain Drain
}

// RoutingRule sends Percent of the tasks it matches to Kubernetes and the
// rest to the Middle Managers, by the task's groupId so all subtasks of one
// parallel task go the same way. Its conditions have the pod template
// selector's semantics (see Selector.Matches).
type RoutingRule struct {
	// Name identifies the rule in audit entries, spans, stats and guards;
	// required and unique.
	Name string
	// ContextTags, Type and DataSource are the match conditions; nil or
	// empty means any.
	ContextTags map[string][]string
	Type        []string
	DataSource  []string
	// Percent of matching task groups sent to Kubernetes, 0 to 100 (two
	// decimals of resolution). Raising it keeps the groups already on
	// Kubernetes there: each group has a fixed position in [0, 100).
	Percent float64
	// Fallback, when set, spills a task to the other runner when the chosen
	// one cannot take it.
	Fallback *Fallback
	// Guard, when set, rolls Percent back to 0 when Kubernetes fails this
	// rule's tasks clearly more often than the Middle Managers do.
	Guard *Guard
}

// Fallback says when a task goes to the other runner instead.
type Fallback struct {
	// NoSlotFor spills when the chosen runner has had no idle slot for at
	// least this long (0: never for lack of slots). ISO-8601 in JSON.
	NoSlotFor time.Duration
	// Unreachable spills when the chosen runner cannot be reached (Kubernetes
	// API down, or no Middle Manager answering).
	Unreachable bool
}

// Guard is the automatic rollback of a canary.
type Guard struct {
	// MaxFailureRateDelta is how many percentage points the Kubernetes
	// failure rate of a task type may exceed the Middle Managers' over the
	// migration window before the rule's Percent is set to 0.
	MaxFailureRateDelta float64
	// MinTasks is how many Kubernetes completions the window must hold
	// before the guard acts; 0 means DefaultGuardMinTasks.
	MinTasks int
}

// Drain keeps new tasks off Middle Managers; running ones finish.
type Drain struct {
	// Worker drains the whole worker side: tasks routed there go to
	// Kubernetes instead.
	Worker bool
	// Workers drains single Middle Managers by host:port: the worker runner
	// assigns them nothing new.
	Workers []string
}

// Matches reports whether t meets every condition of r.
func (r *RoutingRule) Matches(t *task.Task) bool {
	sel := Selector{ContextTags: r.ContextTags, Type: r.Type, DataSource: r.DataSource}
	return sel.Matches(t)
}

// RoutingConfigDoc is the routing config's DocKind.
var RoutingConfigDoc = DocKind[RoutingConfig]{Key: RoutingConfigKey, Name: "routing config",
	Parse: func(data []byte) (*RoutingConfig, error) {
		cfg, _, err := ParseRoutingConfig(data)
		return cfg, err
	}}

// Clone returns a deep copy.
func (c *RoutingConfig) Clone() *RoutingConfig {
	if c == nil {
		return nil
	}
	out := *c
	if c.Overrides != nil {
		out.Overrides = make(map[string]string, len(c.Overrides))
		for k, v := range c.Overrides {
			out.Overrides[k] = v
		}
	}
	out.Rules = make([]RoutingRule, len(c.Rules))
	for i, r := range c.Rules {
		r.Type = slices.Clone(r.Type)
		r.DataSource = slices.Clone(r.DataSource)
		if r.ContextTags != nil {
			tags := make(map[string][]string, len(r.ContextTags))
			for k, v := range r.ContextTags {
				tags[k] = slices.Clone(v)
			}
			r.ContextTags = tags
		}
		if r.Fallback != nil {
			f := *r.Fallback
			r.Fallback = &f
		}
		if r.Guard != nil {
			g := *r.Guard
			r.Guard = &g
		}
		out.Rules[i] = r
	}
	if c.Rules == nil {
		out.Rules = nil
	}
	out.Drain.Workers = slices.Clone(c.Drain.Workers)
	return &out
}

// Rule returns the rule named name.
func (c *RoutingConfig) Rule(name string) (*RoutingRule, bool) {
	if c == nil {
		return nil, false
	}
	for i := range c.Rules {
		if c.Rules[i].Name == name {
			return &c.Rules[i], true
		}
	}
	return nil, false
}

// Validate checks c; errors are *FieldError naming the JSON field.
func (c *RoutingConfig) Validate() error {
	if c == nil {
		return &FieldError{Reason: "routing config is required"}
	}
	runner := func(field, v string) error {
		if v != RunnerK8s && v != RunnerWorker {
			return &FieldError{Field: field, Reason: fmt.Sprintf("must be %q or %q, got %q", RunnerK8s, RunnerWorker, v)}
		}
		return nil
	}
	switch c.Type {
	case RoutingTypeK8s, RoutingTypeWorker:
		if c.Default != "" {
			if err := runner("default", c.Default); err != nil {
				return err
			}
		}
	case RoutingTypeTaskType:
		if c.Default == "" {
			return &FieldError{Field: "default", Reason: fmt.Sprintf("is required when type is %q (%q or %q)", RoutingTypeTaskType, RunnerK8s, RunnerWorker)}
		}
		if err := runner("default", c.Default); err != nil {
			return err
		}
	default:
		return &FieldError{Field: "type", Reason: fmt.Sprintf("must be one of %q, %q, %q; got %q", RoutingTypeK8s, RoutingTypeWorker, RoutingTypeTaskType, c.Type)}
	}
	for _, tt := range sortedKeysOf(c.Overrides) {
		if tt == "" {
			return &FieldError{Field: "overrides", Reason: "task type must not be empty"}
		}
		if err := runner("overrides."+tt, c.Overrides[tt]); err != nil {
			return err
		}
	}
	names := map[string]int{}
	for i, r := range c.Rules {
		field := fmt.Sprintf("rules[%d]", i)
		if strings.TrimSpace(r.Name) == "" {
			return &FieldError{Field: field + ".name", Reason: "is required"}
		}
		if j, dup := names[r.Name]; dup {
			return &FieldError{Field: field + ".name", Reason: fmt.Sprintf("%q is already the name of rules[%d]", r.Name, j)}
		}
		names[r.Name] = i
		if math.IsNaN(r.Percent) || r.Percent < 0 || r.Percent > 100 {
			return &FieldError{Field: field + ".percent", Reason: fmt.Sprintf("must be between 0 and 100, got %v", r.Percent)}
		}
		for tag, vals := range r.ContextTags {
			if vals == nil {
				return &FieldError{Field: field + ".context.tags." + tag, Reason: "must be a list of allowed values, not null"}
			}
		}
		if f := r.Fallback; f != nil && f.NoSlotFor < 0 {
			return &FieldError{Field: field + ".fallback.noSlotFor", Reason: "must not be negative"}
		}
		if g := r.Guard; g != nil {
			if math.IsNaN(g.MaxFailureRateDelta) || g.MaxFailureRateDelta < 0 || g.MaxFailureRateDelta > 100 {
				return &FieldError{Field: field + ".guard.maxFailureRateDelta", Reason: fmt.Sprintf("must be between 0 and 100 percentage points, got %v", g.MaxFailureRateDelta)}
			}
			if g.MinTasks < 0 {
				return &FieldError{Field: field + ".guard.minTasks", Reason: fmt.Sprintf("must be >= 0 (0 = default %d), got %d", DefaultGuardMinTasks, g.MinTasks)}
			}
		}
	}
	for i, w := range c.Drain.Workers {
		if strings.TrimSpace(w) == "" || strings.ContainsAny(w, "/ ") {
			return &FieldError{Field: fmt.Sprintf("drain.workers[%d]", i), Reason: fmt.Sprintf("must be a Middle Manager's host:port, got %q", w)}
		}
	}
	return nil
}

func sortedKeysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ParseRoutingConfig reads a routing config. Druid's runner strategy JSON is
// accepted as is. Values of the wrong JSON type are errors naming the field;
// unknown fields are ignored and returned as warnings.
func ParseRoutingConfig(data []byte) (cfg *RoutingConfig, warnings []string, err error) {
	obj, err := decodeObject(data, "routing config")
	if err != nil {
		return nil, nil, err
	}
	p := &parser{}
	cfg, err = p.routing(obj)
	if err != nil {
		return nil, nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	return cfg, p.warnings, nil
}

func str(field string, raw any) (string, error) {
	if raw == nil {
		return "", nil
	}
	s, ok := raw.(string)
	if !ok {
		return "", &FieldError{Field: field, Reason: "must be a string, got " + jsonKind(raw)}
	}
	return s, nil
}

func num(field string, raw any) (float64, error) {
	n, ok := raw.(json.Number)
	if !ok {
		return 0, &FieldError{Field: field, Reason: "must be a number, got " + jsonKind(raw)}
	}
	f, err := n.Float64()
	if err != nil {
		return 0, &FieldError{Field: field, Reason: fmt.Sprintf("must be a number, got %s", n)}
	}
	return f, nil
}

func boolean(field string, raw any) (bool, error) {
	if raw == nil {
		return false, nil
	}
	b, ok := raw.(bool)
	if !ok {
		return false, &FieldError{Field: field, Reason: "must be true or false, got " + jsonKind(raw)}
	}
	return b, nil
}

func object(field string, raw any) (map[string]any, error) {
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, &FieldError{Field: field, Reason: "must be an object, got " + jsonKind(raw)}
	}
	return m, nil
}

func (p *parser) routing(obj map[string]any) (*RoutingConfig, error) {
	p.unknown("", obj, "type", "default", "overrides", "rules", "drain")
	cfg := &RoutingConfig{}
	var err error
	if cfg.Type, err = str("type", obj["type"]); err != nil {
		return nil, err
	}
	if cfg.Type == "" {
		// Druid's runnerStrategy.type default.
		cfg.Type = RoutingTypeK8s
	}
	if cfg.Default, err = str("default", obj["default"]); err != nil {
		return nil, err
	}
	if raw := obj["overrides"]; raw != nil {
		m, err := object("overrides", raw)
		if err != nil {
			return nil, err
		}
		cfg.Overrides = make(map[string]string, len(m))
		for _, tt := range sortedKeysOf(m) {
			s, err := str("overrides."+tt, m[tt])
			if err != nil {
				return nil, err
			}
			if m[tt] == nil {
				return nil, &FieldError{Field: "overrides." + tt, Reason: fmt.Sprintf("must be %q or %q, not null", RunnerK8s, RunnerWorker)}
			}
			cfg.Overrides[tt] = s
		}
	}
	if raw := obj["rules"]; raw != nil {
		list, ok := raw.([]any)
		if !ok {
			return nil, &FieldError{Field: "rules", Reason: "must be a list of rules, got " + jsonKind(raw)}
		}
		cfg.Rules = make([]RoutingRule, 0, len(list))
		for i, item := range list {
			field := fmt.Sprintf("rules[%d]", i)
			m, err := object(field, item)
			if err != nil {
				return nil, err
			}
			r, err := p.rule(field, m)
			if err != nil {
				return nil, err
			}
			cfg.Rules = append(cfg.Rules, r)
		}
	}
	if raw := obj["drain"]; raw != nil {
		m, err := object("drain", raw)
		if err != nil {
			return nil, err
		}
		p.unknown("drain", m, "worker", "workers")
		if cfg.Drain.Worker, err = boolean("drain.worker", m["worker"]); err != nil {
			return nil, err
		}
		if cfg.Drain.Workers, err = stringList("drain.workers", m["workers"]); err != nil {
			return nil, err
		}
	}
	// Empty and absent lists mean the same; keep one form so a config
	// reads back equal to what was written.
	if len(cfg.Rules) == 0 {
		cfg.Rules = nil
	}
	for i := range cfg.Rules {
		r := &cfg.Rules[i]
		if len(r.Type) == 0 {
			r.Type = nil
		}
		if len(r.DataSource) == 0 {
			r.DataSource = nil
		}
		if len(r.ContextTags) == 0 {
			r.ContextTags = nil
		}
	}
	if len(cfg.Drain.Workers) == 0 {
		cfg.Drain.Workers = nil
	}
	if len(cfg.Overrides) == 0 {
		cfg.Overrides = nil
	}
	return cfg, nil
}

func (p *parser) rule(path string, obj map[string]any) (RoutingRule, error) {
	p.unknown(path, obj, "name", "context.tags", "type", "dataSource", "percent", "fallback", "guard")
	var r RoutingRule
	var err error
	if r.Name, err = str(path+".name", obj["name"]); err != nil {
		return r, err
	}
	// The condition fields are a selector's; reuse its parser with a
	// placeholder key so the messages name the same fields.
	cond := map[string]any{"selectionKey": "-", "type": obj["type"], "dataSource": obj["dataSource"], "context.tags": obj["context.tags"]}
	sel, err := (&parser{}).selector(path, cond)
	if err != nil {
		return r, err
	}
	r.Type, r.DataSource, r.ContextTags = sel.Type, sel.DataSource, sel.ContextTags
	raw, ok := obj["percent"]
	if !ok || raw == nil {
		return r, &FieldError{Field: path + ".percent", Reason: "is required (0 to 100: the share of matching task groups sent to Kubernetes)"}
	}
	if r.Percent, err = num(path+".percent", raw); err != nil {
		return r, err
	}
	if raw := obj["fallback"]; raw != nil {
		m, err := object(path+".fallback", raw)
		if err != nil {
			return r, err
		}
		p.unknown(path+".fallback", m, "noSlotFor", "unreachable")
		f := &Fallback{}
		s, err := str(path+".fallback.noSlotFor", m["noSlotFor"])
		if err != nil {
			return r, err
		}
		if s != "" {
			d, err := isoduration.Parse(s)
			if err != nil {
				return r, &FieldError{Field: path + ".fallback.noSlotFor", Reason: fmt.Sprintf("must be an ISO-8601 duration such as PT2M: %v", err)}
			}
			f.NoSlotFor = d
		}
		if f.Unreachable, err = boolean(path+".fallback.unreachable", m["unreachable"]); err != nil {
			return r, err
		}
		r.Fallback = f
	}
	if raw := obj["guard"]; raw != nil {
		m, err := object(path+".guard", raw)
		if err != nil {
			return r, err
		}
		p.unknown(path+".guard", m, "maxFailureRateDelta", "minTasks")
		g := &Guard{}
		rawDelta, ok := m["maxFailureRateDelta"]
		if !ok || rawDelta == nil {
			return r, &FieldError{Field: path + ".guard.maxFailureRateDelta", Reason: "is required (percentage points)"}
		}
		if g.MaxFailureRateDelta, err = num(path+".guard.maxFailureRateDelta", rawDelta); err != nil {
			return r, err
		}
		if rawMin := m["minTasks"]; rawMin != nil {
			f, err := num(path+".guard.minTasks", rawMin)
			if err != nil {
				return r, err
			}
			if f != math.Trunc(f) || f > math.MaxInt32 {
				return r, &FieldError{Field: path + ".guard.minTasks", Reason: fmt.Sprintf("must be a whole number, got %v", f)}
			}
			g.MinTasks = int(f)
		}
		r.Guard = g
	}
	return r, nil
}

// MarshalJSON writes the routing config in the form ParseRoutingConfig reads.
func (c *RoutingConfig) MarshalJSON() ([]byte, error) {
	type rule struct {
		Name        string              `json:"name"`
		ContextTags map[string][]string `json:"context.tags,omitempty"`
		Type        []string            `json:"type,omitempty"`
		DataSource  []string            `json:"dataSource,omitempty"`
		Percent     float64             `json:"percent"`
		Fallback    any                 `json:"fallback,omitempty"`
		Guard       any                 `json:"guard,omitempty"`
	}
	rules := make([]rule, 0, len(c.Rules))
	for _, r := range c.Rules {
		out := rule{Name: r.Name, ContextTags: r.ContextTags, Type: r.Type, DataSource: r.DataSource, Percent: r.Percent}
		if f := r.Fallback; f != nil {
			fb := map[string]any{"unreachable": f.Unreachable}
			if f.NoSlotFor > 0 {
				fb["noSlotFor"] = isoduration.Format(f.NoSlotFor)
			}
			out.Fallback = fb
		}
		if g := r.Guard; g != nil {
			out.Guard = map[string]any{"maxFailureRateDelta": g.MaxFailureRateDelta, "minTasks": g.MinTasks}
		}
		rules = append(rules, out)
	}
	workers := c.Drain.Workers
	if workers == nil {
		workers = []string{}
	}
	return json.Marshal(struct {
		Type      string            `json:"type"`
		Default   string            `json:"default,omitempty"`
		Overrides map[string]string `json:"overrides,omitempty"`
		Rules     []rule            `json:"rules"`
		Drain     any               `json:"drain"`
	}{c.Type, c.Default, c.Overrides, rules, map[string]any{"worker": c.Drain.Worker, "workers": workers}})
}

// UnmarshalJSON parses with ParseRoutingConfig (unknown fields ignored).
func (c *RoutingConfig) UnmarshalJSON(data []byte) error {
	cfg, _, err := ParseRoutingConfig(data)
	if err != nil {
		return err
	}
	*c = *cfg
	return nil
}
