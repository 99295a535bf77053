package dynconfig

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigMapStoreConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     ConfigMapStoreConfig
		wantErr string
	}{
		{name: "minimal", cfg: ConfigMapStoreConfig{Namespace: "druid"}},
		{name: "all set", cfg: ConfigMapStoreConfig{Namespace: "druid", Name: "x.y-z", MaxHistory: 5, MaxHistoryBytes: MaxConfigMapHistoryBytes, ConflictRetries: 3}},
		{name: "no namespace", cfg: ConfigMapStoreConfig{}, wantErr: "namespace is required"},
		{name: "bad namespace", cfg: ConfigMapStoreConfig{Namespace: "Druid_NS"}, wantErr: `namespace "Druid_NS"`},
		{name: "bad name", cfg: ConfigMapStoreConfig{Namespace: "druid", Name: "has space"}, wantErr: `name "has space"`},
		{name: "negative history", cfg: ConfigMapStoreConfig{Namespace: "druid", MaxHistory: -1}, wantErr: "maxHistory must be >= 0"},
		{name: "negative bytes", cfg: ConfigMapStoreConfig{Namespace: "druid", MaxHistoryBytes: -1}, wantErr: "maxHistoryBytes must be between"},
		{name: "bytes over the ConfigMap budget", cfg: ConfigMapStoreConfig{Namespace: "druid", MaxHistoryBytes: MaxConfigMapHistoryBytes + 1}, wantErr: "maxHistoryBytes must be between"},
		{name: "negative retries", cfg: ConfigMapStoreConfig{Namespace: "druid", ConflictRetries: -2}, wantErr: "conflictRetries must be >= 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func TestOpenConfigMapStoreRejectsBadInput(t *testing.T) {
	_, err := OpenConfigMapStore(context.Background(), nil, ConfigMapStoreConfig{Namespace: "druid"})
	assert.ErrorContains(t, err, "kubernetes client is required")
	_, err = OpenConfigMapStore(context.Background(), nil, ConfigMapStoreConfig{})
	assert.ErrorContains(t, err, "namespace is required")
}

func TestStoreConfigFromProperties(t *testing.T) {
	tests := []struct {
		name    string
		props   map[string]string
		want    StoreConfig
		wantErr string
	}{
		{name: "default is the file store", props: nil,
			want: StoreConfig{Kind: StoreKindFile, File: FileStoreConfig{Path: DefaultStoreFile}}},
		{name: "file with path and cap", props: map[string]string{PropStore: "file", PropFile: "/data/dc.json", PropMaxHistory: "50"},
			want: StoreConfig{Kind: StoreKindFile, File: FileStoreConfig{Path: "/data/dc.json", MaxHistory: 50}}},
		{name: "configmap in the runner namespace", props: map[string]string{PropStore: "configmap", PropRunnerNamespace: "druid"},
			want: StoreConfig{Kind: StoreKindConfigMap, ConfigMap: ConfigMapStoreConfig{Namespace: "druid"}}},
		{name: "configmap fully set", props: map[string]string{PropStore: " configmap ", PropRunnerNamespace: "jobs",
			PropConfigMapNamespace: "gateway", PropConfigMapName: "dc", PropMaxHistory: "20", PropConfigMapMaxHistoryBytes: "65536"},
			want: StoreConfig{Kind: StoreKindConfigMap, ConfigMap: ConfigMapStoreConfig{Namespace: "gateway", Name: "dc", MaxHistory: 20, MaxHistoryBytes: 65536}}},
		{name: "configmap without namespace", props: map[string]string{PropStore: "configmap"}, wantErr: PropConfigMapNamespace},
		{name: "unknown kind", props: map[string]string{PropStore: "etcd"}, wantErr: `taskgate.dynconfig.store: unknown store "etcd"`},
		{name: "bad count", props: map[string]string{PropMaxHistory: "lots"}, wantErr: `property taskgate.dynconfig.maxHistory: "lots"`},
		{name: "negative bytes", props: map[string]string{PropStore: "configmap", PropRunnerNamespace: "druid", PropConfigMapMaxHistoryBytes: "-1"},
			wantErr: "property taskgate.dynconfig.configmap.maxHistoryBytes"},
		{name: "bytes over the budget", props: map[string]string{PropStore: "configmap", PropRunnerNamespace: "druid", PropConfigMapMaxHistoryBytes: "1048576"},
			wantErr: "maxHistoryBytes must be between"},
		{name: "bad configmap name", props: map[string]string{PropStore: "configmap", PropRunnerNamespace: "druid", PropConfigMapName: "UPPER"},
			wantErr: `taskgate.dynconfig.store=configmap: configmap store: name "UPPER"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := StoreConfigFromProperties(mapProps(tc.props))
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

type mapProps map[string]string

func (m mapProps) Get(k string) (string, bool) { v, ok := m[k]; return v, ok }

func TestOpenStoreFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "dc.json")
	cfg, err := StoreConfigFromProperties(mapProps{PropFile: path})
	require.NoError(t, err)
	s, err := OpenStore(ctx, cfg, nil)
	require.NoError(t, err)
	_, _, err = s.Update(ctx, AuditInfo{}, setTo(capacityConfig(4)))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	reopened, err := OpenFileStore(FileStoreConfig{Path: path})
	require.NoError(t, err)
	got, err := reopened.Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, 4, *got.Capacity)

	_, err = OpenStore(ctx, StoreConfig{Kind: StoreKindConfigMap, ConfigMap: ConfigMapStoreConfig{Namespace: "druid"}}, nil)
	assert.ErrorContains(t, err, "Kubernetes client is required")
}

func auditEntries(t *testing.T, n, commentLen int) []AuditEntry {
	t.Helper()
	out := make([]AuditEntry, n)
	for i := range out {
		e, err := NewAuditEntry(ConfigKey, capacityConfig(1), AuditInfo{Comment: fmt.Sprintf("%03d%s", i, strings.Repeat("c", commentLen))}, time.Unix(int64(i), 0))
		require.NoError(t, err)
		out[i] = e
	}
	return out
}

func TestEncodeHistoryCaps(t *testing.T) {
	entries := auditEntries(t, 10, 100)
	one, err := json.Marshal(entries[0])
	require.NoError(t, err)
	per := len(one) // all entries have the same size: same config, same comment length
	tests := []struct {
		name               string
		maxCount, maxBytes int
		wantKept           int
	}{
		{name: "no cap reached", maxCount: 100, maxBytes: 1 << 20, wantKept: 10},
		{name: "count cap", maxCount: 3, maxBytes: 1 << 20, wantKept: 3},
		{name: "byte cap exact", maxCount: 100, maxBytes: 4 + 4*per + 3*2, wantKept: 4},
		{name: "byte cap one short", maxCount: 100, maxBytes: 4 + 4*per + 3*2 - 1, wantKept: 3},
		{name: "newest kept even over the byte cap", maxCount: 100, maxBytes: 10, wantKept: 1},
		{name: "both caps: the tighter wins", maxCount: 2, maxBytes: 4 + 4*per + 3*2, wantKept: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, kept, err := encodeHistory(entries, tc.maxCount, tc.maxBytes)
			require.NoError(t, err)
			assert.Equal(t, tc.wantKept, kept)
			if tc.wantKept > 1 {
				assert.LessOrEqual(t, len(data), tc.maxBytes)
			}
			var back []AuditEntry
			require.NoError(t, json.Unmarshal(data, &back))
			assert.Equal(t, entries[len(entries)-tc.wantKept:], back, "the newest entries, oldest first")
		})
	}
}

func TestEncodeConfigMapDataRefusesOversizedConfig(t *testing.T) {
	// The config is stored twice (config.json and the newest audit entry's
	// payload), so a bit over half the limit is too big.
	sels := []Selector{{SelectionKey: strings.Repeat("k", 300<<10)}, {SelectionKey: strings.Repeat("j", 300<<10)}}
	big := &ExecutionConfig{PodTemplateSelectStrategy: &Strategy{Type: StrategyTypeSelectorBased, Selectors: sels}}
	e, err := NewAuditEntry(ConfigKey, big, AuditInfo{}, time.Now())
	require.NoError(t, err)
	_, _, err = encodeConfigMapData(big, []AuditEntry{e}, 10, DefaultConfigMapMaxHistoryBytes)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "over the ConfigMap limit")
}

func TestDecodeConfigMapData(t *testing.T) {
	cfg, hist, err := decodeConfigMapData(nil, ExecutionConfigDoc)
	require.NoError(t, err)
	assert.Nil(t, cfg)
	assert.Nil(t, hist)

	entries := auditEntries(t, 2, 5)
	data, _, err := encodeConfigMapData(capacityConfig(2), entries, 10, 1<<20)
	require.NoError(t, err)
	cfg, hist, err = decodeConfigMapData(data, ExecutionConfigDoc)
	require.NoError(t, err)
	assert.Equal(t, capacityConfig(2), cfg)
	assert.Equal(t, entries, hist)

	for name, tc := range map[string]struct {
		data map[string]string
		want string
	}{
		"no format key":  {map[string]string{"x": "y"}, `key "format" is missing (keys present: x)`},
		"future format":  {map[string]string{ConfigMapKeyFormat: "2"}, `unsupported format "2"`},
		"bad config":     {map[string]string{ConfigMapKeyFormat: "1", ConfigMapKeyConfig: "[]"}, `key "config.json"`},
		"bad history":    {map[string]string{ConfigMapKeyFormat: "1", ConfigMapKeyHistory: "{"}, `key "history.json": invalid audit history`},
		"history object": {map[string]string{ConfigMapKeyFormat: "1", ConfigMapKeyHistory: "{}"}, `key "history.json"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := decodeConfigMapData(tc.data, ExecutionConfigDoc)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestNewerRV(t *testing.T) {
	tests := []struct {
		a, b    string
		orEqual bool
		want    bool
	}{
		{"5", "", false, true},
		{"10", "9", false, true},
		{"9", "10", false, false},
		{"7", "7", false, false},
		{"7", "7", true, true},
		{"opaque-2", "opaque-1", false, true},
		{"opaque-1", "opaque-1", false, false},
		{"", "7", false, true},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, newerRV(tc.a, tc.b, tc.orEqual), "newerRV(%q, %q, %v)", tc.a, tc.b, tc.orEqual)
	}
}
