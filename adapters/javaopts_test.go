package adapters

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskgate/taskgate/task"
)

func TestParseHumanReadableBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"1024", 1024},
		{"1k", 1000},
		{"1K", 1000},
		{"2g", 2_000_000_000},
		{"1G", 1_000_000_000}, // Druid's default heap "1G"
		{"1Gi", 1 << 30},
		{"1GiB", 1 << 30},
		{"1gib", 1 << 30},
		{"512m", 512_000_000},
		{"512Mi", 512 << 20},
		{"3t", 3_000_000_000_000},
		{"1p", 1_000_000_000_000_000},
		{"1Pi", 1 << 50},
		{" 7k ", 7000},
		{"+5", 5},
	}
	for _, tt := range tests {
		got, err := parseHumanReadableBytes(tt.in)
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
	for _, bad := range []string{"", " ", "-1g", "1.5g", "g", "1b", "1ib", "kib", "1i", "1x", "1KB", "9223372036854775807k", "99999999999999999999"} {
		_, err := parseHumanReadableBytes(bad)
		assert.Error(t, err, "%q should not parse", bad)
	}
}

func TestContainerMemoryBytes(t *testing.T) {
	tests := []struct {
		name string
		opts []string
		want int64
	}{
		// Druid's expectedSingleContainerOutput.yaml: no options, 2400000000.
		{"defaults: 1.2 × (1G + 1G)", nil, 2_400_000_000},
		{"direct memory defaults to heap", []string{"-Xmx2g"}, 4_800_000_000},
		{"heap and direct", []string{"-Xmx2g", "-XX:MaxDirectMemorySize=3g"}, 6_000_000_000},
		{"last -Xmx wins", []string{"-Xmx1g", "-Xmx4g", "-XX:MaxDirectMemorySize=1g"}, 6_000_000_000},
		{"binary units", []string{"-Xmx1Gi", "-XX:MaxDirectMemorySize=512Mi"}, 1_932_735_283}, // int64(1.2 × (2^30 + 512×2^20)), truncated
		{"decimal m", []string{"-Xmx500m"}, 1_200_000_000},
		{"only direct", []string{"-XX:MaxDirectMemorySize=500m"}, 1_800_000_000},
		{"unrelated options", []string{"-Xms8g", "-Duser.timezone=UTC"}, 2_400_000_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ContainerMemoryBytes(tt.opts)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	_, err := ContainerMemoryBytes([]string{"-Xmxlots"})
	assert.ErrorContains(t, err, "-Xmxlots")
	_, err = ContainerMemoryBytes([]string{"-XX:MaxDirectMemorySize=-1"})
	assert.ErrorContains(t, err, "MaxDirectMemorySize")
	_, err = ContainerMemoryBytes([]string{"-Xmx9000p", "-XX:MaxDirectMemorySize=9000p"})
	assert.ErrorContains(t, err, "overflows")
}

func TestSplitQuotableWhitespace(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"-Xmx1g -Dfoo=bar", []string{"-Xmx1g", "-Dfoo=bar"}},
		{"  -Xmx1g\t\n-Da=b  ", []string{"-Xmx1g", "-Da=b"}},
		{`-Dnote="two words" -Dx=1`, []string{`-Dnote="two words"`, "-Dx=1"}},
		{"-Da=b\u00a0c", []string{"-Da=b\u00a0c"}}, // non-breaking space does not split
		{"-Da=b\u2003c", []string{"-Da=b", "c"}},
		{"", nil},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, splitQuotableWhitespace(tt.in), "%q", tt.in)
	}
}

func taskWithContext(t *testing.T, typ string, ctx map[string]any) *task.Task {
	t.Helper()
	m := map[string]any{"type": typ, "id": "t1", "dataSource": "ds"}
	if ctx != nil {
		m["context"] = ctx
	}
	raw, err := json.Marshal(m)
	require.NoError(t, err)
	tk, err := task.Parse(raw)
	require.NoError(t, err)
	return tk
}

func TestPeonJavaOpts(t *testing.T) {
	c := DefaultConfig()
	c.JavaOptsArray = []string{"-Xmx1g"}
	c.EnableTLSPort = true
	tk := taskWithContext(t, "index", map[string]any{ContextKeyJavaOpts: "-Xmx2g  -Da=\"b c\""})
	got, err := peonJavaOpts(c, tk)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"-Xmx1g", "-Xmx2g", `-Da="b c"`,
		"-Ddruid.indexer.task.baseTaskDir=/tmp/persistent/task",
		"-Ddruid.port=8100", "-Ddruid.plaintextPort=8100",
		"-Ddruid.tlsPort=8091", "-Ddruid.task.executor.tlsPort=8091",
		"-Ddruid.task.executor.enableTlsPort=true",
	}, got)

	_, err = peonJavaOpts(c, taskWithContext(t, "index", map[string]any{ContextKeyJavaOpts: 5}))
	assert.ErrorContains(t, err, ContextKeyJavaOpts)
	_, err = peonJavaOpts(c, taskWithContext(t, "index", map[string]any{ContextKeyJavaOpts: nil}))
	assert.NoError(t, err)
}
