// Package task holds Druid's wire types as taskgate sees them: a task's JSON
// (kept byte-exact, with the few common fields routing and running need parsed
// out), the status a task ends with, where it runs, and the runner-side states.
//
// The raw JSON is the source of truth: taskgate never re-serialises a task it
// passes on, because peons and Middle Managers must see exactly what the
// Overlord sent, including fields this package does not know.
package task

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Context keys taskgate reads from a task's context.
const (
	ContextKeyPriority = "priority"
	ContextKeyTags     = "tags"
)

// Druid's default lock priorities (Tasks.DEFAULT_*_TASK_PRIORITY), used when a
// task's context does not set "priority".
const (
	DefaultRealtimePriority   = 75
	DefaultBatchIndexPriority = 50
	DefaultMergePriority      = 25
	DefaultPriority           = 0
)

// Resource is Druid's TaskResource: tasks of one availability group never run
// together on a worker, and a task takes RequiredCapacity slots.
type Resource struct {
	AvailabilityGroup string `json:"availabilityGroup"`
	RequiredCapacity  int    `json:"requiredCapacity"`
}

// Task is one Druid task: the original JSON plus its common fields.
type Task struct {
	// Type is the task type, e.g. "index_parallel", "index_kafka", "compact".
	Type string
	// ID is the task id.
	ID string
	// GroupID is the task's group; Druid defaults it to ID.
	GroupID string
	// DataSource is the task's datasource; empty for tasks that have none.
	DataSource string
	// Resource is the task's resource; defaults to (ID, 1).
	Resource Resource
	// Context is the task context as raw JSON values, keyed by context key.
	Context map[string]json.RawMessage
	// Tags is context.tags: free-form string labels used by pod template
	// selectors and routing rules.
	Tags map[string]string
	// Priority is context.priority, or the Druid default for the task type.
	Priority int

	raw []byte
}

// Raw returns the task JSON exactly as it was parsed. Callers must not modify it.
func (t *Task) Raw() []byte { return t.raw }

// MarshalJSON returns the original JSON, so embedding a Task in a response
// passes the task on unchanged.
func (t *Task) MarshalJSON() ([]byte, error) {
	if len(t.raw) == 0 {
		return nil, errors.New("task has no raw JSON")
	}
	return t.raw, nil
}

// FieldError reports a task field that failed validation.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return fmt.Sprintf("task field %q: %s", e.Field, e.Reason) }

// wireTask is the subset of task JSON that Parse reads.
type wireTask struct {
	Type       *string                    `json:"type"`
	ID         *string                    `json:"id"`
	GroupID    *string                    `json:"groupId"`
	DataSource *string                    `json:"dataSource"`
	Resource   *wireResource              `json:"resource"`
	Context    map[string]json.RawMessage `json:"context"`
	// Ingestion tasks (index, index_parallel, index_kafka, ...) carry their
	// datasource in the data schema and Druid takes it from there.
	Spec *struct {
		DataSchema *wireDataSchema `json:"dataSchema"`
	} `json:"spec"`
	DataSchema *wireDataSchema `json:"dataSchema"`
}

type wireDataSchema struct {
	DataSource *string `json:"dataSource"`
}

// dataSource returns the top-level dataSource, else the one in
// spec.dataSchema, else the one in a top-level dataSchema.
func (w *wireTask) dataSource() string {
	switch {
	case w.DataSource != nil && *w.DataSource != "":
		return *w.DataSource
	case w.Spec != nil && w.Spec.DataSchema != nil && w.Spec.DataSchema.DataSource != nil:
		return *w.Spec.DataSchema.DataSource
	case w.DataSchema != nil && w.DataSchema.DataSource != nil:
		return *w.DataSchema.DataSource
	}
	return ""
}

type wireResource struct {
	AvailabilityGroup *string `json:"availabilityGroup"`
	RequiredCapacity  *int    `json:"requiredCapacity"`
}

// Parse reads a Druid task JSON object. The id is required: taskgate runs
// tasks the Overlord has already named (the Overlord generates ids for tasks
// submitted without one).
func Parse(raw []byte) (*Task, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, &FieldError{Field: "task", Reason: "must be a JSON object"}
	}
	var w wireTask
	if err := json.Unmarshal(trimmed, &w); err != nil {
		return nil, fieldErrorFromJSON(err)
	}
	t := &Task{raw: append([]byte(nil), raw...), Context: w.Context}
	if w.Type == nil || *w.Type == "" {
		return nil, &FieldError{Field: "type", Reason: "is required"}
	}
	t.Type = *w.Type
	if w.ID == nil || *w.ID == "" {
		return nil, &FieldError{Field: "id", Reason: "is required"}
	}
	if err := ValidateID(*w.ID); err != nil {
		return nil, err
	}
	t.ID = *w.ID
	t.GroupID = t.ID
	if w.GroupID != nil && *w.GroupID != "" {
		t.GroupID = *w.GroupID
	}
	t.DataSource = w.dataSource()
	t.Resource = Resource{AvailabilityGroup: t.ID, RequiredCapacity: 1}
	if w.Resource != nil {
		if w.Resource.AvailabilityGroup != nil && *w.Resource.AvailabilityGroup != "" {
			t.Resource.AvailabilityGroup = *w.Resource.AvailabilityGroup
		}
		if w.Resource.RequiredCapacity != nil {
			if *w.Resource.RequiredCapacity < 1 {
				return nil, &FieldError{Field: "resource.requiredCapacity", Reason: "must be at least 1"}
			}
			t.Resource.RequiredCapacity = *w.Resource.RequiredCapacity
		}
	}
	t.Priority = DefaultPriorityFor(t.Type)
	if p, ok := t.Context[ContextKeyPriority]; ok && !isNull(p) {
		n, err := parseIntValue(p)
		if err != nil {
			return nil, &FieldError{Field: "context.priority", Reason: err.Error()}
		}
		t.Priority = n
	}
	if tags, ok := t.Context[ContextKeyTags]; ok && !isNull(tags) {
		m, err := parseTags(tags)
		if err != nil {
			return nil, &FieldError{Field: "context.tags", Reason: err.Error()}
		}
		t.Tags = m
	}
	return t, nil
}

// ValidateID applies Druid's task id rules (IdUtils.validateId): not empty,
// no '/', not starting with '.', and no whitespace other than a plain space.
func ValidateID(id string) error {
	switch {
	case id == "":
		return &FieldError{Field: "id", Reason: "is required"}
	case strings.HasPrefix(id, "."):
		return &FieldError{Field: "id", Reason: "cannot start with '.'"}
	case strings.Contains(id, "/"):
		return &FieldError{Field: "id", Reason: "cannot contain '/'"}
	}
	for _, r := range id {
		if r != ' ' && (r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f' || r == 0x85 || r == 0xA0 || isUnicodeSpace(r)) {
			return &FieldError{Field: "id", Reason: "cannot contain whitespace other than space"}
		}
	}
	return nil
}

// ContextString returns a context value that is a JSON string.
func (t *Task) ContextString(key string) (string, bool) {
	v, ok := t.Context[key]
	if !ok {
		return "", false
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false
	}
	return s, true
}

// DefaultPriorityFor returns Druid's default priority for a task type.
func DefaultPriorityFor(taskType string) int {
	switch taskType {
	case "index_kafka", "index_kinesis", "index_realtime", "index_realtime_appenderator":
		return DefaultRealtimePriority
	case "index", "index_parallel", "index_hadoop", "single_phase_sub_task",
		"partial_index_generate", "partial_dimension_distribution", "partial_dimension_cardinality",
		"partial_range_index_generate", "partial_index_generic_merge",
		"query_controller", "query_worker":
		return DefaultBatchIndexPriority
	case "compact", "merge", "append":
		return DefaultMergePriority
	default:
		return DefaultPriority
	}
}
