package dynconfig

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// contractOptions are the settings the Store contract needs from a store
// under test.
type contractOptions struct {
	MaxHistory int              // 0: the store's default
	Now        func() time.Time // nil: time.Now
}

// storeFactory opens an empty store of the kind under test.
type storeFactory func(t *testing.T, o contractOptions) Store

// runStoreContract checks the behaviour every Store must have. Each store
// kind's tests call it with their factory.
func runStoreContract(t *testing.T, open storeFactory) {
	t.Run("empty store has no config and no history", func(t *testing.T) {
		ctx := context.Background()
		s := open(t, contractOptions{})
		got, err := s.Get(ctx)
		require.NoError(t, err)
		assert.Nil(t, got)
		hist, err := s.History(ctx, HistoryQuery{Count: 10})
		require.NoError(t, err)
		assert.NotNil(t, hist)
		assert.Empty(t, hist)
	})

	t.Run("update is read back with its audit entry", func(t *testing.T) {
		ctx := context.Background()
		s := open(t, contractOptions{})
		cfg, _, err := Parse([]byte(druidDocsExample))
		require.NoError(t, err)
		info := AuditInfo{Author: "ops", Comment: "split kafka", IP: "10.0.0.1"}
		var seen *ExecutionConfig
		stored, entry, err := s.Update(ctx, info, func(cur *ExecutionConfig) (*ExecutionConfig, error) {
			seen = cur
			return cfg, nil
		})
		require.NoError(t, err)
		assert.Nil(t, seen, "the first update sees no config")
		assert.Equal(t, cfg, stored)
		assert.Equal(t, ConfigKey, entry.Key)
		assert.Equal(t, info, entry.AuditInfo)
		assert.JSONEq(t, mustJSON(t, cfg), entry.Payload)

		got, err := s.Get(ctx)
		require.NoError(t, err)
		assert.Equal(t, cfg, got)
		hist, err := s.History(ctx, HistoryQuery{Count: 10})
		require.NoError(t, err)
		require.Len(t, hist, 1)
		assert.Equal(t, entry, hist[0])

		_, _, err = s.Update(ctx, AuditInfo{Author: "second"}, func(cur *ExecutionConfig) (*ExecutionConfig, error) {
			seen = cur
			return cur.Merge(capacityConfig(7)), nil
		})
		require.NoError(t, err)
		assert.Equal(t, cfg, seen, "an update sees the stored config")
		got, err = s.Get(ctx)
		require.NoError(t, err)
		assert.Equal(t, 7, *got.Capacity)
		assert.Equal(t, cfg.PodTemplateSelectStrategy, got.PodTemplateSelectStrategy)
	})

	t.Run("failed update stores nothing", func(t *testing.T) {
		ctx := context.Background()
		s := open(t, contractOptions{})
		_, _, err := s.Update(ctx, AuditInfo{}, setTo(capacityConfig(3)))
		require.NoError(t, err)
		boom := errors.New("no")
		_, _, err = s.Update(ctx, AuditInfo{}, func(*ExecutionConfig) (*ExecutionConfig, error) { return nil, boom })
		assert.ErrorIs(t, err, boom, "the UpdateFunc's error comes back as is")
		_, _, err = s.Update(ctx, AuditInfo{}, setTo(nil))
		assert.Error(t, err, "an update to no config is refused")
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		_, _, err = s.Update(canceled, AuditInfo{}, setTo(capacityConfig(4)))
		assert.ErrorIs(t, err, context.Canceled)

		got, err := s.Get(ctx)
		require.NoError(t, err)
		assert.Equal(t, 3, *got.Capacity)
		hist, err := s.History(ctx, HistoryQuery{Count: 10})
		require.NoError(t, err)
		assert.Len(t, hist, 1)
	})

	t.Run("history is capped and queried as Druid does", func(t *testing.T) {
		ctx := context.Background()
		start := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
		var mu sync.Mutex
		clock := start
		now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
		setClock := func(t time.Time) { mu.Lock(); clock = t; mu.Unlock() }
		s := open(t, contractOptions{MaxHistory: 3, Now: now})
		for i := 1; i <= 5; i++ {
			setClock(start.Add(time.Duration(i) * 24 * time.Hour))
			_, _, err := s.Update(ctx, AuditInfo{Comment: fmt.Sprint(i)}, setTo(capacityConfig(i)))
			require.NoError(t, err)
		}
		all, err := s.History(ctx, HistoryQuery{Count: 100})
		require.NoError(t, err)
		assert.Equal(t, []string{"5", "4", "3"}, comments(all), "capped at 3, newest first")

		two, err := s.History(ctx, HistoryQuery{Count: 2})
		require.NoError(t, err)
		assert.Equal(t, []string{"5", "4"}, comments(two))

		iv, err := ParseInterval("2024-06-03T12:00:00Z/2024-06-05T00:00:00Z")
		require.NoError(t, err)
		in, err := s.History(ctx, HistoryQuery{Interval: &iv, Count: 1})
		require.NoError(t, err)
		assert.Equal(t, []string{"3", "4"}, comments(in), "interval wins over count; oldest first; end inclusive")

		setClock(start.Add(12 * 24 * time.Hour))
		def, err := s.History(ctx, HistoryQuery{})
		require.NoError(t, err)
		assert.Equal(t, []string{"5"}, comments(def), "default window is one week")

		require.NotEmpty(t, all)
		assert.Equal(t, "2024-06-06T00:00:00.000Z", all[0].AuditTime.Format(AuditTimeFormat))
		assert.JSONEq(t, `{"type":"default","podTemplateSelectStrategy":null,"capacity":5}`, all[0].Payload)
	})

	t.Run("concurrent updates lose nothing and are all notified", func(t *testing.T) {
		ctx := context.Background()
		s := open(t, contractOptions{})
		const n = 20
		var notified atomic.Int32
		cancel := s.Subscribe(func(*ExecutionConfig) { notified.Add(1) })
		defer cancel()
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, err := s.Update(ctx, AuditInfo{}, increment)
				assert.NoError(t, err)
			}()
		}
		wg.Wait()
		assert.GreaterOrEqual(t, int(notified.Load()), n, "every update notifies subscribers before it returns")
		got, err := s.Get(ctx)
		require.NoError(t, err)
		assert.Equal(t, n, *got.Capacity)
		hist, err := s.History(ctx, HistoryQuery{Count: 1000})
		require.NoError(t, err)
		assert.Len(t, hist, n)
	})

	t.Run("subscriber gets the new config until cancelled", func(t *testing.T) {
		ctx := context.Background()
		s := open(t, contractOptions{})
		var mu sync.Mutex
		var got []int
		cancel := s.Subscribe(func(c *ExecutionConfig) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, *c.Capacity)
		})
		_, _, err := s.Update(ctx, AuditInfo{}, setTo(capacityConfig(1)))
		require.NoError(t, err)
		mu.Lock()
		assert.Equal(t, []int{1}, got)
		mu.Unlock()
		cancel()
		_, _, err = s.Update(ctx, AuditInfo{}, setTo(capacityConfig(2)))
		require.NoError(t, err)
		time.Sleep(200 * time.Millisecond) // a watch-driven store would notify by now
		mu.Lock()
		assert.Equal(t, []int{1}, got, "no call after cancel")
		mu.Unlock()
	})
}

// increment adds one to the stored capacity (1 when none): a lost update
// shows as a lower final count.
func increment(cur *ExecutionConfig) (*ExecutionConfig, error) {
	c := 1
	if cur != nil && cur.Capacity != nil {
		c = *cur.Capacity + 1
	}
	return cur.Merge(capacityConfig(c)), nil
}

func comments(es []AuditEntry) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.AuditInfo.Comment)
	}
	return out
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestFileStoreContract(t *testing.T) {
	runStoreContract(t, func(t *testing.T, o contractOptions) Store {
		s, err := OpenFileStore(FileStoreConfig{Path: filepath.Join(t.TempDir(), "c.json"), MaxHistory: o.MaxHistory, Now: o.Now})
		require.NoError(t, err)
		return s
	})
}
