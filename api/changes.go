package api

import (
	"sync"
	"time"

	"github.com/taskgate/taskgate/routing"
)

// changeLog is the change feed's memory: the last len(buf) runner events,
// numbered by a counter that only grows.
//
// Counters start at the server's start time in microseconds rather than at
// zero. A client that followed a previous server instance then holds a
// counter below this instance's first one, which reads as "too old" and gets
// reset=true, instead of silently skipping this instance's first events.
//
// Waiters do not get goroutines: each holds the current notify channel, which
// add closes (and replaces) to wake them all at once.
type changeLog struct {
	mu     sync.Mutex
	buf    []ChangeEvent
	base   int64 // counter before the first event
	head   int64 // counter of the newest event (base when none)
	notify chan struct{}
	closed bool
}

func newChangeLog(size int, start time.Time) *changeLog {
	base := start.UnixMicro()
	return &changeLog{buf: make([]ChangeEvent, size), base: base, head: base, notify: make(chan struct{})}
}

// add numbers e and wakes waiters. It is the runner Listener: it never blocks
// beyond the mutex.
func (c *changeLog) add(e routing.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if e.Status != nil {
		st := *e.Status // the runner may reuse its value; keep our own
		e.Status = &st
	}
	c.head++
	c.buf[c.head%int64(len(c.buf))] = ChangeEvent{Counter: c.head, Event: e}
	close(c.notify)
	c.notify = make(chan struct{})
}

// read returns the events after since. When there are none yet it also
// returns a channel that is closed when that may have changed (nil once the
// log is closed, so callers stop waiting).
func (c *changeLog) read(since int64) (ChangesResponse, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	oldest := c.head - int64(len(c.buf)) // events after oldest are still held
	if oldest < c.base {
		oldest = c.base
	}
	if since < oldest || since > c.head {
		return ChangesResponse{Counter: c.head, Events: []ChangeEvent{}, Reset: true}, nil
	}
	if since == c.head {
		resp := ChangesResponse{Counter: c.head, Events: []ChangeEvent{}}
		if c.closed {
			return resp, nil
		}
		return resp, c.notify
	}
	events := make([]ChangeEvent, 0, c.head-since)
	for n := since + 1; n <= c.head; n++ {
		events = append(events, c.buf[n%int64(len(c.buf))])
	}
	return ChangesResponse{Counter: c.head, Events: events}, nil
}

// close wakes every waiter for good; later events are dropped.
func (c *changeLog) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		close(c.notify)
	}
}
