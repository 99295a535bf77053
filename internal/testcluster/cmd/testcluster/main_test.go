package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/taskgate/taskgate/internal/testcluster"
)

// TestMain lets `up` start this test binary as its daemon: up re-executes
// os.Executable() with "run", which here is the test binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "run" {
		main()
		return
	}
	os.Exit(m.Run())
}

func TestUpDown(t *testing.T) {
	testcluster.SkipIfShort(t)
	dir := filepath.Join(t.TempDir(), "cluster")

	require.NoError(t, up(dir, 2))
	pid, ok := runningPID(dir)
	require.True(t, ok, "daemon pid file")
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) }) // only if down failed

	require.NoError(t, up(dir, 2), "a second up finds the running cluster")
	pid2, _ := runningPID(dir)
	assert.Equal(t, pid, pid2, "second up must not start another daemon")

	// The kubeconfig it printed works, and the nodes asked for are there.
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig"))
	require.NoError(t, err)
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	nodes, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	assert.Len(t, nodes.Items, 2)

	children := processesUnder(dataDir(dir))
	require.Len(t, children, 5, "etcd, apiserver, controller-manager, scheduler, kwok")

	require.NoError(t, down(dir))
	deadline := time.Now().Add(10 * time.Second)
	for len(processesUnder(dataDir(dir))) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	assert.Empty(t, processesUnder(dataDir(dir)), "down left processes")
	assert.False(t, alive(pid), "daemon still alive")
	_, ok = runningPID(dir)
	assert.False(t, ok)
	require.NoError(t, down(dir), "down of a stopped cluster is fine")
}

// processesUnder lists live, non-zombie processes whose command line
// mentions path (every control-plane process names its data dir).
func processesUnder(path string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmdline), path) {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}
