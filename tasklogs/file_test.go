package tasklogs

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFileContract(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "indexing-logs")
	store, err := NewFile(dir)
	require.NoError(t, err)
	// FileTaskLogs.fileForTask: new File(directory, taskid + "." + filename).
	druidPath := func(taskID, name string) string { return filepath.Join(dir, taskID+"."+name) }
	runContract(t, harness{
		store: store,
		put: func(t *testing.T, taskID, name string, data []byte) {
			require.NoError(t, os.MkdirAll(dir, 0o755))
			require.NoError(t, os.WriteFile(druidPath(taskID, name), data, 0o644))
		},
		get: func(t *testing.T, taskID, name string) ([]byte, bool) {
			b, err := os.ReadFile(druidPath(taskID, name))
			if errors.Is(err, fs.ErrNotExist) {
				return nil, false
			}
			require.NoError(t, err)
			return b, true
		},
		where:   druidPath,
		pushLog: store.PushTaskLog,
	})
}

func TestFileMissingDirectoryIsAbsent(t *testing.T) {
	store, err := NewFile(filepath.Join(t.TempDir(), "not-yet"))
	require.NoError(t, err)
	_, ok, err := store.Status(context.Background(), "t1")
	require.NoError(t, err)
	assert.False(t, ok)
	_, ok, err = store.StreamLog(context.Background(), "t1", 0)
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestFilePushCreatesDirectoryReadableByPeons(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	store, err := NewFile(dir)
	require.NoError(t, err)
	require.NoError(t, store.PushTaskPayload(context.Background(), "t1", []byte("{}")))
	fi, err := os.Stat(filepath.Join(dir, "t1.task.json"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm())
	// No temporary files are left behind.
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1)
}

func TestFileUnreadableIsAnError(t *testing.T) {
	if os.Geteuid() == 0 {
		// root reads files whatever their mode; use a directory in the file's place.
		dir := t.TempDir()
		require.NoError(t, os.Mkdir(filepath.Join(dir, "t1.status.json"), 0o755))
		store, err := NewFile(dir)
		require.NoError(t, err)
		_, ok, err := store.Status(context.Background(), "t1")
		require.Error(t, err)
		assert.False(t, ok)
		assert.Contains(t, err.Error(), filepath.Join(dir, "t1.status.json"))
		return
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "t1.status.json")
	require.NoError(t, os.WriteFile(p, []byte("{}"), 0o000))
	store, err := NewFile(dir)
	require.NoError(t, err)
	_, ok, err := store.Status(context.Background(), "t1")
	require.Error(t, err)
	assert.False(t, ok)
}

func TestFileStatusTooLarge(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "big.status.json"))
	require.NoError(t, err)
	_, err = io.CopyN(f, zeroReader{}, maxStatusBytes+10)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	store, err := NewFile(dir)
	require.NoError(t, err)
	_, _, err = store.Status(context.Background(), "big")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "larger than")
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

func TestNewFileRejectsEmptyDir(t *testing.T) {
	_, err := NewFile("")
	require.Error(t, err)
}
