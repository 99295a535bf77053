package migration

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskgate/taskgate/dynconfig"
	"github.com/taskgate/taskgate/routing"
)

const canary = "kafka-canary"

func canaryConfig(percent float64, g *dynconfig.Guard) *dynconfig.RoutingConfig {
	return &dynconfig.RoutingConfig{Type: dynconfig.RoutingTypeK8s, Rules: []dynconfig.RoutingRule{
		{Name: "other", Type: []string{"index"}, Percent: 100},
		{Name: canary, Type: []string{"index_kafka"}, Percent: percent, Guard: g},
	}}
}

func guardEntries(t *testing.T, m *dynconfig.RoutingManager) []dynconfig.AuditEntry {
	t.Helper()
	var out []dynconfig.AuditEntry
	for _, h := range history(t, m) {
		if h.AuditInfo.Author == GuardAuthor {
			out = append(out, h)
		}
	}
	return out
}

func canaryPercent(t *testing.T, cur *dynconfig.RoutingConfig) float64 {
	t.Helper()
	r, ok := cur.Rule(canary)
	require.True(t, ok)
	return r.Percent
}

func TestGuardRollsBackExactlyWhenDeltaExceeded(t *testing.T) {
	limit10 := &dynconfig.Guard{MaxFailureRateDelta: 10, MinTasks: 20}
	tests := []struct {
		name     string
		guard    *dynconfig.Guard
		percent  float64
		feed     func(t *testing.T, e *env)
		rollback string // the comment's rates part, "" for no rollback
	}{
		{"k8s 30% vs worker 10%", limit10, 50, func(t *testing.T, e *env) {
			e.runBatch(t, "k", "index_kafka", routing.RunnerK8s, canary, 20, 6)
			e.runBatch(t, "w", "index_kafka", routing.RunnerWorker, canary, 20, 2)
		}, "k8s failure rate 30.0% vs worker 10.0% for index_kafka over 1h (n=20 k8s, 20 worker completions"},
		{"delta exactly at the limit", limit10, 50, func(t *testing.T, e *env) {
			e.runBatch(t, "k", "index_kafka", routing.RunnerK8s, canary, 20, 4)
			e.runBatch(t, "w", "index_kafka", routing.RunnerWorker, canary, 20, 2)
		}, ""},
		{"just past the limit", limit10, 50, func(t *testing.T, e *env) {
			e.runBatch(t, "k", "index_kafka", routing.RunnerK8s, canary, 200, 41)
			e.runBatch(t, "w", "index_kafka", routing.RunnerWorker, canary, 200, 20)
		}, "k8s failure rate 20.5% vs worker 10.0%"},
		{"below minTasks", limit10, 50, func(t *testing.T, e *env) {
			e.runBatch(t, "k", "index_kafka", routing.RunnerK8s, canary, 19, 19)
			e.runBatch(t, "w", "index_kafka", routing.RunnerWorker, canary, 20, 0)
		}, ""},
		{"minTasks 0 is the default, not reached", &dynconfig.Guard{MaxFailureRateDelta: 10}, 50, func(t *testing.T, e *env) {
			e.runBatch(t, "k", "index_kafka", routing.RunnerK8s, canary, dynconfig.DefaultGuardMinTasks-1, 10)
		}, ""},
		{"minTasks 0 is the default, reached", &dynconfig.Guard{MaxFailureRateDelta: 10}, 50, func(t *testing.T, e *env) {
			e.runBatch(t, "k", "index_kafka", routing.RunnerK8s, canary, dynconfig.DefaultGuardMinTasks, 10)
		}, "k8s failure rate 50.0% vs worker 0.0%"},
		{"no worker completions count as 0%", limit10, 50, func(t *testing.T, e *env) {
			e.runBatch(t, "k", "index_kafka", routing.RunnerK8s, canary, 20, 3)
			e.route(t, "w-running", "index_kafka", routing.RunnerWorker, canary)
		}, "k8s failure rate 15.0% vs worker 0.0% for index_kafka over 1h (n=20 k8s, 0 worker completions"},
		{"no worker completions, k8s at the limit", limit10, 50, func(t *testing.T, e *env) {
			e.runBatch(t, "k", "index_kafka", routing.RunnerK8s, canary, 20, 2)
		}, ""},
		{"workers fail more", limit10, 50, func(t *testing.T, e *env) {
			e.runBatch(t, "k", "index_kafka", routing.RunnerK8s, canary, 20, 10)
			e.runBatch(t, "w", "index_kafka", routing.RunnerWorker, canary, 20, 15)
		}, ""},
		{"rule without a guard", nil, 50, func(t *testing.T, e *env) {
			e.runBatch(t, "k", "index_kafka", routing.RunnerK8s, canary, 20, 20)
		}, ""},
		{"rule already at 0 percent", limit10, 0, func(t *testing.T, e *env) {
			e.runBatch(t, "k", "index_kafka", routing.RunnerK8s, canary, 20, 20)
		}, ""},
		{"failures of a type the rule did not route", limit10, 50, func(t *testing.T, e *env) {
			e.runBatch(t, "k", "index", routing.RunnerK8s, "other", 20, 20)
			e.runBatch(t, "c", "index_kafka", routing.RunnerK8s, canary, 20, 0)
		}, ""},
		{"failures that left the window", limit10, 50, func(t *testing.T, e *env) {
			e.runBatch(t, "k", "index_kafka", routing.RunnerK8s, canary, 20, 20)
			e.clock.Advance(time.Hour)
			e.runBatch(t, "k2", "index_kafka", routing.RunnerK8s, canary, 1, 0)
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newRoutingManager(t, canaryConfig(tc.percent, tc.guard))
			e := newManualEnv(t, func(c *Config) { c.Routing = m })
			tc.feed(t, e)
			e.tr.guard.flush()

			entries := guardEntries(t, m)
			v := e.tr.Snapshot()
			if tc.rollback == "" {
				assert.Equal(t, tc.percent, canaryPercent(t, m.Current()), "not rolled back")
				assert.Empty(t, entries)
				assert.Empty(t, v.Rollbacks)
				return
			}
			assert.Equal(t, 0.0, canaryPercent(t, m.Current()), "rolled back")
			other, _ := m.Current().Rule("other")
			assert.Equal(t, 100.0, other.Percent, "other rules untouched")
			require.Len(t, entries, 1)
			comment := entries[0].AuditInfo.Comment
			assert.True(t, strings.HasPrefix(comment, canary+" rolled back: "), comment)
			assert.Contains(t, comment, tc.rollback)
			assert.Contains(t, entries[0].Payload, `"percent":0`)
			require.Len(t, v.Rollbacks, 1)
			rb := v.Rollbacks[0]
			assert.Equal(t, canary, rb.Rule)
			assert.Equal(t, "index_kafka", rb.TaskType)
			assert.Equal(t, tc.percent, rb.PreviousPercent)
			assert.Equal(t, comment, rb.Comment)
			assert.Equal(t, e.clock.Now(), rb.Time)
			assert.Contains(t, e.logs.String(), "migration guard rolled a rule back")
		})
	}
}

func TestGuardOncePerGenerationAndFreshEvidence(t *testing.T) {
	m := newRoutingManager(t, canaryConfig(50, &dynconfig.Guard{MaxFailureRateDelta: 10, MinTasks: 20}))
	e := newManualEnv(t, func(c *Config) { c.Routing = m })
	// Five canary tasks still run on Kubernetes when the rollback happens.
	for i := range 5 {
		e.route(t, fmt.Sprint("b-", i), "index_kafka", routing.RunnerK8s, canary)
	}
	e.runBatch(t, "a", "index_kafka", routing.RunnerK8s, canary, 20, 10)
	e.tr.guard.flush()
	require.Len(t, guardEntries(t, m), 1)

	// They fail afterwards: the rule is at 0, nothing more to do.
	e.clock.Advance(time.Minute)
	for i := range 5 {
		e.complete(fmt.Sprint("b-", i), routing.RunnerK8s, false, 1)
	}
	e.tr.guard.flush()
	assert.Len(t, guardEntries(t, m), 1)

	// The operator re-enables the rule. The failures of tasks submitted
	// before the rollback are still in the window, but do not count again.
	e.clock.Advance(time.Minute)
	_, err := m.Update(context.Background(), dynconfig.AuditInfo{Author: "op"}, func(c *dynconfig.RoutingConfig) (*dynconfig.RoutingConfig, error) {
		r, _ := c.Rule(canary)
		r.Percent = 20
		return c, nil
	})
	require.NoError(t, err)
	e.runBatch(t, "c", "index_kafka", routing.RunnerK8s, canary, 19, 0)
	e.tr.guard.flush()
	assert.Equal(t, 20.0, canaryPercent(t, m.Current()), "fresh evidence: 19 successes, below minTasks")
	assert.Len(t, guardEntries(t, m), 1)

	// Failures of tasks submitted after the rollback do count.
	e.runBatch(t, "d", "index_kafka", routing.RunnerK8s, canary, 1, 1)
	e.tr.guard.flush()
	assert.Equal(t, 20.0, canaryPercent(t, m.Current()), "1 of 20 is 5%")
	e.runBatch(t, "e", "index_kafka", routing.RunnerK8s, canary, 7, 7)
	e.tr.guard.flush()
	assert.Equal(t, 0.0, canaryPercent(t, m.Current()))
	entries := guardEntries(t, m)
	require.Len(t, entries, 2)
	assert.Contains(t, entries[0].AuditInfo.Comment+entries[1].AuditInfo.Comment, "n=27 k8s")
	v := e.tr.Snapshot()
	require.Len(t, v.Rollbacks, 2)
	assert.Equal(t, 20.0, v.Rollbacks[0].PreviousPercent, "newest first")
	assert.Equal(t, 50.0, v.Rollbacks[1].PreviousPercent)
}

// fakeUpdater is a RoutingConfigUpdater whose Update can fail or see a
// config changed by someone else.
type fakeUpdater struct {
	mu    sync.Mutex
	cur   *dynconfig.RoutingConfig
	calls int
	fail  error
	// meanwhile, when set, is what Update's fn sees (a concurrent writer).
	meanwhile *dynconfig.RoutingConfig
	infos     []dynconfig.AuditInfo
}

func (f *fakeUpdater) Current() *dynconfig.RoutingConfig {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cur
}

func (f *fakeUpdater) Update(_ context.Context, info dynconfig.AuditInfo, fn func(*dynconfig.RoutingConfig) (*dynconfig.RoutingConfig, error)) (*dynconfig.RoutingConfig, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fail != nil {
		return nil, f.fail
	}
	base := f.cur
	if f.meanwhile != nil {
		base = f.meanwhile
	}
	next, err := fn(base.Clone())
	if err != nil {
		return nil, err
	}
	f.cur = next
	f.infos = append(f.infos, info)
	return next, nil
}

func (f *fakeUpdater) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func TestGuardRetriesAFailedUpdate(t *testing.T) {
	up := &fakeUpdater{cur: canaryConfig(50, &dynconfig.Guard{MaxFailureRateDelta: 10, MinTasks: 20}), fail: errors.New("store down")}
	e := newManualEnv(t, func(c *Config) { c.Routing = up })
	e.runBatch(t, "a", "index_kafka", routing.RunnerK8s, canary, 20, 10)
	e.tr.guard.flush()
	assert.Equal(t, 1, up.callCount())
	assert.Contains(t, e.logs.String(), "store down")

	// Within the retry delay, further completions do not hammer the store.
	e.clock.Advance(guardRetryAfter - time.Second)
	e.runBatch(t, "b", "index_kafka", routing.RunnerK8s, canary, 1, 1)
	e.tr.guard.flush()
	assert.Equal(t, 1, up.callCount())

	up.mu.Lock()
	up.fail = nil
	up.mu.Unlock()
	e.clock.Advance(time.Second)
	e.tr.guard.flush()
	assert.Equal(t, 2, up.callCount())
	assert.Equal(t, 0.0, canaryPercent(t, up.Current()))
	require.Len(t, up.infos, 1)
	assert.Equal(t, GuardAuthor, up.infos[0].Author)
}

func TestGuardLeavesARuleSomeoneElseTurnedOff(t *testing.T) {
	g := &dynconfig.Guard{MaxFailureRateDelta: 10, MinTasks: 20}
	up := &fakeUpdater{cur: canaryConfig(50, g), meanwhile: canaryConfig(0, g)}
	e := newManualEnv(t, func(c *Config) { c.Routing = up })
	e.runBatch(t, "a", "index_kafka", routing.RunnerK8s, canary, 20, 10)
	e.tr.guard.flush()
	assert.Equal(t, 1, up.callCount())
	assert.Empty(t, up.infos, "no audit entry")
	assert.Empty(t, e.tr.Snapshot().Rollbacks)

	// Done for this generation: not tried again.
	e.clock.Advance(time.Hour / 2)
	e.runBatch(t, "b", "index_kafka", routing.RunnerK8s, canary, 1, 1)
	e.tr.guard.flush()
	assert.Equal(t, 1, up.callCount())
}

func TestGuardPicksTheWorstType(t *testing.T) {
	cfg := &dynconfig.RoutingConfig{Type: dynconfig.RoutingTypeK8s, Rules: []dynconfig.RoutingRule{
		{Name: "all", Percent: 50, Guard: &dynconfig.Guard{MaxFailureRateDelta: 5, MinTasks: 10}},
	}}
	m := newRoutingManager(t, cfg)
	e := newManualEnv(t, func(c *Config) { c.Routing = m })
	e.runBatch(t, "a", "compact", routing.RunnerK8s, "all", 10, 2)     // 20%
	e.runBatch(t, "b", "index_kafka", routing.RunnerK8s, "all", 10, 6) // 60%
	e.tr.guard.flush()
	entries := guardEntries(t, m)
	require.Len(t, entries, 1)
	assert.Contains(t, entries[0].AuditInfo.Comment, "60.0% vs worker 0.0% for index_kafka")
}

func TestGuardOffWithoutRouting(t *testing.T) {
	e := newEnv(t, nil)
	assert.Nil(t, e.tr.guard)
	e.runBatch(t, "a", "index_kafka", routing.RunnerK8s, canary, 30, 30)
	assert.False(t, e.tr.Snapshot().GuardEnabled)
	assert.Empty(t, e.tr.Snapshot().Rollbacks)
}

func TestGuardRunsWithoutFlush(t *testing.T) {
	// The real path: completions kick the guard's goroutine.
	m := newRoutingManager(t, canaryConfig(50, &dynconfig.Guard{MaxFailureRateDelta: 10, MinTasks: 20}))
	e := newEnv(t, func(c *Config) { c.Routing = m })
	e.runBatch(t, "a", "index_kafka", routing.RunnerK8s, canary, 20, 10)
	require.Eventually(t, func() bool { return canaryPercent(t, m.Current()) == 0 }, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, e.tr.Close())
	require.NoError(t, e.tr.Close(), "Close twice")
	// After Close, events are still counted and nothing blocks.
	e.runBatch(t, "b", "index_kafka", routing.RunnerK8s, canary, 5, 5)
	row, _ := typeRow(e.tr.Snapshot(), "index_kafka", routing.RunnerK8s)
	assert.Equal(t, 15, row.Failed)
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Hour: "1h", 90 * time.Minute: "1h30m", 45 * time.Minute: "45m", 90 * time.Second: "1m30s", 2*time.Hour + 5*time.Second: "2h0m5s",
	} {
		assert.Equal(t, want, humanDuration(d), fmt.Sprint(d))
	}
}
