package dynconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// ConfigKey is the key (and audit type) Druid stores the execution config
// under; audit entries carry it in "key" and "type".
const ConfigKey = "k8s.taskrunner.config"

// Type names in the execution config JSON, as Druid's Jackson subtypes name
// them.
const (
	// ConfigTypeDefault is the only execution config type Druid has
	// (DefaultKubernetesTaskRunnerDynamicConfig).
	ConfigTypeDefault = "default"
	// StrategyTypeDefault is Druid's name for TaskTypePodTemplateSelectStrategy.
	StrategyTypeDefault = "default"
	// StrategyTypeTaskType is accepted as a synonym of StrategyTypeDefault
	// and stored as "default". Druid has no such name, but its Jackson
	// defaultImpl makes any unknown strategy type the task-type strategy, so
	// configs written with "taskType" work in Druid and must work here.
	StrategyTypeTaskType = "taskType"
	// StrategyTypeSelectorBased is SelectorBasedPodTemplateSelectStrategy.
	StrategyTypeSelectorBased = "selectorBased"
	// BaseTemplateKey is the pod template every customTemplateAdapter setup
	// has (druid.indexer.runner.k8s.podTemplate.base) and the fallback of
	// every strategy.
	BaseTemplateKey = "base"
	// PodTemplatePropertyPrefix is where pod template keys come from.
	PodTemplatePropertyPrefix = "druid.indexer.runner.k8s.podTemplate."
)

// MaxCapacity is the largest capacity a config may set (a Java int).
const MaxCapacity = math.MaxInt32

// ExecutionConfig is Druid's KubernetesTaskRunnerDynamicConfig ("type":
// "default"). Both fields are optional since Druid 35 (apache/druid#18591):
// a POST merges the fields it sets over the stored config (see Merge), and
// a nil field in the effective config means "use the static value".
type ExecutionConfig struct {
	// PodTemplateSelectStrategy picks pod templates; nil means the
	// task-type strategy.
	PodTemplateSelectStrategy *Strategy
	// Capacity overrides druid.indexer.runner.capacity, the number of
	// Kubernetes tasks run at once; nil keeps the static value.
	Capacity *int
}

// Strategy is a PodTemplateSelectStrategy: "default" (task type) or
// "selectorBased". A Strategy is immutable once parsed; its SelectTemplate
// method makes it an adapters.TemplateSelector.
type Strategy struct {
	// Type is StrategyTypeDefault or StrategyTypeSelectorBased.
	Type string
	// Selectors, for selectorBased only, are evaluated in order; the first
	// match wins. Never nil for selectorBased.
	Selectors []Selector
}

// Selector is one rule of the selectorBased strategy (Druid's Selector). A
// task matches when every condition that is set matches. nil and empty
// lists are kept apart so the config reads back as it was written, but they
// mean the same: no condition.
type Selector struct {
	// SelectionKey is the pod template key chosen on a match.
	SelectionKey string
	// ContextTags maps a tag name to its allowed values: the task's
	// context.tags must have every named tag with one of the values. nil
	// or empty: no condition. A tag with an empty value list never matches.
	ContextTags map[string][]string
	// Type lists allowed task types; nil or empty: any.
	Type []string
	// DataSource lists allowed datasources; nil or empty: any.
	DataSource []string
}

// DefaultStrategy returns Druid's default, the task-type strategy.
func DefaultStrategy() *Strategy { return &Strategy{Type: StrategyTypeDefault} }

// Merge returns c with the fields update sets laid over it, as Druid's
// DefaultKubernetesTaskRunnerDynamicConfig.merge does for a POST. c may be
// nil (nothing stored yet).
func (c *ExecutionConfig) Merge(update *ExecutionConfig) *ExecutionConfig {
	out := &ExecutionConfig{}
	if c != nil {
		*out = *c
	}
	if update == nil {
		return out
	}
	if update.PodTemplateSelectStrategy != nil {
		out.PodTemplateSelectStrategy = update.PodTemplateSelectStrategy
	}
	if update.Capacity != nil {
		n := *update.Capacity
		out.Capacity = &n
	}
	return out
}

// Strategy returns the configured strategy, or the default when none is
// set. c may be nil.
func (c *ExecutionConfig) Strategy() *Strategy {
	if c == nil || c.PodTemplateSelectStrategy == nil {
		return DefaultStrategy()
	}
	return c.PodTemplateSelectStrategy
}

// Validate checks what parsing cannot: that every selectionKey names a
// configured pod template. templateKeys are the configured keys (the <key>
// of each druid.indexer.runner.k8s.podTemplate.<key>); "base" is always
// allowed. With nil templateKeys (no customTemplateAdapter, so templates are
// not in use) only the structural checks run.
func (c *ExecutionConfig) Validate(templateKeys []string) error {
	if c == nil {
		return &FieldError{Field: "", Reason: "execution config is required"}
	}
	if c.Capacity != nil && (*c.Capacity < 1 || *c.Capacity > MaxCapacity) {
		return &FieldError{Field: "capacity", Reason: fmt.Sprintf("must be between 1 and %d, got %d", MaxCapacity, *c.Capacity)}
	}
	s := c.PodTemplateSelectStrategy
	if s == nil {
		return nil
	}
	switch s.Type {
	case StrategyTypeDefault:
		return nil
	case StrategyTypeSelectorBased:
	default:
		return &FieldError{Field: "podTemplateSelectStrategy.type", Reason: fmt.Sprintf("unknown strategy type %q (known: %s, %s)", s.Type, StrategyTypeDefault, StrategyTypeSelectorBased)}
	}
	if s.Selectors == nil {
		return &FieldError{Field: "podTemplateSelectStrategy.selectors", Reason: "is required for selectorBased"}
	}
	known := map[string]bool{BaseTemplateKey: true}
	for _, k := range templateKeys {
		known[k] = true
	}
	for i, sel := range s.Selectors {
		field := fmt.Sprintf("podTemplateSelectStrategy.selectors[%d]", i)
		if sel.SelectionKey == "" {
			return &FieldError{Field: field + ".selectionKey", Reason: "is required"}
		}
		if templateKeys != nil && !known[sel.SelectionKey] {
			return &FieldError{Field: field + ".selectionKey", Reason: fmt.Sprintf("no pod template %q is configured (set %s%s; configured: %s)",
				sel.SelectionKey, PodTemplatePropertyPrefix, sel.SelectionKey, strings.Join(sortedKeys(known), ", "))}
		}
		for tag, vals := range sel.ContextTags {
			if vals == nil {
				return &FieldError{Field: field + ".context.tags." + tag, Reason: "must be a list of allowed values, not null"}
			}
		}
	}
	return nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// FieldError is bad execution config input: the JSON path of the field
// (e.g. "podTemplateSelectStrategy.selectors[1].selectionKey") and why.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// Parse reads an execution config as Druid's API accepts it, with stricter
// typing:
//
//   - the body must be one JSON object; "type" may be absent or null (Druid's
//     defaultImpl) or "default"; anything else is an error (Druid would
//     silently use the default type, so a typo would go unnoticed);
//   - podTemplateSelectStrategy and capacity may be absent or null (not
//     set); a strategy without "type" is the task-type strategy, as in Druid;
//   - values of the wrong JSON type are errors naming the field, where
//     Jackson would coerce some scalars (a number as selectionKey, "5" as
//     capacity);
//   - unknown fields are ignored, as Druid's ObjectMapper does
//     (FAIL_ON_UNKNOWN_PROPERTIES is off), and returned as warnings so
//     callers can log them — a misspelt condition such as "datasource" would
//     otherwise widen a selector silently.
//
// Parse does not check template keys; call Validate for that.
func Parse(data []byte) (cfg *ExecutionConfig, warnings []string, err error) {
	p := &parser{}
	obj, err := decodeObject(data, "execution config")
	if err != nil {
		return nil, nil, err
	}
	cfg, err = p.config(obj)
	if err != nil {
		return nil, nil, err
	}
	if err := cfg.Validate(nil); err != nil {
		return nil, nil, err
	}
	return cfg, p.warnings, nil
}

// decodeObject reads one JSON object (numbers kept as json.Number) and
// nothing after it; what names the document in errors.
func decodeObject(data []byte, what string) (map[string]any, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, &FieldError{Reason: "request body is empty; expected " + article(what) + " JSON object"}
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, &FieldError{Reason: "invalid JSON: " + jsonErrorText(err)}
	}
	if dec.InputOffset() != int64(len(trimmed)) {
		return nil, &FieldError{Reason: fmt.Sprintf("invalid JSON: unexpected data after the config object at byte %d", dec.InputOffset())}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, &FieldError{Reason: what + " must be a JSON object, got " + jsonKind(v)}
	}
	return obj, nil
}

func article(s string) string {
	if s != "" && strings.ContainsRune("aeiou", rune(s[0])) {
		return "an " + s
	}
	return "a " + s
}

type parser struct{ warnings []string }

func (p *parser) unknown(path string, obj map[string]any, known ...string) {
	var extra []string
	for k := range obj {
		if !slices.Contains(known, k) {
			extra = append(extra, join(path, k))
		}
	}
	sort.Strings(extra)
	for _, f := range extra {
		p.warnings = append(p.warnings, fmt.Sprintf("unknown field %s ignored", f))
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (p *parser) config(obj map[string]any) (*ExecutionConfig, error) {
	p.unknown("", obj, "type", "podTemplateSelectStrategy", "capacity")
	if t, ok := obj["type"]; ok && t != nil {
		s, ok := t.(string)
		if !ok {
			return nil, &FieldError{Field: "type", Reason: "must be a string, got " + jsonKind(t)}
		}
		if s != ConfigTypeDefault {
			return nil, &FieldError{Field: "type", Reason: fmt.Sprintf("unknown execution config type %q (known: %s)", s, ConfigTypeDefault)}
		}
	}
	cfg := &ExecutionConfig{}
	if raw, ok := obj["podTemplateSelectStrategy"]; ok && raw != nil {
		m, ok := raw.(map[string]any)
		if !ok {
			return nil, &FieldError{Field: "podTemplateSelectStrategy", Reason: "must be an object, got " + jsonKind(raw)}
		}
		s, err := p.strategy(m)
		if err != nil {
			return nil, err
		}
		cfg.PodTemplateSelectStrategy = s
	}
	if raw, ok := obj["capacity"]; ok && raw != nil {
		n, ok := raw.(json.Number)
		if !ok {
			return nil, &FieldError{Field: "capacity", Reason: "must be an integer, got " + jsonKind(raw)}
		}
		i, err := n.Int64()
		if err != nil {
			return nil, &FieldError{Field: "capacity", Reason: fmt.Sprintf("must be an integer, got %s", n)}
		}
		if i < 1 || i > MaxCapacity {
			return nil, &FieldError{Field: "capacity", Reason: fmt.Sprintf("must be between 1 and %d, got %d", MaxCapacity, i)}
		}
		c := int(i)
		cfg.Capacity = &c
	}
	return cfg, nil
}

func (p *parser) strategy(obj map[string]any) (*Strategy, error) {
	const path = "podTemplateSelectStrategy"
	typ := StrategyTypeDefault
	if t, ok := obj["type"]; ok && t != nil {
		s, ok := t.(string)
		if !ok {
			return nil, &FieldError{Field: path + ".type", Reason: "must be a string, got " + jsonKind(t)}
		}
		typ = s
	}
	switch typ {
	case StrategyTypeDefault, StrategyTypeTaskType:
		p.unknown(path, obj, "type")
		return DefaultStrategy(), nil
	case StrategyTypeSelectorBased:
	default:
		return nil, &FieldError{Field: path + ".type", Reason: fmt.Sprintf("unknown strategy type %q (known: %s, %s, %s)", typ, StrategyTypeDefault, StrategyTypeTaskType, StrategyTypeSelectorBased)}
	}
	p.unknown(path, obj, "type", "selectors")
	raw, ok := obj["selectors"]
	if !ok || raw == nil {
		return nil, &FieldError{Field: path + ".selectors", Reason: "is required for selectorBased"}
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, &FieldError{Field: path + ".selectors", Reason: "must be a list of selectors, got " + jsonKind(raw)}
	}
	s := &Strategy{Type: StrategyTypeSelectorBased, Selectors: make([]Selector, 0, len(list))}
	for i, item := range list {
		field := fmt.Sprintf("%s.selectors[%d]", path, i)
		m, ok := item.(map[string]any)
		if !ok {
			return nil, &FieldError{Field: field, Reason: "must be an object, got " + jsonKind(item)}
		}
		sel, err := p.selector(field, m)
		if err != nil {
			return nil, err
		}
		s.Selectors = append(s.Selectors, sel)
	}
	return s, nil
}

func (p *parser) selector(path string, obj map[string]any) (Selector, error) {
	p.unknown(path, obj, "selectionKey", "context.tags", "type", "dataSource")
	var sel Selector
	raw, ok := obj["selectionKey"]
	if !ok || raw == nil {
		return sel, &FieldError{Field: path + ".selectionKey", Reason: "is required"}
	}
	key, ok := raw.(string)
	if !ok {
		return sel, &FieldError{Field: path + ".selectionKey", Reason: "must be a string, got " + jsonKind(raw)}
	}
	if key == "" {
		return sel, &FieldError{Field: path + ".selectionKey", Reason: "must not be empty"}
	}
	sel.SelectionKey = key
	var err error
	if sel.Type, err = stringList(path+".type", obj["type"]); err != nil {
		return sel, err
	}
	if sel.DataSource, err = stringList(path+".dataSource", obj["dataSource"]); err != nil {
		return sel, err
	}
	if raw := obj["context.tags"]; raw != nil {
		m, ok := raw.(map[string]any)
		if !ok {
			return sel, &FieldError{Field: path + ".context.tags", Reason: "must be an object of tag name to allowed values, got " + jsonKind(raw)}
		}
		sel.ContextTags = make(map[string][]string, len(m))
		for tag, vals := range m {
			field := path + ".context.tags." + tag
			if vals == nil {
				return sel, &FieldError{Field: field, Reason: "must be a list of allowed values, not null"}
			}
			l, err := stringList(field, vals)
			if err != nil {
				return sel, err
			}
			sel.ContextTags[tag] = l
		}
	}
	return sel, nil
}

// stringList reads a JSON list of strings; null or absent gives nil.
// Duplicates are dropped (Druid reads these lists into sets) keeping the
// first occurrence, so the stored config keeps the operator's order.
func stringList(field string, raw any) ([]string, error) {
	if raw == nil {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, &FieldError{Field: field, Reason: "must be a list of strings, got " + jsonKind(raw)}
	}
	out := make([]string, 0, len(list))
	for i, item := range list {
		s, ok := item.(string)
		if !ok {
			return nil, &FieldError{Field: fmt.Sprintf("%s[%d]", field, i), Reason: "must be a string, got " + jsonKind(item)}
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func jsonErrorText(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v (at byte %d)", se, se.Offset)
	}
	return err.Error()
}

// MarshalJSON writes the config as Druid does: every property, null when
// unset.
func (c *ExecutionConfig) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Type                      string    `json:"type"`
		PodTemplateSelectStrategy *Strategy `json:"podTemplateSelectStrategy"`
		Capacity                  *int      `json:"capacity"`
	}{ConfigTypeDefault, c.PodTemplateSelectStrategy, c.Capacity})
}

// UnmarshalJSON parses with Parse (unknown fields ignored).
func (c *ExecutionConfig) UnmarshalJSON(data []byte) error {
	cfg, _, err := Parse(data)
	if err != nil {
		return err
	}
	*c = *cfg
	return nil
}

// MarshalJSON writes {"type":"default"} or {"type":"selectorBased","selectors":[...]}.
func (s *Strategy) MarshalJSON() ([]byte, error) {
	if s.Type == StrategyTypeSelectorBased {
		sels := s.Selectors
		if sels == nil {
			sels = []Selector{}
		}
		return json.Marshal(struct {
			Type      string     `json:"type"`
			Selectors []Selector `json:"selectors"`
		}{s.Type, sels})
	}
	return json.Marshal(struct {
		Type string `json:"type"`
	}{s.Type})
}

// MarshalJSON writes the selector with Druid's property names and order.
func (s Selector) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		SelectionKey string              `json:"selectionKey"`
		ContextTags  map[string][]string `json:"context.tags"`
		Type         []string            `json:"type"`
		DataSource   []string            `json:"dataSource"`
	}{s.SelectionKey, s.ContextTags, s.Type, s.DataSource})
}
