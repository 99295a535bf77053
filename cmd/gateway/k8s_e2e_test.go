package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/taskgate/taskgate/adapters"
	"github.com/taskgate/taskgate/internal/testcluster"
)

func TestMain(m *testing.M) { testcluster.Main(m) }

// A pod template whose pods run for a second on the rig's fake nodes.
const e2eTemplate = `apiVersion: v1
kind: PodTemplate
metadata:
  name: peon-base
template:
  metadata:
    annotations:
      taskgate.test/run-duration: 1s
  spec:
    containers:
      - name: main
        image: example.invalid/druid:test
        command: ["sh", "-c", "/peon.sh /druid/data 1"]
`

// startGateway runs "gateway serve" in-process and returns its base URL.
func startGateway(t *testing.T, props string, environ []string) (base string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", props, "--listen", "127.0.0.1:0", "--log-format", "text"}, environ, pw, &stderr)
		_ = pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	re := regexp.MustCompile(`listening on (http://\S+)`)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			base = m[1]
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if base == "" {
		cancel()
		<-done
		t.Fatalf("gateway did not start; stderr:\n%s", stderr.String())
	}
	return base, func() {
		cancel()
		select {
		case code := <-done:
			assert.Equal(t, 0, code, stderr.String())
		case <-time.After(30 * time.Second):
			t.Error("gateway did not stop")
		}
	}
}

type statusReply struct {
	Status struct {
		StatusCode       string `json:"statusCode"`
		RunnerStatusCode string `json:"runnerStatusCode"`
		Duration         int64  `json:"duration"`
		Runner           string `json:"runner"`
		ErrorMsg         string `json:"errorMsg"`
		Location         struct {
			Host string `json:"host"`
			Port int    `json:"port"`
		} `json:"location"`
	} `json:"status"`
}

// k8sGateway is a gateway serving the Kubernetes runner on the shared
// control plane, in a fresh namespace, with a file task-log store.
type k8sGateway struct {
	c      *testcluster.Cluster
	ns     string
	logDir string
	base   string
}

// startK8sGateway starts "gateway serve" with runner type k8s and the
// customTemplateAdapter; extra is appended to the runtime properties.
func startK8sGateway(t *testing.T, extra string) (*k8sGateway, func()) {
	t.Helper()
	c := testcluster.Shared(t)
	g := &k8sGateway{c: c, ns: c.NewNamespace(t)}
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	require.NoError(t, c.WriteKubeconfig(kubeconfig))
	tpl := filepath.Join(dir, "base.yaml")
	require.NoError(t, os.WriteFile(tpl, []byte(e2eTemplate), 0o600))
	g.logDir = filepath.Join(dir, "tasklogs")
	require.NoError(t, os.MkdirAll(g.logDir, 0o755))
	props := writeProps(t, fmt.Sprintf(`
druid.indexer.runner.type=k8s
druid.indexer.runner.namespace=%s
druid.indexer.runner.capacity=4
druid.indexer.runner.k8s.adapter.type=customTemplateAdapter
druid.indexer.runner.k8s.podTemplate.base=%s
druid.indexer.logs.type=file
druid.indexer.logs.directory=%s
taskgate.dynconfig.file=%s
%s
`, g.ns, tpl, g.logDir, filepath.Join(dir, "dynamic-config.json"), extra))
	var stop func()
	g.base, stop = startGateway(t, props, []string{"KUBECONFIG=" + kubeconfig})
	return g, stop
}

func TestServeRunsTasksOnKubernetes(t *testing.T) {
	g, stop := startK8sGateway(t, "druid.indexer.runner.k8sjobLaunchTimeout=PT2M")
	defer stop()
	c, ns, logDir, base := g.c, g.ns, g.logDir, g.base

	raw, err := os.ReadFile("../../configs/examples/index_parallel.json")
	require.NoError(t, err)
	var head struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(raw, &head))

	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Post(base+"/taskgate/v1/task", "application/json", bytes.NewReader(raw))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(body))
	assert.Contains(t, string(body), `"runner":"k8s"`)

	// The Job Druid's runner would create exists, named as Druid names it.
	require.Eventually(t, func() bool {
		job, err := c.Client().BatchV1().Jobs(ns).Get(context.Background(), adapters.JobName(head.ID), metav1.GetOptions{})
		return err == nil && job.Labels["druid.k8s.peons"] == "true"
	}, 30*time.Second, 100*time.Millisecond)

	status := func() statusReply {
		resp, err := client.Get(base + "/taskgate/v1/task/" + head.ID + "/status")
		require.NoError(t, err)
		defer resp.Body.Close()
		var s statusReply
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&s))
		return s
	}
	// Running: the location is the pod's IP. Then the "peon" writes its
	// status.json to the task log store, as a real peon does on exit.
	require.Eventually(t, func() bool {
		s := status()
		return s.Status.RunnerStatusCode == "RUNNING" && s.Status.Location.Host != ""
	}, 60*time.Second, 100*time.Millisecond)
	assert.Equal(t, 8100, status().Status.Location.Port)
	statusJSON := fmt.Sprintf(`{"id":%q,"status":"SUCCESS","duration":4321,"errorMsg":null,"location":{"host":null,"port":-1,"tlsPort":-1}}`, head.ID)
	require.NoError(t, os.WriteFile(filepath.Join(logDir, head.ID+".status.json"), []byte(statusJSON), 0o644))

	require.Eventually(t, func() bool { return status().Status.StatusCode == "SUCCESS" }, 60*time.Second, 100*time.Millisecond)
	s := status()
	assert.Equal(t, int64(4321), s.Status.Duration)
	assert.Equal(t, "k8s", s.Status.Runner)

	// Submitting the same task again starts nothing.
	resp, err = client.Post(base+"/taskgate/v1/task", "application/json", bytes.NewReader(raw))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	jobs, err := c.Client().BatchV1().Jobs(ns).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	assert.Len(t, jobs.Items, 1)
}
