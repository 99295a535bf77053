package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite docs/configuration.md from the catalogue")

func TestConfigurationDoc(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteMarkdown(&buf))
	path := filepath.Join("..", "docs", "configuration.md")
	if *update {
		require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run: go test ./config -run TestConfigurationDoc -update")
	assert.Equal(t, string(want), buf.String(), "docs/configuration.md is stale: go test ./config -run TestConfigurationDoc -update")
	for _, p := range Catalogue() {
		assert.Contains(t, buf.String(), "`"+p.Name+"`")
		assert.NotEmpty(t, p.Origin, "%s: every property says where it comes from", p.Name)
		assert.Contains(t, buf.String(), " | "+p.Origin+" |", p.Name)
	}
}
