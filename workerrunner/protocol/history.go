package protocol

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// DefaultHistorySize is ChangeRequestHistory.MAX_SIZE.
const DefaultHistorySize = 1000

// ErrInvalidArgument marks a request the worker refuses as malformed; the
// router answers 400, as Druid does for an IllegalArgumentException.
var ErrInvalidArgument = errors.New("invalid argument")

// ErrShuttingDown is returned to parked long polls when the history is
// closed; Druid fails them with "Server is shutting down." (500).
//
//lint:ignore ST1005 the text is Druid's, byte for byte.
var ErrShuttingDown = errors.New("Server is shutting down.")

// ChangeHistory is Druid's ChangeRequestHistory for WorkerHistoryItems: a
// bounded list of changes, each with a Counter, that answers "what changed
// since counter C" and parks callers until something changes.
//
// The rules are the newest Druid's (ChangeRequestHistory at ac846cd98145):
// a caller at the last counter with the same hash waits; the same counter
// with another hash, a counter beyond the last one, a counter too old for the
// kept history, or a counter whose stored hash differs gets a reset.
type ChangeHistory struct {
	maxSize int
	now     func() time.Time

	mu      sync.Mutex
	entries []historyEntry // consecutive counters, oldest first
	changed chan struct{}  // closed and replaced on every Add
	closed  bool
}

type historyEntry struct {
	item    WorkerHistoryItem
	counter Counter
}

// NewChangeHistory returns an empty history keeping maxSize entries
// (DefaultHistorySize when ≤ 0). now stamps hashes; nil means time.Now.
func NewChangeHistory(maxSize int, now func() time.Time) *ChangeHistory {
	if maxSize <= 0 {
		maxSize = DefaultHistorySize
	}
	if now == nil {
		now = time.Now
	}
	return &ChangeHistory{maxSize: maxSize, now: now, changed: make(chan struct{})}
}

// Add records changes, each under the next counter, and wakes parked
// callers. Adding nothing wakes nobody. It returns the last counter.
func (h *ChangeHistory) Add(items ...WorkerHistoryItem) Counter {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || len(items) == 0 {
		return h.lastLocked()
	}
	for _, it := range items {
		next := Counter{Counter: h.lastLocked().Counter + 1, Hash: h.now().UnixMilli()}
		if len(h.entries) == h.maxSize {
			copy(h.entries, h.entries[1:])
			h.entries = h.entries[:len(h.entries)-1]
		}
		h.entries = append(h.entries, historyEntry{item: it, counter: next})
	}
	close(h.changed)
	h.changed = make(chan struct{})
	return h.lastLocked()
}

// LastCounter returns the newest entry's counter, or CounterZero when empty.
func (h *ChangeHistory) LastCounter() Counter {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastLocked()
}

func (h *ChangeHistory) lastLocked() Counter {
	if len(h.entries) == 0 {
		return CounterZero
	}
	return h.entries[len(h.entries)-1].counter
}

// Close wakes every parked caller with ErrShuttingDown and makes later calls
// fail the same way; Add becomes a no-op.
func (h *ChangeHistory) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	close(h.changed)
}

// Since answers at once: the changes after c (possibly none, when c is the
// last counter), or a reset snapshot. A negative counter is an
// ErrInvalidArgument.
func (h *ChangeHistory) Since(c Counter) (ChangeRequestsSnapshot, error) {
	if c.Counter < 0 {
		return ChangeRequestsSnapshot{}, fmt.Errorf("counter[%s] must be >= 0: %w", c, ErrInvalidArgument)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ChangeRequestsSnapshot{}, ErrShuttingDown
	}
	last := h.lastLocked()
	if c.Counter == last.Counter {
		if !c.Matches(last) {
			return ResetSnapshot(fmt.Sprintf("counter[%s] failed to match with [%s]", c, last)), nil
		}
		return SuccessSnapshot(c, nil), nil
	}
	return h.sinceLocked(c, last), nil
}

// Wait is Since that parks while c is the last counter (with a matching
// hash) until a change is added, ctx ends (ctx.Err()) or the history is
// closed (ErrShuttingDown). It never returns an empty success snapshot.
func (h *ChangeHistory) Wait(ctx context.Context, c Counter) (ChangeRequestsSnapshot, error) {
	if c.Counter < 0 {
		return ChangeRequestsSnapshot{}, fmt.Errorf("counter[%s] must be >= 0: %w", c, ErrInvalidArgument)
	}
	for {
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return ChangeRequestsSnapshot{}, ErrShuttingDown
		}
		last := h.lastLocked()
		if c.Counter != last.Counter {
			s := h.sinceLocked(c, last)
			h.mu.Unlock()
			return s, nil
		}
		if !c.Matches(last) {
			h.mu.Unlock()
			return ResetSnapshot(fmt.Sprintf("counter[%s] failed to match with [%s]", c, last)), nil
		}
		changed := h.changed
		h.mu.Unlock()
		select {
		case <-ctx.Done():
			return ChangeRequestsSnapshot{}, ctx.Err()
		case <-changed:
		}
	}
}

// sinceLocked is getRequestsSinceWithoutWait for c != last.
func (h *ChangeHistory) sinceLocked(c, last Counter) ChangeRequestsSnapshot {
	switch {
	case c.Counter >= last.Counter:
		return ResetSnapshot(fmt.Sprintf("counter[%s] >= last counter[%s]", c, last))
	case last.Counter-c.Counter >= int64(h.maxSize):
		// One more entry than requested is needed to check the hash, so even
		// exactly maxSize kept changes cannot serve this counter.
		return ResetSnapshot(fmt.Sprintf(
			"can't serve request, not enough history is kept. given counter [%s] and current last counter [%s]", c, last))
	}
	start := int(c.Counter + int64(len(h.entries)) - last.Counter)
	match := CounterZero
	if c.Counter != 0 {
		if start-1 < 0 {
			// Entries before this counter were dropped without the history
			// being that far ahead; cannot happen with consecutive counters.
			return ResetSnapshot(fmt.Sprintf("counter[%s] failed to match with [%s]", c, last))
		}
		match = h.entries[start-1].counter
	}
	if !match.Matches(c) {
		return ResetSnapshot(fmt.Sprintf("counter[%s] failed to match with [%s]", c, last))
	}
	items := make([]WorkerHistoryItem, 0, len(h.entries)-start)
	for _, e := range h.entries[start:] {
		items = append(items, e.item)
	}
	return SuccessSnapshot(last, items)
}
