package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/taskgate/taskgate/internal/mmsim"
	"github.com/taskgate/taskgate/routing"
	"github.com/taskgate/taskgate/task"
	"github.com/taskgate/taskgate/workerrunner"
)

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// An Overlord with runner type httpRemote, pointed at the gateway's worker
// API, runs its tasks through the gateway: assignments and syncs in Smile,
// as Druid's HttpRemoteTaskRunner sends them (played by taskgate's own
// implementation of it with Smile on), and the tasks' final statuses and
// real locations come back.
func TestServeActsAsWorkerForAnOverlord(t *testing.T) {
	mm, err := mmsim.New(mmsim.Config{Capacity: 4, DefaultDuration: 100 * time.Millisecond, Logger: quietLog(), StartPort: 13000})
	require.NoError(t, err)
	require.NoError(t, mm.Start(context.Background()))
	defer mm.Kill()
	workerAddr := freeLoopbackAddr(t)
	props := writeProps(t, `
druid.indexer.runner.type=httpRemote
taskgate.worker.urls=[{"url":"`+mm.URL()+`","capacity":4}]
taskgate.workerApi.listen=`+workerAddr+`
taskgate.workerApi.host=`+workerAddr+`
taskgate.workerApi.capacity=8
taskgate.dynconfig.file=`+filepath.Join(t.TempDir(), "dynamic-config.json")+`
`)
	_, stop := startGateway(t, props, nil)
	defer stop()

	cfg := workerrunner.DefaultConfig()
	cfg.Smile = true
	cfg.SyncRequestTimeout = 2 * time.Second
	cfg.SyncBackoffMin, cfg.SyncBackoffMax = 20*time.Millisecond, 200*time.Millisecond
	cfg.StartSyncTimeout = 20 * time.Second
	cfg.Workers = []workerrunner.StaticWorker{{URL: "http://" + workerAddr, Capacity: 8}}
	overlord, err := workerrunner.New(cfg, workerrunner.Options{Logger: quietLog()})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, overlord.Start(ctx))
	defer func() { _ = overlord.Stop(context.Background()) }()

	var mu sync.Mutex
	finals := map[string][]task.State{}
	locs := map[string]task.Location{}
	defer overlord.Subscribe(func(e routing.Event) {
		mu.Lock()
		defer mu.Unlock()
		if e.Kind == routing.EventStatusChanged && e.Status.Status.IsComplete() {
			finals[e.TaskID] = append(finals[e.TaskID], e.Status.Status)
		}
		if e.Kind == routing.EventLocationChanged {
			locs[e.TaskID] = e.Location
		}
	})()
	const n = 10
	for i := range n {
		raw := fmt.Sprintf(`{"type":"index_kafka","id":"overlord-%d","dataSource":"wiki","context":{"simulate":{"durationMs":150}}}`, i)
		tk, err := task.Parse([]byte(raw))
		require.NoError(t, err)
		require.NoError(t, overlord.Run(ctx, tk))
	}
	waitUntil(t, 30*time.Second, "final statuses at the Overlord", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(finals) == n
	})
	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		id := fmt.Sprintf("overlord-%d", i)
		assert.Equal(t, []task.State{task.StateSuccess}, finals[id], id)
		// The peon's own address (the Middle Manager's fake peon port), not the gateway's.
		assert.Equal(t, "127.0.0.1", locs[id].Host, id)
		assert.GreaterOrEqual(t, locs[id].Port, 13000, id)
		assert.False(t, strings.HasSuffix(workerAddr, fmt.Sprintf(":%d", locs[id].Port)))
	}
	assert.Equal(t, n, mm.Stats().Assigned)
}

func TestValidateConfigWorkerAPI(t *testing.T) {
	base := "druid.indexer.runner.type=httpRemote\ntaskgate.worker.urls=[\"http://127.0.0.1:1\"]\n"
	tests := []struct {
		name, props, wantErr string
	}{
		{"off by default", "", ""},
		{"host from druid.host", "taskgate.workerApi.listen=:8091\ndruid.host=taskgate-0.taskgate\n", ""},
		{"no host", "taskgate.workerApi.listen=:8091\n", "set taskgate.workerApi.host (or druid.host)"},
		{"bad listen", "taskgate.workerApi.listen=8091\n", "taskgate.workerApi.listen: \"8091\" must be host:port"},
		{"announce without identifier", "taskgate.workerApi.listen=:8091\ntaskgate.workerApi.host=gw:8091\ntaskgate.workerApi.announce=true\n",
			"set taskgate.workerApi.clusterIdentifier"},
		{"announce where it discovers", "taskgate.workerApi.listen=:8091\ntaskgate.workerApi.host=gw:8091\ntaskgate.workerApi.announce=true\n" +
			"taskgate.workerApi.clusterIdentifier=prod\ndruid.discovery.type=k8s\ndruid.discovery.k8s.clusterIdentifier=prod\ntaskgate.worker.k8s.namespace=druid\n", "where the gateway discovers its Middle Managers"},
		{"capacity", "taskgate.workerApi.listen=:8091\ntaskgate.workerApi.host=gw:8091\ntaskgate.workerApi.capacity=0\n", "taskgate.workerApi.capacity"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCmd(t, nil, "validate-config", "--config", writeProps(t, base+tc.props))
			if tc.wantErr == "" {
				assert.Equal(t, 0, code, errOut)
				return
			}
			assert.Equal(t, 1, code)
			assert.Contains(t, errOut, tc.wantErr)
		})
	}
}

// With access control on, the worker API asks for credentials as a Middle
// Manager's endpoints do: the Overlord's escalator user needs STATE.
func TestServeWorkerAPIRequiresStatePermission(t *testing.T) {
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("escalator-pw"), bcrypt.MinCost)
	require.NoError(t, err)
	authFile := filepath.Join(dir, "auth.yaml")
	require.NoError(t, os.WriteFile(authFile, []byte(fmt.Sprintf(`
roles:
  internal:
    - {resource: {type: STATE, name: STATE}, action: READ}
    - {resource: {type: STATE, name: STATE}, action: WRITE}
  reader:
    - {resource: {type: DATASOURCE, name: ".*"}, action: READ}
users:
  druid_system: {passwordHash: %q, roles: [internal]}
  someone: {passwordHash: %q, roles: [reader]}
`, hash, hash)), 0o600))
	mm, err := mmsim.New(mmsim.Config{Capacity: 2, DefaultDuration: 50 * time.Millisecond, Logger: quietLog(), StartPort: 13500})
	require.NoError(t, err)
	require.NoError(t, mm.Start(context.Background()))
	defer mm.Kill()
	workerAddr := freeLoopbackAddr(t)
	props := writeProps(t, `
druid.indexer.runner.type=httpRemote
taskgate.worker.urls=[{"url":"`+mm.URL()+`","capacity":2}]
taskgate.workerApi.listen=`+workerAddr+`
taskgate.workerApi.host=`+workerAddr+`
taskgate.auth.enabled=true
taskgate.auth.file=`+authFile+`
taskgate.dynconfig.file=`+filepath.Join(dir, "dynamic-config.json")+`
`)
	_, stop := startGateway(t, props, nil)
	defer stop()

	sync := func(user string) int {
		req, err := http.NewRequest(http.MethodGet, "http://"+workerAddr+"/druid-internal/v1/worker?counter=-1&timeout=1000", nil)
		require.NoError(t, err)
		if user != "" {
			req.SetBasicAuth(user, "escalator-pw")
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusUnauthorized, sync(""))
	assert.Equal(t, http.StatusForbidden, sync("someone"))
	assert.Equal(t, http.StatusOK, sync("druid_system"))
}
