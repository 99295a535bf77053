package workerrunner

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/taskgate/taskgate/internal/testcluster"
	"github.com/taskgate/taskgate/task"
)

// announcement is what druid-kubernetes-extensions writes for a Middle
// Manager (reference section 6.1).
func announcement(t *testing.T, hostPort string, capacity int, category string) string {
	t.Helper()
	host, p, err := net.SplitHostPort(hostPort)
	require.NoError(t, err)
	port, _ := strconv.Atoi(p)
	node := map[string]any{
		"druidNode": map[string]any{"service": "druid/middleManager", "host": host, "bindOnHost": false,
			"plaintextPort": port, "port": -1, "tlsPort": -1, "enablePlaintextPort": true, "enableTlsPort": false},
		"nodeType": "middleManager",
		"services": map[string]any{"workerNodeService": map[string]any{
			"type": "workerNodeService", "ip": host, "capacity": capacity, "version": "0", "category": category}},
		"startTime": "2024-05-01T09:58:00.000Z",
	}
	b, err := json.Marshal(node)
	require.NoError(t, err)
	return string(b)
}

func announcedPod(name, cluster, hostPort, info string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			"app": "druid-mm",
			"druidDiscoveryAnnouncement-middleManager":      "true",
			"druidDiscoveryAnnouncement-id":                 hostPortLabel(hostPort),
			"druidDiscoveryAnnouncement-cluster-identifier": cluster,
		}, Annotations: map[string]string{"druidNodeInfo-middleManager": info}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "mm", Image: "apache/druid:33.0.0"}}},
	}
}

func hostPortLabel(hp string) string {
	h, p, _ := net.SplitHostPort(hp)
	return h + "-" + p
}

func TestParseWorkerAnnouncement(t *testing.T) {
	cases := []struct {
		name    string
		json    string
		want    WorkerInfo
		ok      bool
		wantErr string
	}{
		{"plaintext", `{"druidNode":{"host":"mm-0.mm","plaintextPort":8091,"port":-1,"tlsPort":-1},"nodeType":"middleManager","services":{"workerNodeService":{"type":"workerNodeService","ip":"10.0.3.17","capacity":4,"version":"0","category":"_default_worker_category"}}}`,
			WorkerInfo{Scheme: "http", Host: "mm-0.mm:8091", IP: "10.0.3.17", Capacity: 4, Version: "0", Category: "_default_worker_category"}, true, ""},
		{"tls", `{"druidNode":{"host":"mm-1","plaintextPort":-1,"tlsPort":8291},"nodeType":"indexer","services":{"workerNodeService":{"capacity":2,"version":"1"}}}`,
			WorkerInfo{Scheme: "https", Host: "mm-1:8291", Capacity: 2, Version: "1", Category: "_default_worker_category"}, true, ""},
		{"no worker service", `{"druidNode":{"host":"b","plaintextPort":8082},"nodeType":"broker","services":{}}`, WorkerInfo{}, false, ""},
		{"not json", `{`, WorkerInfo{}, false, "parse DiscoveryDruidNode"},
		{"no host", `{"druidNode":{"plaintextPort":8091},"services":{"workerNodeService":{}}}`, WorkerInfo{}, false, "druidNode.host"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, ok, err := ParseWorkerAnnouncement([]byte(tc.json))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, w)
		})
	}
}

func TestK8sDiscoveryFeedsRunner(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	mms := startMMs(t, 2, 2, "")
	const cluster = "test-druid"

	pods := c.Client().CoreV1().Pods(ns)
	_, err := pods.Create(ctx, announcedPod("mm-0", cluster, mms[0].HostAndPort(), announcement(t, mms[0].HostAndPort(), 2, "_default_worker_category")), metav1.CreateOptions{})
	require.NoError(t, err)
	// Another cluster's announcement and a pod that is not announced are ignored.
	_, err = pods.Create(ctx, announcedPod("other", "other-cluster", mms[1].HostAndPort(), announcement(t, mms[1].HostAndPort(), 2, "x")), metav1.CreateOptions{})
	require.NoError(t, err)

	disc, err := NewK8sDiscovery(c.Client(), ns, cluster, quietLogger())
	require.NoError(t, err)
	cfg := testConfig(nil, 0)
	cfg.Discovery = DiscoveryK8s
	cfg.K8sClusterIdentifier = cluster
	cfg.K8sNamespace = ns
	cfg.TaskCleanupTimeout = 300 * time.Millisecond
	r := newRunner(t, cfg, Options{Discovery: disc})
	startRunner(t, r)
	assert.Equal(t, map[string]int{"_default_worker_category": 2}, r.TotalSlots(), "only mm-0 of this cluster")

	require.NoError(t, r.Run(ctx, simTask(t, "k8s-disc-1", 20, task.StateSuccess, "")))
	waitFor(t, 10*time.Second, "task done", func() bool { wi, _ := r.Get("k8s-disc-1"); return wi.State == task.RunnerStateNone })
	assert.Equal(t, 1, mms[0].Stats().Assigned)

	// A worker announced at run time appears; one whose pod goes away disappears.
	_, err = pods.Create(ctx, announcedPod("mm-1", cluster, mms[1].HostAndPort(), announcement(t, mms[1].HostAndPort(), 3, "cat-b")), metav1.CreateOptions{})
	require.NoError(t, err)
	waitFor(t, 10*time.Second, "mm-1 discovered and synced", func() bool {
		return r.TotalSlots()["cat-b"] == 3 && r.IdleSlots()["cat-b"] == 3
	})
	require.NoError(t, pods.Delete(ctx, "mm-0", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}))
	waitFor(t, 20*time.Second, "mm-0 removed", func() bool { _, ok := r.TotalSlots()["_default_worker_category"]; return !ok })
	for i := 0; i < 3; i++ {
		require.NoError(t, r.Run(ctx, simTask(t, fmt.Sprintf("k8s-disc-b%d", i), 20, task.StateSuccess, "")))
	}
	waitFor(t, 10*time.Second, "tasks on mm-1", func() bool { return mms[1].Stats().Succeeded == 3 })
	assert.Equal(t, 1, mms[0].Stats().Assigned, "removed worker gets nothing")
}
