package testminio

import (
	"context"
	"errors"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBinaryMissing(t *testing.T) {
	t.Setenv("TASKGATE_MINIO_BIN", filepath.Join(t.TempDir(), "minio"))
	_, err := Binary()
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrBinaryMissing))
	assert.Contains(t, err.Error(), "./hack/minio-bin.sh")
}

func TestStartServesBucketAndStopsCleanly(t *testing.T) {
	srv := Start(t)
	exists, err := srv.Client(t).BucketExists(context.Background(), srv.Bucket)
	require.NoError(t, err)
	assert.True(t, exists)

	pid := srv.cmd.Process.Pid
	require.NoError(t, syscall.Kill(pid, 0), "server should be running")
	srv.Kill()
	assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "server must be gone after Kill")
}
