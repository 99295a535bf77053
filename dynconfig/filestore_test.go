package dynconfig

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func setTo(cfg *ExecutionConfig) UpdateFunc {
	return func(*ExecutionConfig) (*ExecutionConfig, error) { return cfg, nil }
}

func capacityConfig(n int) *ExecutionConfig { return &ExecutionConfig{Capacity: &n} }

func TestFileStoreSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "execconfig.json")
	s, err := OpenFileStore(FileStoreConfig{Path: path})
	require.NoError(t, err)
	got, err := s.Get(ctx)
	require.NoError(t, err)
	assert.Nil(t, got, "a new store has no config")

	cfg, _, err := Parse([]byte(druidDocsExample))
	require.NoError(t, err)
	info := AuditInfo{Author: "ops", Comment: "split kafka", IP: "10.0.0.1"}
	_, entry, err := s.Update(ctx, info, setTo(cfg))
	require.NoError(t, err)

	reopened, err := OpenFileStore(FileStoreConfig{Path: path})
	require.NoError(t, err)
	got, err = reopened.Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, cfg, got)
	hist, err := reopened.History(ctx, HistoryQuery{Count: 10})
	require.NoError(t, err)
	require.Len(t, hist, 1)
	assert.Equal(t, entry, hist[0])
	assert.Equal(t, info, hist[0].AuditInfo)

	leftovers, err := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*"))
	require.NoError(t, err)
	assert.Empty(t, leftovers, "no temp files left behind")
}

func TestFileStoreCorruptFileIsReportedNotReplaced(t *testing.T) {
	for name, content := range map[string]string{
		"truncated JSON": `{"version":1,"config":{"type":"def`,
		"empty file":     ``,
		"bad config":     `{"version":1,"config":{"podTemplateSelectStrategy":{"type":"nope"}},"history":[]}`,
		"future version": `{"version":99}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "execconfig.json")
			require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
			_, err := OpenFileStore(FileStoreConfig{Path: path})
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrCorrupt), err.Error())
			assert.Contains(t, err.Error(), path)
			after, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, content, string(after), "the corrupt file must be left as it was")
		})
	}
}

func TestFileStoreFailedUpdateStoresNothing(t *testing.T) {
	ctx := context.Background()
	s, err := OpenFileStore(FileStoreConfig{Path: filepath.Join(t.TempDir(), "c.json")})
	require.NoError(t, err)
	_, _, err = s.Update(ctx, AuditInfo{}, setTo(capacityConfig(3)))
	require.NoError(t, err)
	_, _, err = s.Update(ctx, AuditInfo{}, func(*ExecutionConfig) (*ExecutionConfig, error) { return nil, errors.New("no") })
	require.Error(t, err)
	got, err := s.Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, *got.Capacity)
	hist, err := s.History(ctx, HistoryQuery{Count: 10})
	require.NoError(t, err)
	assert.Len(t, hist, 1)
}

func TestFileStoreHistoryCapAndQueries(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	clock := now
	path := filepath.Join(t.TempDir(), "c.json")
	s, err := OpenFileStore(FileStoreConfig{Path: path, MaxHistory: 3, Now: func() time.Time { return clock }})
	require.NoError(t, err)
	for i := 1; i <= 5; i++ {
		clock = now.Add(time.Duration(i) * 24 * time.Hour)
		_, _, err := s.Update(ctx, AuditInfo{Comment: fmt.Sprint(i)}, setTo(capacityConfig(i)))
		require.NoError(t, err)
	}
	comments := func(es []AuditEntry) []string {
		out := []string{}
		for _, e := range es {
			out = append(out, e.AuditInfo.Comment)
		}
		return out
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

	clock = now.Add(12 * 24 * time.Hour) // entries 5 (day 5) is 7 days old
	def, err := s.History(ctx, HistoryQuery{})
	require.NoError(t, err)
	assert.Equal(t, []string{"5"}, comments(def), "default window is one week")

	clock = now.Add(100 * 24 * time.Hour)
	none, err := s.History(ctx, HistoryQuery{})
	require.NoError(t, err)
	assert.NotNil(t, none)
	assert.Empty(t, none)

	assert.Equal(t, "2024-06-06T00:00:00.000Z", all[0].AuditTime.Format(AuditTimeFormat))
	assert.JSONEq(t, `{"type":"default","podTemplateSelectStrategy":null,"capacity":5}`, all[0].Payload)
}

func TestFileStoreConcurrentUpdates(t *testing.T) {
	ctx := context.Background()
	s, err := OpenFileStore(FileStoreConfig{Path: filepath.Join(t.TempDir(), "c.json")})
	require.NoError(t, err)
	var notified sync.WaitGroup
	const n = 20
	notified.Add(n)
	cancel := s.Subscribe(func(*ExecutionConfig) { notified.Done() })
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each update increments what it reads: lost updates would show.
			_, _, err := s.Update(ctx, AuditInfo{}, func(cur *ExecutionConfig) (*ExecutionConfig, error) {
				c := 1
				if cur != nil {
					c = *cur.Capacity + 1
				}
				return capacityConfig(c), nil
			})
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	notified.Wait()
	got, err := s.Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, n, *got.Capacity)
	hist, err := s.History(ctx, HistoryQuery{Count: 1000})
	require.NoError(t, err)
	assert.Len(t, hist, n)
}

func TestParseInterval(t *testing.T) {
	d := func(s string) time.Time { v, err := time.Parse(time.RFC3339, s); require.NoError(t, err); return v }
	tests := []struct {
		in         string
		start, end time.Time
		wantErr    bool
	}{
		{in: "2024-01-01T00:00:00Z/2024-02-01T00:00:00Z", start: d("2024-01-01T00:00:00Z"), end: d("2024-02-01T00:00:00Z")},
		{in: "2024-06-01/2024-10-01", start: d("2024-06-01T00:00:00Z"), end: d("2024-10-01T00:00:00Z")},
		{in: "2024-01-01T00:00:00.000+02:00/P1D", start: d("2023-12-31T22:00:00Z"), end: d("2024-01-01T22:00:00Z")},
		{in: "PT1H/2024-01-01T01:00:00Z", start: d("2024-01-01T00:00:00Z"), end: d("2024-01-01T01:00:00Z")},
		{in: "2024-01-01", wantErr: true},
		{in: "", wantErr: true},
		{in: "2024-02-01/2024-01-01", wantErr: true},
		{in: "P1D/P2D", wantErr: true},
		{in: "yesterday/today", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			iv, err := ParseInterval(tc.in)
			if tc.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.True(t, tc.start.Equal(iv.Start), iv.Start)
			assert.True(t, tc.end.Equal(iv.End), iv.End)
		})
	}
}
