package routing

import (
	"context"
	"fmt"
	"io"

	"github.com/taskgate/taskgate/task"
)

// NotConfigured is a Runner that runs nothing: every Run fails with
// ErrNotConfigured and it knows no tasks. The gateway wires it in place of a
// runner that is not set up, so a task routed there gets a clear error
// instead of silently never running.
type NotConfigured struct {
	name   string
	reason string
}

// NewNotConfigured returns a runner named name whose Run fails with reason.
func NewNotConfigured(name, reason string) *NotConfigured {
	return &NotConfigured{name: name, reason: reason}
}

// Name implements Runner.
func (n *NotConfigured) Name() string { return n.name }

// Start implements Runner.
func (n *NotConfigured) Start(context.Context) error { return nil }

// Stop implements Runner.
func (n *NotConfigured) Stop(context.Context) error { return nil }

// Restore implements Runner; there is nothing to restore.
func (n *NotConfigured) Restore(context.Context) ([]WorkItem, error) { return nil, nil }

// Run implements Runner and always fails.
// The caller (Hybrid) already names the task and the runner.
func (n *NotConfigured) Run(context.Context, *task.Task) error {
	return fmt.Errorf("%w: %s", ErrNotConfigured, n.reason)
}

// Shutdown implements Runner; unknown ids are a no-op.
func (n *NotConfigured) Shutdown(context.Context, string, string) error { return nil }

// Get implements Runner.
func (n *NotConfigured) Get(string) (WorkItem, bool) { return WorkItem{}, false }

// StreamLog implements Runner.
func (n *NotConfigured) StreamLog(context.Context, string, int64) (io.ReadCloser, bool, error) {
	return nil, false, nil
}

// Running implements Runner.
func (n *NotConfigured) Running() []WorkItem { return nil }

// Pending implements Runner.
func (n *NotConfigured) Pending() []WorkItem { return nil }

// Known implements Runner.
func (n *NotConfigured) Known() []WorkItem { return nil }

// TotalSlots implements Runner.
func (n *NotConfigured) TotalSlots() map[string]int { return map[string]int{} }

// IdleSlots implements Runner.
func (n *NotConfigured) IdleSlots() map[string]int { return map[string]int{} }

// UsedSlots implements Runner.
func (n *NotConfigured) UsedSlots() map[string]int { return map[string]int{} }

// TotalCapacity implements Runner: unknown.
func (n *NotConfigured) TotalCapacity() int { return -1 }

// UsedCapacity implements Runner: unknown.
func (n *NotConfigured) UsedCapacity() int { return -1 }

// Subscribe implements Runner; no events ever come.
func (n *NotConfigured) Subscribe(Listener) func() { return func() {} }

var _ Runner = (*NotConfigured)(nil)

// Unreachable implements Reachability: a runner that is not set up can
// never take a spilled task.
func (n *NotConfigured) Unreachable() string { return "not configured: " + n.reason }
