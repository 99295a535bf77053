package journal

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskgate/taskgate/task"
)

func mustTask(t *testing.T, raw string) *task.Task {
	t.Helper()
	tk, err := task.Parse([]byte(raw))
	require.NoError(t, err)
	return tk
}

func TestPutListDelete(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pending")
	j, err := Open(dir)
	require.NoError(t, err)
	a := mustTask(t, `{"type":"index","id":"a..b:c é","dataSource":"wiki"}`)
	b := mustTask(t, `{"type":"compact","id":"b","dataSource":"wiki","context":{"x":1}}`)
	require.NoError(t, j.Put(a))
	require.NoError(t, j.Put(b))
	require.NoError(t, j.Put(b), "putting again replaces")
	got, err := j.List()
	require.NoError(t, err)
	require.Len(t, got, 2)
	byID := map[string]*task.Task{}
	for _, tk := range got {
		byID[tk.ID] = tk
	}
	assert.Equal(t, string(a.Raw()), string(byID[a.ID].Raw()), "kept byte for byte")
	assert.Equal(t, string(b.Raw()), string(byID[b.ID].Raw()))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 2, "no temp files left behind; ids never used as paths")

	require.NoError(t, j.Delete(a.ID))
	require.NoError(t, j.Delete("never-there"))
	got, err = j.List()
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "b", got[0].ID)
}

func TestListReportsUnreadableFiles(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir)
	require.NoError(t, err)
	require.NoError(t, j.Put(mustTask(t, `{"type":"index","id":"ok"}`)))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "broken"+suffix), []byte("{not json"), 0o644))
	got, err := j.List()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "broken"+suffix)
	require.Len(t, got, 1, "the readable ones are still returned")
	_, err = Open("")
	assert.Error(t, err)
}
