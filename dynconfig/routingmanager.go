package dynconfig

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
)

// RoutingManager holds the live routing config: the stored one when set,
// else the static one from the runtime properties (Druid's runner strategy),
// which is the starting value. Listeners hear of every change, whichever
// replica made it. Safe for concurrent use.
type RoutingManager struct {
	static *RoutingConfig
	store  DocStore[RoutingConfig]
	log    *slog.Logger

	current     atomic.Pointer[RoutingConfig] // the stored one; nil when never set
	unsubscribe func()
	refreshMu   sync.Mutex

	mu        sync.Mutex
	listeners map[int]func(*RoutingConfig)
	nextID    int
}

// NewRoutingManager loads the stored routing config and follows the store's
// changes until Close. static must be valid; it is what is in force until
// the first POST.
func NewRoutingManager(ctx context.Context, static *RoutingConfig, store DocStore[RoutingConfig], log *slog.Logger) (*RoutingManager, error) {
	if store == nil {
		return nil, errors.New("routing config manager: store is required")
	}
	if err := static.Validate(); err != nil {
		return nil, fmt.Errorf("routing config manager: static routing config: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	m := &RoutingManager{static: static.Clone(), store: store, log: log, listeners: map[int]func(*RoutingConfig){}}
	m.unsubscribe = store.Subscribe(func(*RoutingConfig) {
		if err := m.refresh(context.Background()); err != nil {
			m.log.Warn("reload routing config after a change", "error", err)
		}
	})
	if err := m.refresh(ctx); err != nil {
		m.unsubscribe()
		return nil, fmt.Errorf("load routing config: %w", err)
	}
	return m, nil
}

// refresh makes the store's current config live and tells the listeners
// when it changed.
func (m *RoutingManager) refresh(ctx context.Context) error {
	m.refreshMu.Lock()
	defer m.refreshMu.Unlock()
	cur, err := m.store.Get(ctx)
	if err != nil {
		return err
	}
	if prev := m.current.Swap(cur); prev == cur {
		return nil
	}
	eff := m.Current()
	m.mu.Lock()
	ls := make([]func(*RoutingConfig), 0, len(m.listeners))
	for _, l := range m.listeners {
		ls = append(ls, l)
	}
	m.mu.Unlock()
	for _, l := range ls {
		l(eff)
	}
	return nil
}

// Close stops following the store.
func (m *RoutingManager) Close() error {
	m.unsubscribe()
	return nil
}

// Current returns the routing config in force: the stored one, else the
// static one. Callers must not modify it.
func (m *RoutingManager) Current() *RoutingConfig {
	if cur := m.current.Load(); cur != nil {
		return cur
	}
	return m.static
}

// Stored reports whether a routing config was ever POSTed (else the static
// one is in force).
func (m *RoutingManager) Stored() bool { return m.current.Load() != nil }

// Subscribe calls fn with the config in force after every change, until
// the returned cancel is called. fn must not block.
func (m *RoutingManager) Subscribe(fn func(*RoutingConfig)) (cancel func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := m.nextID
	m.nextID++
	m.listeners[id] = fn
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		delete(m.listeners, id)
	}
}

// Set replaces the routing config with cfg (a routing config is small and
// read as a whole, so a POST replaces it rather than merging), stores it
// with an audit entry by info and makes it live. On error nothing is stored;
// bad input is a *FieldError.
func (m *RoutingManager) Set(ctx context.Context, cfg *RoutingConfig, info AuditInfo) (*RoutingConfig, error) {
	if cfg == nil {
		return nil, &FieldError{Reason: "routing config is required"}
	}
	return m.Update(ctx, info, func(*RoutingConfig) (*RoutingConfig, error) { return cfg.Clone(), nil })
}

// Update stores fn(current in force) with an audit entry by info; fn gets a
// copy it may change. Drain changes and guard rollbacks use it so they
// change only their part, even against a concurrent POST on another
// replica (the store re-runs fn on a conflict).
func (m *RoutingManager) Update(ctx context.Context, info AuditInfo, fn func(cur *RoutingConfig) (*RoutingConfig, error)) (*RoutingConfig, error) {
	stored, _, err := m.store.Update(ctx, info, func(cur *RoutingConfig) (*RoutingConfig, error) {
		if cur == nil {
			cur = m.static
		}
		next, err := fn(cur.Clone())
		if err != nil {
			return nil, err
		}
		if err := next.Validate(); err != nil {
			return nil, err
		}
		return next, nil
	})
	if err != nil {
		return nil, err
	}
	if err := m.refresh(ctx); err != nil {
		m.log.Warn("reload routing config after update", "error", err)
	}
	m.log.Info("routing config updated", "author", info.Author, "comment", info.Comment, "ip", info.IP)
	return stored, nil
}

// History returns audit entries per q.
func (m *RoutingManager) History(ctx context.Context, q HistoryQuery) ([]AuditEntry, error) {
	return m.store.History(ctx, q)
}
