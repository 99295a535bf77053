package dynconfig

import (
	"context"
	"errors"
)

// ErrCorrupt marks a store whose persisted state cannot be read back. The
// store refuses to start rather than replace it, so an operator can inspect
// or restore the file.
var ErrCorrupt = errors.New("dynamic config store is corrupt")

// UpdateFunc computes the execution config to store from the current one
// (nil when never set); see DocStore.Update.
type UpdateFunc = func(current *ExecutionConfig) (*ExecutionConfig, error)

// Store persists the execution config and its audit history.
type Store = DocStore[ExecutionConfig]

// DocKind describes one kind of dynamic config document (the execution
// config, the routing config): the key its audit entries carry and how its
// stored JSON is read back. Each kind has its own store (its own file or
// ConfigMap), so one document's history never crowds out the other's.
type DocKind[T any] struct {
	// Key is the audit key and type, as Druid's config keys.
	Key string
	// Name names the document in messages ("execution config").
	Name string
	// Parse reads and validates stored JSON.
	Parse func(data []byte) (*T, error)
}

// ExecutionConfigDoc is the execution config's DocKind.
var ExecutionConfigDoc = DocKind[ExecutionConfig]{Key: ConfigKey, Name: "execution config",
	Parse: func(data []byte) (*ExecutionConfig, error) {
		cfg, _, err := Parse(data)
		return cfg, err
	}}

// DocStore persists one dynamic config document and its audit history.
// Implementations are safe for concurrent use. The embedded FileStore is the
// default; a Kubernetes ConfigMap store (optimistic concurrency on
// resourceVersion, watched) fits the same interface.
type DocStore[T any] interface {
	// Get returns the stored config, or nil when none was ever set.
	Get(ctx context.Context) (*T, error)
	// Update atomically replaces the config with fn(current) and appends an
	// audit entry for it by info; it returns the stored config and entry.
	// The history is capped, oldest entries dropping first.
	// fn computes the document to store from the current one (nil when
	// never set); its error aborts the update and nothing is stored. A store
	// with optimistic concurrency may call it more than once.
	Update(ctx context.Context, info AuditInfo, fn func(current *T) (*T, error)) (*T, AuditEntry, error)
	// History returns audit entries per q (see HistoryQuery); never nil.
	History(ctx context.Context, q HistoryQuery) ([]AuditEntry, error)
	// Subscribe calls fn with the new config after every change this store
	// sees — its own Updates, and for shared stores changes made by other
	// replicas — until the returned cancel is called. fn must not block.
	Subscribe(fn func(*T)) (cancel func())
}
