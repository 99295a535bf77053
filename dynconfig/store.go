package dynconfig

import (
	"context"
	"errors"
)

// ErrCorrupt marks a store whose persisted state cannot be read back. The
// store refuses to start rather than replace it, so an operator can inspect
// or restore the file.
var ErrCorrupt = errors.New("execution config store is corrupt")

// UpdateFunc computes the config to store from the current one (nil when
// never set). An error aborts the update and nothing is stored. A store with
// optimistic concurrency may call it more than once.
type UpdateFunc func(current *ExecutionConfig) (*ExecutionConfig, error)

// Store persists the execution config and its audit history. Implementations
// are safe for concurrent use. The embedded FileStore is the default; a
// Kubernetes ConfigMap store (optimistic concurrency on resourceVersion,
// watched) fits the same interface.
type Store interface {
	// Get returns the stored config, or nil when none was ever set.
	Get(ctx context.Context) (*ExecutionConfig, error)
	// Update atomically replaces the config with fn(current) and appends an
	// audit entry for it by info; it returns the stored config and entry.
	// The history is capped, oldest entries dropping first.
	Update(ctx context.Context, info AuditInfo, fn UpdateFunc) (*ExecutionConfig, AuditEntry, error)
	// History returns audit entries per q (see HistoryQuery); never nil.
	History(ctx context.Context, q HistoryQuery) ([]AuditEntry, error)
	// Subscribe calls fn with the new config after every change this store
	// sees — its own Updates, and for shared stores changes made by other
	// replicas — until the returned cancel is called. fn must not block.
	Subscribe(fn func(*ExecutionConfig)) (cancel func())
}
