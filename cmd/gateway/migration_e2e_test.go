package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/taskgate/taskgate/dynconfig"
	"github.com/taskgate/taskgate/internal/mmsim"
	"github.com/taskgate/taskgate/internal/peonsim"
	"github.com/taskgate/taskgate/internal/testcluster"
	"github.com/taskgate/taskgate/routing"
)

// The acceptance scenario: 500 tasks of 4 types stream into the
// gateway (real control plane for the Kubernetes side, simulated Middle
// Managers for the worker side). At 1/3 index_kafka flips from worker to
// k8s through the routing config API; at 1/2 a 25% canary sends part of
// index_parallel to k8s; at 2/3 the gateway restarts; meanwhile one Middle
// Manager is killed. Every task must reach exactly one final status, no id
// may run twice, routing must follow the rules in force at each submission,
// and the audit history must show each change with author and comment.
func TestMigrationScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end scenario")
	}
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	dir := t.TempDir()
	logDir := filepath.Join(dir, "tasklogs")
	require.NoError(t, os.MkdirAll(logDir, 0o755))
	kubeconfig := filepath.Join(dir, "kubeconfig")
	require.NoError(t, c.WriteKubeconfig(kubeconfig))
	tpl := filepath.Join(dir, "base.yaml")
	require.NoError(t, os.WriteFile(tpl, []byte(strings.Replace(e2eTemplate, "run-duration: 1s", "run-duration: 300ms", 1)), 0o600))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Peons on the fake nodes "write" status.json as real ones do.
	peonsDone := make(chan struct{})
	go func() {
		defer close(peonsDone)
		_ = peonsim.Run(ctx, c.Client(), peonsim.Config{Namespace: ns, TaskLogDir: logDir, Logger: quietLog()})
	}()
	defer func() { cancel(); <-peonsDone }()

	const nMMs = 3
	var mms []*mmsim.MM
	var urls []string
	for i := range nMMs {
		mm, err := mmsim.New(mmsim.Config{Capacity: 10, TaskLogDir: logDir, DefaultDuration: 150 * time.Millisecond, Logger: quietLog(), StartPort: 12000 + 100*i})
		require.NoError(t, err)
		require.NoError(t, mm.Start(context.Background()))
		t.Cleanup(mm.Kill)
		mms = append(mms, mm)
		urls = append(urls, fmt.Sprintf(`{"url":%q,"capacity":10}`, mm.URL()))
	}
	props := writeProps(t, fmt.Sprintf(`
druid.indexer.runner.type=k8sAndWorker
druid.indexer.runner.k8sAndWorker.runnerStrategy.type=taskType
druid.indexer.runner.k8sAndWorker.runnerStrategy.taskType.default=worker
druid.indexer.runner.k8sAndWorker.runnerStrategy.taskType.overrides={"compact":"k8s"}
druid.indexer.runner.namespace=%s
druid.indexer.runner.capacity=12
druid.indexer.runner.k8sjobLaunchTimeout=PT5M
druid.indexer.runner.k8s.adapter.type=customTemplateAdapter
druid.indexer.runner.k8s.podTemplate.base=%s
druid.indexer.runner.taskCleanupTimeout=PT2S
druid.indexer.runner.syncRequestTimeout=PT1S
druid.indexer.logs.type=file
druid.indexer.logs.directory=%s
taskgate.worker.urls=[%s]
taskgate.dynconfig.file=%s
`, ns, tpl, logDir, strings.Join(urls, ","), filepath.Join(dir, "dynamic-config.json")))
	env := []string{"KUBECONFIG=" + kubeconfig}

	gw := &scenarioGateway{t: t, client: &http.Client{Timeout: 30 * time.Second}, finals: map[string]map[string]bool{}}
	gw.start(props, env)
	defer gw.stop()

	types := []string{"index_kafka", "index_parallel", "compact", "index_hadoop"}
	const total = 500
	type submitted struct {
		typ, group, runner string
		phase              int
	}
	subs := map[string]submitted{}
	var order, lost []string
	phase := 0
	for i := range total {
		switch i {
		case total / 3:
			gw.postRouting(`{"type":"taskType","default":"worker","overrides":{"compact":"k8s","index_kafka":"k8s"}}`, "migration-team", "index_kafka to Kubernetes")
			phase = 1
		case total * 2 / 5:
			// A Middle Manager dies under load; what it was running fails,
			// as in Druid (after taskCleanupTimeout), and is not run again.
			for _, id := range order {
				if a, ok := mms[1].Announcement(id); ok && a.State() == "RUNNING" {
					lost = append(lost, id)
				}
			}
			mms[1].Kill()
		case total / 2:
			gw.postRouting(`{"type":"taskType","default":"worker","overrides":{"compact":"k8s","index_kafka":"k8s"},
				"rules":[{"name":"parallel-canary","type":["index_parallel"],"percent":25}]}`, "migration-team", "25% canary for index_parallel")
			phase = 2
		case total * 2 / 3:
			waitUntil(t, time.Minute, "tasks of the killed Middle Manager failed", func() bool {
				for _, id := range lost {
					if !gw.final(id) {
						gw.pollStatus(id)
						if !gw.final(id) {
							return false
						}
					}
				}
				return true
			})
			gw.stop()
			// Nothing is resubmitted: tasks still queued in the runners'
			// memory come back from the gateway's journal.
			queued, err := filepath.Glob(filepath.Join(dir, "pending", "*.task.json"))
			require.NoError(t, err)
			require.NotEmpty(t, queued, "the restart should find tasks queued in memory (raise the load)")
			t.Logf("restart with %d accepted tasks not yet started", len(queued))
			gw.start(props, env)
			phase = 3
		}
		typ := types[i%len(types)]
		id := fmt.Sprintf("%s_scenario_%03d", typ, i)
		group := id
		if typ == "index_parallel" {
			group = fmt.Sprintf("index_parallel_scenario_group_%03d", i/8) // two tasks of each group
		}
		runner := gw.submit(id, typ, group)
		subs[id] = submitted{typ: typ, group: group, runner: runner, phase: phase}
		order = append(order, id)
		time.Sleep(5 * time.Millisecond)
	}

	// Routing followed the rules in force at each submission.
	groupRunner := map[string]string{}
	for _, id := range order {
		s := subs[id]
		want := routing.RunnerWorker
		switch {
		case s.typ == "compact":
			want = routing.RunnerK8s
		case s.typ == "index_kafka" && s.phase >= 1:
			want = routing.RunnerK8s
		case s.typ == "index_parallel" && s.phase >= 2 && routing.Bucket(s.group) < 25:
			want = routing.RunnerK8s
		}
		assert.Equal(t, want, s.runner, "task %s (phase %d)", id, s.phase)
		if s.typ == "index_parallel" && s.phase >= 2 {
			if prev, ok := groupRunner[s.group]; ok {
				assert.Equal(t, prev, s.runner, "group %s split across runners", s.group)
			}
			groupRunner[s.group] = s.runner
		}
	}

	// Every task reaches a final status; all reports of it agree.
	deadline := time.Now().Add(5 * time.Minute)
	for {
		missing := 0
		for _, id := range order {
			if !gw.final(id) {
				gw.pollStatus(id)
			}
			if !gw.final(id) {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d tasks never reached a final status", missing, total)
		}
		time.Sleep(500 * time.Millisecond)
	}
	gw.mu.Lock()
	var failed []string
	for _, id := range order {
		states := gw.finals[id]
		assert.Len(t, states, 1, "task %s reported with different final states: %v", id, states)
		if states["FAILED"] {
			failed = append(failed, id)
		}
	}
	gw.mu.Unlock()
	// What ran on the killed Middle Manager failed (plus any assignment in
	// flight to it at that moment); nothing else did.
	assert.Subset(t, failed, lost, "tasks running on the killed Middle Manager")
	for _, id := range failed {
		assert.Equal(t, routing.RunnerWorker, subs[id].runner, "failed task %s", id)
		assert.Less(t, indexOf(order, id), total*2/5, "failed task %s was submitted after the kill", id)
	}
	t.Logf("final: %d tasks, %d FAILED (running on the killed Middle Manager)", total, len(failed))

	// No id ran twice: at most one Job per task, no Middle Manager saw an id
	// twice, and no task ran on both sides.
	jobs, err := c.Client().BatchV1().Jobs(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "druid.k8s.peons=true"})
	require.NoError(t, err)
	onK8s := map[string]int{}
	for _, j := range jobs.Items {
		onK8s[j.Annotations["task.id"]]++
	}
	assigned := 0
	for _, mm := range mms {
		st := mm.Stats()
		assert.Zero(t, st.Duplicates, "a Middle Manager was assigned an id twice")
		assigned += st.Assigned
	}
	k8sTasks, workerTasks := 0, 0
	for _, id := range order {
		if subs[id].runner == routing.RunnerK8s {
			k8sTasks++
			assert.Equal(t, 1, onK8s[id], "Jobs of %s", id)
		} else {
			workerTasks++
			assert.Zero(t, onK8s[id], "worker task %s also has a Job", id)
		}
	}
	assert.Equal(t, workerTasks, assigned, "each worker task assigned exactly once over all Middle Managers")
	t.Logf("routing: %d tasks on Kubernetes, %d on Middle Managers", k8sTasks, workerTasks)

	// The audit history shows both changes, with author and comment.
	var history []dynconfig.AuditEntry
	gw.getJSON(dynconfig.PathRoutingConfigHistory, &history)
	require.Len(t, history, 2)
	assert.Equal(t, "index_kafka to Kubernetes", history[0].AuditInfo.Comment)
	assert.Equal(t, "25% canary for index_parallel", history[1].AuditInfo.Comment)
	for _, e := range history {
		assert.Equal(t, "migration-team", e.AuditInfo.Author)
		assert.Equal(t, dynconfig.RoutingConfigKey, e.Key)
	}

	// The migration view counts what the restarted gateway saw.
	var view struct {
		Types []struct {
			TaskType  string `json:"taskType"`
			Runner    string `json:"runner"`
			Submitted int    `json:"submitted"`
		} `json:"types"`
	}
	gw.getJSON("/taskgate/v1/migration", &view)
	assert.NotEmpty(t, view.Types)
}

// scenarioGateway drives one gateway process after another and follows
// their change feeds, recording every final status reported.
type scenarioGateway struct {
	t      *testing.T
	client *http.Client
	base   string
	halt   func()
	feed   context.CancelFunc
	feedWG sync.WaitGroup

	mu     sync.Mutex
	finals map[string]map[string]bool
}

func (g *scenarioGateway) start(props string, env []string) {
	g.base, g.halt = startGateway(g.t, props, env)
	ctx, cancel := context.WithCancel(context.Background())
	g.feed = cancel
	g.feedWG.Add(1)
	go g.follow(ctx, g.base)
}

func (g *scenarioGateway) stop() {
	if g.halt == nil {
		return
	}
	g.feed()
	g.feedWG.Wait()
	g.halt()
	g.halt = nil
}

// follow reads the change feed, recording final statuses.
func (g *scenarioGateway) follow(ctx context.Context, base string) {
	defer g.feedWG.Done()
	since := int64(-1)
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/taskgate/v1/changes?since=%d&timeout=2000", base, since), nil)
		resp, err := g.client.Do(req)
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		var ch struct {
			Counter int64 `json:"counter"`
			Events  []struct {
				TaskID string `json:"taskId"`
				Status *struct {
					Status string `json:"status"`
				} `json:"status"`
			} `json:"events"`
		}
		err = json.NewDecoder(resp.Body).Decode(&ch)
		resp.Body.Close()
		if err != nil {
			continue
		}
		since = ch.Counter
		for _, e := range ch.Events {
			if e.Status != nil && (e.Status.Status == "SUCCESS" || e.Status.Status == "FAILED") {
				g.record(e.TaskID, e.Status.Status)
			}
		}
	}
}

func (g *scenarioGateway) record(id, state string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.finals[id] == nil {
		g.finals[id] = map[string]bool{}
	}
	g.finals[id][state] = true
}

func (g *scenarioGateway) final(id string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.finals[id]) > 0
}

func (g *scenarioGateway) pollStatus(id string) {
	resp, err := g.client.Get(g.base + "/taskgate/v1/task/" + id + "/status")
	if err != nil {
		return
	}
	defer resp.Body.Close()
	var s statusReply
	if resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&s) == nil {
		if st := s.Status.StatusCode; st == "SUCCESS" || st == "FAILED" {
			g.record(id, st)
		}
	}
}

func (g *scenarioGateway) submit(id, typ, group string) string {
	g.t.Helper()
	body := fmt.Sprintf(`{"type":%q,"id":%q,"groupId":%q,"dataSource":"wiki","context":{"simulate":{"durationMs":400}}}`, typ, id, group)
	resp, err := g.client.Post(g.base+"/taskgate/v1/task", "application/json", strings.NewReader(body))
	require.NoError(g.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Contains(g.t, []int{http.StatusOK, http.StatusAccepted}, resp.StatusCode, "submit %s: %s", id, b)
	var r struct {
		Runner string `json:"runner"`
	}
	require.NoError(g.t, json.Unmarshal(b, &r), string(b))
	return r.Runner
}

func (g *scenarioGateway) postRouting(body, author, comment string) {
	g.t.Helper()
	req, err := http.NewRequest(http.MethodPost, g.base+dynconfig.PathRoutingConfig, bytes.NewReader([]byte(body)))
	require.NoError(g.t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(dynconfig.HeaderAuthor, author)
	req.Header.Set(dynconfig.HeaderComment, comment)
	resp, err := g.client.Do(req)
	require.NoError(g.t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(g.t, http.StatusOK, resp.StatusCode, string(b))
}

func (g *scenarioGateway) getJSON(path string, v any) {
	g.t.Helper()
	resp, err := g.client.Get(g.base + path)
	require.NoError(g.t, err)
	defer resp.Body.Close()
	require.Equal(g.t, http.StatusOK, resp.StatusCode)
	require.NoError(g.t, json.NewDecoder(resp.Body).Decode(v))
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func indexOf(ids []string, id string) int {
	for i, v := range ids {
		if v == id {
			return i
		}
	}
	return -1
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Draining one Middle Manager through the gateway's API: it gets no new
// task, what it runs finishes, and the drain view says when it is empty.
// Draining the whole worker side sends worker-bound tasks to Kubernetes
// (here not configured, so their submission fails with 503 rather than
// silently landing on a Middle Manager).
func TestServeDrainsMiddleManagers(t *testing.T) {
	var mms []*mmsim.MM
	var urls []string
	for i := range 2 {
		mm, err := mmsim.New(mmsim.Config{Capacity: 4, DefaultDuration: 100 * time.Millisecond, Logger: quietLog(), StartPort: 14000 + 100*i})
		require.NoError(t, err)
		require.NoError(t, mm.Start(context.Background()))
		t.Cleanup(mm.Kill)
		mms = append(mms, mm)
		urls = append(urls, fmt.Sprintf(`{"url":%q,"capacity":4}`, mm.URL()))
	}
	props := writeProps(t, fmt.Sprintf(`
druid.indexer.runner.type=httpRemote
taskgate.worker.urls=[%s]
taskgate.dynconfig.file=%s
`, strings.Join(urls, ","), filepath.Join(t.TempDir(), "dynamic-config.json")))
	gw := &scenarioGateway{t: t, client: &http.Client{Timeout: 30 * time.Second}, finals: map[string]map[string]bool{}}
	gw.start(props, nil)
	defer gw.stop()

	// A long task on each Middle Manager, then drain the first.
	for i := range 2 {
		body := fmt.Sprintf(`{"type":"index","id":"long-%d","dataSource":"wiki","context":{"simulate":{"durationMs":1500}}}`, i)
		resp, err := gw.client.Post(gw.base+"/taskgate/v1/task", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
	}
	waitUntil(t, 10*time.Second, "both long tasks placed", func() bool { return mms[0].Stats().Assigned+mms[1].Stats().Assigned == 2 })
	drainedMM := mms[0]
	if mms[0].Stats().Assigned == 0 {
		drainedMM = mms[1]
	}
	drained := drainedMM.HostAndPort()
	drain := func(body string) string {
		req, err := http.NewRequest(http.MethodPost, gw.base+"/taskgate/v1/migration/drain", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(dynconfig.HeaderAuthor, "ops")
		resp, err := gw.client.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
		return string(b)
	}
	drain(fmt.Sprintf(`{"add":[%q]}`, drained))
	type drainView struct {
		Workers []string       `json:"workers"`
		Running map[string]int `json:"running"`
		Empty   bool           `json:"empty"`
	}
	var v drainView
	gw.getJSON("/taskgate/v1/migration/drain", &v)
	assert.Equal(t, []string{drained}, v.Workers)
	assert.Equal(t, drainedMM.Stats().Assigned, v.Running[drained], "its long tasks still run")
	assert.False(t, v.Empty)

	before := map[string]int{mms[0].HostAndPort(): mms[0].Stats().Assigned, mms[1].HostAndPort(): mms[1].Stats().Assigned}
	for i := range 6 {
		gw.submit(fmt.Sprintf("after-drain-%d", i), "index", fmt.Sprintf("after-drain-%d", i))
	}
	waitUntil(t, 20*time.Second, "the drained Middle Manager empties", func() bool {
		gw.getJSON("/taskgate/v1/migration/drain", &v)
		return v.Empty
	})
	for _, mm := range mms {
		if mm.HostAndPort() == drained {
			assert.Equal(t, before[drained], mm.Stats().Assigned, "the drained Middle Manager got a new task")
		}
	}
	// The drain is in the routing config, audited.
	var history []dynconfig.AuditEntry
	gw.getJSON(dynconfig.PathRoutingConfigHistory, &history)
	require.Len(t, history, 1)
	assert.Equal(t, "ops", history[0].AuditInfo.Author)

	// Draining the whole worker side: worker-bound tasks go to Kubernetes,
	// which this gateway does not run, so the submission is refused.
	drain(`{"worker":true}`)
	resp, err := gw.client.Post(gw.base+"/taskgate/v1/task", "application/json", strings.NewReader(`{"type":"index","id":"side-drained","dataSource":"wiki"}`))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, string(b))
}
