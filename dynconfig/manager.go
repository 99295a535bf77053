package dynconfig

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"

	"github.com/taskgate/taskgate/task"
)

// DefaultStaticCapacity is Druid's druid.indexer.runner.capacity default
// (Integer.MAX_VALUE), reported as the effective capacity when neither the
// static nor the dynamic config sets one.
const DefaultStaticCapacity = MaxCapacity

// ManagerConfig configures a Manager.
type ManagerConfig struct {
	// TemplateKeys are the configured pod template keys (the <key> of each
	// druid.indexer.runner.k8s.podTemplate.<key>); selectionKeys must be
	// among them or "base". nil disables the check (no
	// customTemplateAdapter).
	TemplateKeys []string
	// StaticCapacity is druid.indexer.runner.capacity, the effective
	// capacity while the dynamic config sets none. 0 means
	// DefaultStaticCapacity.
	StaticCapacity int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Validate checks c.
func (c ManagerConfig) Validate() error {
	if c.StaticCapacity < 0 {
		return fmt.Errorf("static capacity must be >= 0 (0 = default), got %d", c.StaticCapacity)
	}
	return nil
}

// Manager holds the live execution config: the stored one, kept in an
// atomic pointer so every task sees the latest POST without locks, and
// refreshed from the store's change feed (so shared stores propagate other
// replicas' changes). Safe for concurrent use.
type Manager struct {
	cfg         ManagerConfig
	store       Store
	log         *slog.Logger
	current     atomic.Pointer[ExecutionConfig] // nil when never set
	unsubscribe func()
	// refreshMu orders refreshes: each reads the store's latest config, so
	// the last refresh stores the newest one whatever order change
	// notifications arrive in.
	refreshMu sync.Mutex
	checker   atomic.Pointer[Checker]
}

// Checker looks at a POSTed execution config (the fields the POST sets,
// before the merge) before it is stored, beyond what the model can check
// alone (the adapters lint the pod templates it selects). An error refuses the POST (a *FieldError names the field);
// warnings are logged.
type Checker func(cfg *ExecutionConfig) (warnings []string, err error)

// SetChecker installs the check every Set runs; nil removes it. The
// checker is set after construction because what checks (the Kubernetes
// runner's adapter) is built after the Manager it reads.
func (m *Manager) SetChecker(c Checker) {
	if c == nil {
		m.checker.Store(nil)
		return
	}
	m.checker.Store(&c)
}

// NewManager loads the current config from store and follows its changes
// until Close.
func NewManager(ctx context.Context, cfg ManagerConfig, store Store) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("execution config manager: %w", err)
	}
	if store == nil {
		return nil, errors.New("execution config manager: store is required")
	}
	if cfg.StaticCapacity == 0 {
		cfg.StaticCapacity = DefaultStaticCapacity
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.TemplateKeys = slices.Clone(cfg.TemplateKeys)
	m := &Manager{cfg: cfg, store: store, log: cfg.Logger}
	m.unsubscribe = store.Subscribe(func(*ExecutionConfig) {
		if err := m.refresh(context.Background()); err != nil {
			m.log.Warn("reload execution config after a change", "error", err)
		}
	})
	if err := m.refresh(ctx); err != nil {
		m.unsubscribe()
		return nil, fmt.Errorf("load execution config: %w", err)
	}
	if cur := m.current.Load(); cur != nil {
		if err := cur.Validate(cfg.TemplateKeys); err != nil {
			// Templates may have been removed from the static config since;
			// selection falls back to base for them, as in Druid.
			m.log.Warn("stored execution config does not match the configured pod templates; tasks its selectors pick fall back to base", "error", err)
		}
	}
	return m, nil
}

// refresh makes the store's current config live.
func (m *Manager) refresh(ctx context.Context) error {
	m.refreshMu.Lock()
	defer m.refreshMu.Unlock()
	cur, err := m.store.Get(ctx)
	if err != nil {
		return err
	}
	m.current.Store(cur)
	return nil
}

// Close stops following the store.
func (m *Manager) Close() error {
	m.unsubscribe()
	return nil
}

// Stored returns the stored config, nil when never set.
func (m *Manager) Stored() *ExecutionConfig { return m.current.Load() }

// Effective returns what is in force: the stored fields, the task-type
// strategy when none is set, and the static capacity when none is set (as
// Druid's GET reports since apache/druid#18591).
func (m *Manager) Effective() *ExecutionConfig {
	cur := m.current.Load()
	out := &ExecutionConfig{PodTemplateSelectStrategy: cur.Strategy()}
	c := m.cfg.StaticCapacity
	if cur != nil && cur.Capacity != nil {
		c = *cur.Capacity
	}
	out.Capacity = &c
	return out
}

// Capacity returns the effective capacity.
func (m *Manager) Capacity() int { return *m.Effective().Capacity }

// Strategy returns the strategy in force now.
func (m *Manager) Strategy() *Strategy { return m.current.Load().Strategy() }

// Selector returns a TemplateSelector that reads the live strategy on every
// call, so the next task sees a change; a task keeps the template chosen at
// its own selection.
//
//	var _ adapters.TemplateSelector = m.Selector()
func (m *Manager) Selector() LiveSelector { return LiveSelector{m: m} }

// LiveSelector is Manager.Selector's result.
type LiveSelector struct{ m *Manager }

// SelectTemplate implements adapters.TemplateSelector with the strategy in
// force at the call.
func (s LiveSelector) SelectTemplate(t *task.Task, available map[string]*corev1.PodTemplate) (string, string, error) {
	return s.m.Strategy().SelectTemplate(t, available)
}

// Set merges update over the stored config (Druid's POST semantics: fields
// update leaves nil keep their stored values), validates the result against
// the configured templates, stores it with an audit entry by info, and
// makes it live. On error nothing is stored and a *FieldError says why for
// bad input.
func (m *Manager) Set(ctx context.Context, update *ExecutionConfig, info AuditInfo) (*ExecutionConfig, error) {
	if update == nil {
		return nil, &FieldError{Reason: "execution config is required"}
	}
	var warnings []string
	stored, _, err := m.store.Update(ctx, info, func(cur *ExecutionConfig) (*ExecutionConfig, error) {
		next := cur.Merge(update)
		if err := next.Validate(m.cfg.TemplateKeys); err != nil {
			return nil, err
		}
		if c := m.checker.Load(); c != nil {
			// The POSTed part only: a capacity change must not be refused
			// because a stored selector's template broke since.
			w, err := (*c)(update)
			if err != nil {
				return nil, err
			}
			warnings = w
		}
		return next, nil
	})
	for _, w := range warnings {
		m.log.Warn("execution config: "+w, "author", info.Author)
	}
	if err != nil {
		return nil, err
	}
	// The store's notification usually did this already; refreshing here
	// makes the POST visible to the next task even with a store that
	// notifies late.
	if err := m.refresh(ctx); err != nil {
		m.log.Warn("reload execution config after update", "error", err)
		m.current.Store(stored)
	}
	m.log.Info("execution config updated", "author", info.Author, "comment", info.Comment, "ip", info.IP)
	return stored, nil
}

// History returns audit entries per q.
func (m *Manager) History(ctx context.Context, q HistoryQuery) ([]AuditEntry, error) {
	return m.store.History(ctx, q)
}
