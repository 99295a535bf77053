package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskgate/taskgate/internal/mmsim"
)

func runCmd(t *testing.T, environ []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, environ, &out, &errb)
	return code, out.String(), errb.String()
}

func writeProps(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "runtime.properties")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

func TestHelpListsSubcommands(t *testing.T) {
	for _, arg := range []string{"--help", "-h", "help"} {
		code, out, _ := runCmd(t, nil, arg)
		assert.Equal(t, 0, code)
		for _, cmd := range []string{"serve", "validate-config", "version"} {
			assert.Contains(t, out, cmd)
		}
	}
	code, _, errOut := runCmd(t, nil)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "Commands:")
	code, _, errOut = runCmd(t, nil, "frobnicate")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `unknown command "frobnicate"`)
}

func TestVersion(t *testing.T) {
	code, out, _ := runCmd(t, nil, "version")
	assert.Equal(t, 0, code)
	assert.Regexp(t, `^taskgate \S+ \(go`, out)
}

func TestValidateConfig(t *testing.T) {
	good := writeProps(t, `
druid.indexer.runner.type=k8sAndWorker
druid.indexer.runner.k8sAndWorker.runnerStrategy.type=taskType
druid.indexer.runner.k8sAndWorker.runnerStrategy.taskType.default=k8s
druid.indexer.runner.k8sAndWorker.runnerStrategy.taskType.overrides={"index_kafka":"worker"}
druid.indexer.runner.notAThing=1
`)
	tests := []struct {
		name       string
		args       []string
		env        []string
		wantCode   int
		wantOut    []string
		wantStderr []string
	}{
		{
			name: "effective config with sources", args: []string{"--config", good, "-D", "druid.indexer.runner.capacity=7"},
			env:      []string{"druid_indexer_runner_namespace=ingest"},
			wantCode: 0,
			wantOut: []string{
				"druid.indexer.runner.k8sAndWorker.runnerStrategy.type=taskType", "druid.indexer.runner.capacity=7",
				"druid.indexer.runner.namespace=ingest", "# routing: strategy=taskType default=k8s overrides=1",
			},
			wantStderr: []string{"warning:", "druid.indexer.runner.notAThing"},
		},
		{
			name: "taskType without default", args: []string{"--config", writeProps(t, "druid.indexer.runner.type=k8sAndWorker\ndruid.indexer.runner.k8sAndWorker.runnerStrategy.type=taskType\n")},
			wantCode: 1, wantStderr: []string{"druid.indexer.runner.k8sAndWorker.runnerStrategy.taskType.default"},
		},
		{
			name: "unknown runner in overrides", args: []string{"-D", "druid.indexer.runner.type=k8sAndWorker",
				"-D", "druid.indexer.runner.k8sAndWorker.runnerStrategy.type=taskType",
				"-D", "druid.indexer.runner.k8sAndWorker.runnerStrategy.taskType.default=worker",
				"-D", `druid.indexer.runner.k8sAndWorker.runnerStrategy.taskType.overrides={"compact":"mm"}`},
			wantCode: 1, wantStderr: []string{"druid.indexer.runner.k8sAndWorker.runnerStrategy.taskType.overrides", "compact"},
		},
		{
			name: "bad duration", args: []string{"-D", "druid.indexer.runner.maxTaskDuration=4 hours"},
			wantCode: 1, wantStderr: []string{"druid.indexer.runner.maxTaskDuration"},
		},
		{
			name: "unknown runner type", args: []string{"-D", "druid.indexer.runner.type=forking"},
			wantCode: 1, wantStderr: []string{"druid.indexer.runner.type"},
		},
		{
			name: "ZooKeeper worker runner", args: []string{"-D", "druid.indexer.runner.type=remote"},
			wantCode: 1, wantStderr: []string{"not supported yet"},
		},
		{
			name: "ZooKeeper worker type in k8sAndWorker", args: []string{"-D", "druid.indexer.runner.type=k8sAndWorker",
				"-D", "druid.indexer.runner.namespace=druid", "-D", "druid.indexer.runner.k8sAndWorker.runnerStrategy.workerType=remote"},
			wantCode: 1, wantStderr: []string{"not supported yet"},
		},
		{name: "missing file", args: []string{"--config", "/nonexistent/runtime.properties"}, wantCode: 1, wantStderr: []string{"/nonexistent/runtime.properties"}},
		{name: "bad -D", args: []string{"-D", "novalue"}, wantCode: 2, wantStderr: []string{"key=value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, tt.env, append([]string{"validate-config"}, tt.args...)...)
			assert.Equal(t, tt.wantCode, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
			for _, w := range tt.wantOut {
				assert.Contains(t, out, w)
			}
			for _, w := range tt.wantStderr {
				assert.Contains(t, errOut, w)
			}
		})
	}
}

func TestValidateConfigOnShippedExamples(t *testing.T) {
	for _, f := range []string{"../../configs/local.properties", "../../configs/runtime.properties.example"} {
		code, out, errOut := runCmd(t, nil, "validate-config", "--config", f)
		assert.Equal(t, 0, code, "%s: %s", f, errOut)
		assert.Contains(t, out, "# routing:")
	}
}

func TestServeEndToEnd(t *testing.T) {
	// httpRemote: every task goes to the Middle Manager runner, here one
	// simulated Middle Manager; no Kubernetes API is needed.
	logDir := t.TempDir()
	mm, err := mmsim.New(mmsim.Config{Capacity: 2, TaskLogDir: logDir, DefaultDuration: 200 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, mm.Start(context.Background()))
	defer func() { _ = mm.Stop(context.Background(), false) }()
	props := writeProps(t, `
druid.indexer.runner.type=httpRemote
taskgate.worker.urls=[{"url":"`+mm.URL()+`","capacity":2}]
druid.indexer.logs.directory=`+logDir+`
druid.indexer.runner.k8s.podTemplate.base=/nonexistent/base.yaml
druid.indexer.runner.k8s.podTemplate.kafka=/nonexistent/kafka.yaml
taskgate.dynconfig.file=`+filepath.Join(t.TempDir(), "dynamic-config.json")+`
`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", props, "--listen", "127.0.0.1:0", "--log-format", "text"},
			[]string{"OTEL_SDK_DISABLED=false"}, pw, &stderr)
		_ = pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var base string
	addrRe := regexp.MustCompile(`listening on (http://\S+)`)
	for sc.Scan() {
		if m := addrRe.FindStringSubmatch(sc.Text()); m != nil {
			base = m[1]
			break
		}
	}
	require.NotEmpty(t, base, "serve never said where it listens; stderr:\n%s", stderr.String())
	go func() { _, _ = io.Copy(io.Discard, pr) }()

	client := &http.Client{Timeout: 10 * time.Second}
	get := func(path string) (int, string) {
		resp, err := client.Get(base + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/status/health")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "true", strings.TrimSpace(body))
	code, body = get("/status")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "version")
	code, body = get("/metrics")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "go_goroutines")

	// Tasks run on the Middle Manager and their final status comes back.
	for _, file := range []string{"index_kafka.json", "index_parallel.json"} {
		raw, err := os.ReadFile(filepath.Join("../../configs/examples", file))
		require.NoError(t, err)
		resp, err := client.Post(base+"/taskgate/v1/task", "application/json", bytes.NewReader(raw))
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusAccepted, resp.StatusCode, string(b))
		var sub struct{ Task, Runner string }
		require.NoError(t, json.Unmarshal(b, &sub), string(b))
		assert.Equal(t, "worker", sub.Runner)
		require.Eventually(t, func() bool {
			code, body := get("/taskgate/v1/task/" + sub.Task + "/status")
			return code == http.StatusOK && strings.Contains(body, `"statusCode":"SUCCESS"`)
		}, 30*time.Second, 50*time.Millisecond, "task %s never succeeded", sub.Task)
	}
	assert.Equal(t, 2, mm.Stats().Assigned)

	// The dynamic execution config is served at Druid's path and persisted.
	execCfg := `{"type":"default","podTemplateSelectStrategy":{"type":"selectorBased","selectors":[{"selectionKey":"kafka","type":["index_kafka"]}]}}`
	req, err := http.NewRequest(http.MethodPost, base+"/druid/indexer/v1/k8s/taskrunner/executionconfig", strings.NewReader(execCfg))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Druid-Author", "alice")
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	code, body = get("/druid/indexer/v1/k8s/taskrunner/executionconfig")
	assert.Equal(t, http.StatusOK, code)
	var got struct {
		Strategy struct {
			Type      string `json:"type"`
			Selectors []struct {
				SelectionKey string   `json:"selectionKey"`
				Type         []string `json:"type"`
			} `json:"selectors"`
		} `json:"podTemplateSelectStrategy"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &got), body)
	assert.Equal(t, "selectorBased", got.Strategy.Type)
	require.Len(t, got.Strategy.Selectors, 1)
	assert.Equal(t, "kafka", got.Strategy.Selectors[0].SelectionKey)
	code, body = get("/druid/indexer/v1/k8s/taskrunner/executionconfig/history")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"author":"alice"`)

	// A selection key with no template is refused and nothing is stored.
	bad := strings.Replace(execCfg, `"kafka"`, `"nosuch"`, 1)
	resp, err = client.Post(base+"/druid/indexer/v1/k8s/taskrunner/executionconfig", "application/json", strings.NewReader(bad))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, string(b), "selectionKey")

	cancel()
	select {
	case code := <-done:
		assert.Equal(t, 0, code, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop after its context was cancelled")
	}
}

// lockedBuffer is a bytes.Buffer that serve can write while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
