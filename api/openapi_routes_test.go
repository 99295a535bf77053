package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskgate/taskgate/dynconfig"
	"github.com/taskgate/taskgate/migration"
	"github.com/taskgate/taskgate/routing"
	"github.com/taskgate/taskgate/task"
)

// The routes the gateway mounts next to the api package's own
// (cmd/gateway/serve.go and migration.go), built here from the real
// components so the OpenAPI checks cover them too.

// fixedLoad is a migration.WorkerLoad that reports the same load every time.
type fixedLoad map[string]int

func (l fixedLoad) RunningByWorker() map[string]int { return maps.Clone(l) }

// gatewayRoutesConfig says which of the gateway's components to wire.
type gatewayRoutesConfig struct {
	// routing wires the routing config (its endpoints, the tracker's guard
	// and drain); without it the drain endpoints answer 503.
	routing bool
	// workers is the tracker's view of the Middle Managers' load; nil
	// leaves it unwired (the drain status then reports null counts).
	workers migration.WorkerLoad
}

// gatewayRoutes holds the components behind the gateway's extra routes.
type gatewayRoutes struct {
	exec    *dynconfig.Manager
	routing *dynconfig.RoutingManager // nil unless cfg.routing
	tracker *migration.Tracker
	// opts mount the routes as the gateway does, with the same resources.
	opts []Option
}

// restoredTaskID is a task the tracker did not see submitted but its
// Lookup knows, as a task restored after a restart.
const restoredTaskID = "restored-compact-1"

func newGatewayRoutes(t *testing.T, cfg gatewayRoutesConfig) *gatewayRoutes {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	g := &gatewayRoutes{}

	execStore, err := dynconfig.OpenFileStore(dynconfig.FileStoreConfig{Path: filepath.Join(dir, "dynamic-config.json")})
	require.NoError(t, err)
	g.exec, err = dynconfig.NewManager(ctx, dynconfig.ManagerConfig{Logger: log}, execStore)
	require.NoError(t, err)
	t.Cleanup(func() { _ = g.exec.Close() })
	execHandlers := dynconfig.NewHandlers(g.exec, dynconfig.WithIdentity(IdentityName), dynconfig.WithHandlersLogger(log))
	g.opts = append(g.opts, WithResourceRoutes(ConfigResource, execHandlers.Register))

	mcfg := migration.Config{
		Logger:   log,
		Workers:  cfg.workers,
		Identity: IdentityName,
		Lookup: func(id string) (routing.WorkItem, bool) {
			if id == restoredTaskID {
				return routing.WorkItem{TaskID: id, TaskType: "compact", Runner: routing.RunnerWorker}, true
			}
			return routing.WorkItem{}, false
		},
	}
	if cfg.routing {
		routingStore, err := dynconfig.OpenDocFileStore(dynconfig.FileStoreConfig{Path: filepath.Join(dir, "dynamic-config-routing.json")}, dynconfig.RoutingConfigDoc)
		require.NoError(t, err)
		static := &dynconfig.RoutingConfig{Type: dynconfig.RoutingTypeTaskType, Default: dynconfig.RunnerWorker,
			Overrides: map[string]string{"compact": dynconfig.RunnerK8s}}
		g.routing, err = dynconfig.NewRoutingManager(ctx, static, routingStore, log)
		require.NoError(t, err)
		t.Cleanup(func() { _ = g.routing.Close() })
		routingHandlers := dynconfig.NewRoutingHandlers(g.routing, dynconfig.WithIdentity(IdentityName), dynconfig.WithHandlersLogger(log))
		g.opts = append(g.opts, WithResourceRoutes(ConfigResource, routingHandlers.Register))
		mcfg.Routing = g.routing
	}
	g.tracker, err = migration.New(mcfg)
	require.NoError(t, err)
	// Registered after the managers' cleanups, so it runs first and the
	// guard stops before the routing config goes.
	t.Cleanup(func() { _ = g.tracker.Close() })
	// As cmd/gateway mounts them: the view reads state, the drain is config.
	g.opts = append(g.opts,
		WithResourceRoutes(StateResource, g.tracker.RegisterView),
		WithResourceRoutes(ConfigResource, g.tracker.RegisterDrain))
	return g
}

// canaryRoutingConfig has a guarded canary (guard after one Kubernetes
// completion, so a single failure rolls it back), a rule that never routes,
// and a drained Middle Manager.
const canaryRoutingConfig = `{
  "type": "taskType", "default": "worker", "overrides": {"compact": "k8s"},
  "rules": [
    {"name": "canary", "type": ["index_parallel"], "dataSource": ["wiki"], "percent": 25,
     "fallback": {"noSlotFor": "PT2M", "unreachable": true},
     "guard": {"maxFailureRateDelta": 10, "minTasks": 1}},
    {"name": "gold-tier", "context.tags": {"tier": ["gold"]}, "percent": 100},
    {"name": "idle", "type": ["index_hadoop"], "percent": 0}
  ],
  "drain": {"worker": false, "workers": ["mm-2.mm.druid.svc:8091"]}
}`

// populate gives the configs and the migration view real content: stored
// execution and routing configs (with history), routed and completed tasks
// of several types, diversions, an unattributed completion, and a guard
// rollback, waited for.
func (g *gatewayRoutes) populate(t *testing.T, h http.Handler) {
	t.Helper()
	require.NotNil(t, g.routing, "populate needs the routing config wired")
	post := func(target, body string) {
		t.Helper()
		hdr := jsonHeader()
		hdr[dynconfig.HeaderAuthor] = "alice"
		hdr[dynconfig.HeaderComment] = "openapi test"
		rec := serve(t, h, req{method: http.MethodPost, target: target, body: strings.NewReader(body), header: hdr})
		require.Equal(t, http.StatusOK, rec.Code, "POST %s: %s", target, rec.Body.String())
	}
	post(dynconfig.PathExecutionConfig, `{"capacity": 5}`)
	post(dynconfig.PathExecutionConfig, `{"type": "default", "podTemplateSelectStrategy": {"type": "selectorBased",
		"selectors": [{"selectionKey": "base", "context.tags": {"tier": ["gold"]}, "type": ["index_kafka"]},
		              {"selectionKey": "base", "dataSource": ["wiki"]}]}}`)
	post(dynconfig.PathRoutingConfig, canaryRoutingConfig)

	tk := func(id, typ string) *task.Task { return &task.Task{ID: id, Type: typ, GroupID: id, DataSource: "wiki"} }
	done := func(id, runner string, st task.Status) {
		g.tracker.OnEvent(routing.Event{Kind: routing.EventStatusChanged, TaskID: id, Runner: runner, Status: &st,
			Location: task.UnknownLocation(), Time: time.Now()})
	}
	// The canary sends one task group each way; the Kubernetes one fails.
	g.tracker.TaskRouted(tk("par-1", "index_parallel"), routing.Decision{Runner: routing.RunnerWorker, Rule: "rules[canary]", RuleName: "canary"})
	g.tracker.TaskRouted(tk("par-2", "index_parallel"), routing.Decision{Runner: routing.RunnerK8s, Rule: "rules[canary]", RuleName: "canary"})
	done("par-1", routing.RunnerWorker, task.Success("par-1", 61_000))
	failed := task.Failure("par-2", "boom")
	failed.Duration = 300_000
	done("par-2", routing.RunnerK8s, failed)
	// Diverted from the worker side: by the drain, and by a fallback.
	g.tracker.TaskRouted(tk("kafka-1", "index_kafka"), routing.Decision{Runner: routing.RunnerK8s, Rule: "taskType.default", Diverted: routing.RuleDrain})
	g.tracker.TaskRouted(tk("kafka-2", "index_kafka"), routing.Decision{Runner: routing.RunnerWorker, Rule: "rules[gold-tier]", RuleName: "gold-tier",
		Diverted: "fallback: k8s runner unreachable (API server not ready)"})
	// A rule that is no longer in the config in force.
	g.tracker.TaskRouted(tk("hadoop-1", "index_hadoop"), routing.Decision{Runner: routing.RunnerWorker, Rule: "rules[retired]", RuleName: "retired"})
	// Completions of tasks the tracker did not see submitted: one its
	// Lookup knows (no duration reported, and its type had no submission in
	// the window), one nobody knows.
	done(restoredTaskID, routing.RunnerWorker, task.Success(restoredTaskID, -1))
	done("unknown-1", routing.RunnerWorker, task.Success("unknown-1", 5))

	require.Eventually(t, func() bool {
		v := g.view(t, h)
		return len(v.Rollbacks) == 1
	}, 10*time.Second, 10*time.Millisecond, "the canary's guard did not roll it back")
}

// view answers GET /taskgate/v1/migration.
func (g *gatewayRoutes) view(t *testing.T, h http.Handler) migration.View {
	t.Helper()
	rec := serve(t, h, req{method: http.MethodGet, target: migration.PathView})
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var v migration.View
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v))
	return v
}

// nullCoverage records, per JSON path with array indexes left out (e.g.
// "$.types.share"), whether a value was seen null and whether non-null, so
// a test can show that both forms of every nullable field were checked.
type nullCoverage map[string]*[2]bool // [null seen, value seen]

func (c nullCoverage) walk(v any, at string) {
	seen := c[at]
	if seen == nil {
		seen = &[2]bool{}
		c[at] = seen
	}
	if v == nil {
		seen[0] = true
		return
	}
	seen[1] = true
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			c.walk(child, at+"."+k)
		}
	case []any:
		for _, child := range x {
			c.walk(child, at)
		}
	}
}
