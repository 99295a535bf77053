package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/taskgate/taskgate/dynconfig"
	"github.com/taskgate/taskgate/migration"
	"github.com/taskgate/taskgate/routing"
	"github.com/taskgate/taskgate/task"
)

const openAPIPath = "../docs/openapi.yaml"

var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(openAPIPath)
	require.NoError(t, err)
	js, err := yaml.YAMLToJSON(raw)
	require.NoError(t, err, "docs/openapi.yaml is not valid YAML")
	var doc map[string]any
	require.NoError(t, json.Unmarshal(js, &doc))
	return doc
}

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// TestOpenAPIMatchesRouter keeps docs/openapi.yaml and the router in step:
// the same (method, path) pairs, operationIds equal to route names, path
// parameters declared, and every $ref resolvable.
func TestOpenAPIMatchesRouter(t *testing.T) {
	doc := loadOpenAPI(t)
	require.True(t, strings.HasPrefix(fmt.Sprint(doc["openapi"]), "3."), "openapi version: %v", doc["openapi"])

	// The gateway's extra routes are part of the API the document describes.
	gw := newGatewayRoutes(t, gatewayRoutesConfig{routing: true, workers: fixedLoad{}})
	s, _ := newTestServer(t, newMemRunner(), gw.opts...)
	routes := map[string]string{} // "METHOD /path" → route name
	require.NoError(t, s.router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tmpl, err := route.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := route.GetMethods()
		if err != nil {
			return fmt.Errorf("route %s has no methods: %w", tmpl, err)
		}
		for _, m := range methods {
			routes[m+" "+RouteTemplate(tmpl)] = route.GetName()
		}
		return nil
	}))
	require.NotEmpty(t, routes)
	for _, key := range []string{
		"GET " + dynconfig.PathExecutionConfig, "POST " + dynconfig.PathRoutingConfig,
		"GET " + migration.PathView, "POST " + migration.PathDrain,
	} {
		require.Contains(t, routes, key, "the gateway's routes are not mounted")
	}

	documented := map[string]string{} // "METHOD /path" → operationId
	paramRe := regexp.MustCompile(`\{([^}]+)\}`)
	for path, item := range obj(doc["paths"]) {
		for _, m := range openAPIMethods {
			op := obj(obj(item)[m])
			if op == nil {
				continue
			}
			key := strings.ToUpper(m) + " " + path
			documented[key] = fmt.Sprint(op["operationId"])
			assert.NotEmpty(t, obj(op["responses"]), "%s has no responses", key)

			declared := map[string]bool{}
			params, _ := op["parameters"].([]any)
			for _, p := range params {
				p := resolve(t, doc, p)
				if p["in"] == "path" {
					declared[fmt.Sprint(p["name"])] = true
				}
			}
			for _, want := range paramRe.FindAllStringSubmatch(path, -1) {
				assert.True(t, declared[want[1]], "%s does not declare path parameter %q", key, want[1])
			}
		}
	}

	assert.Equal(t, sortedKeys(routes), sortedKeys(documented), "routes and documented operations differ")
	for key, name := range routes {
		if id, ok := documented[key]; ok {
			assert.Equal(t, name, id, "operationId of %s", key)
		}
	}

	var refs []string
	collectRefs(doc, &refs)
	require.NotEmpty(t, refs)
	for _, ref := range refs {
		assert.NotNil(t, lookupRef(doc, ref), "unresolved $ref %s", ref)
	}
}

// TestResponsesMatchOpenAPI checks real answers against the documented
// schemas, so a field added, renamed or dropped in code shows up here. The
// gateway's extra routes (execution and routing config, migration view and
// drain) are built from their real components and given real content first.
func TestResponsesMatchOpenAPI(t *testing.T) {
	doc := loadOpenAPI(t)
	m := newMemRunner()
	m.put(runningItem("t1", "k8s"))
	done := runningItem("t2", "worker")
	done.State = task.RunnerStateNone
	st := task.Failure("t2", "boom")
	done.Status = &st
	m.put(done)
	m.logs["t1"] = "hello\n"
	m.total = map[string]int{"c": 2}
	gw := newGatewayRoutes(t, gatewayRoutesConfig{routing: true,
		workers: fixedLoad{"mm-1.mm.druid.svc:8091": 2, "": 1}})
	s, _ := newTestServer(t, m, gw.opts...)
	m.emit(routing.Event{Kind: routing.EventStatusChanged, TaskID: "t2", Runner: "worker", Status: &st, Location: task.UnknownLocation(), Time: time.Now()})
	gw.populate(t, s.Handler())

	// Without a routing config the drain endpoints answer 503; without the
	// worker load the drain status has null counts; a config never POSTed
	// is answered with its defaults and an empty history.
	unwired := newGatewayRoutes(t, gatewayRoutesConfig{})
	sUnwired, _ := newTestServer(t, newMemRunner(), unwired.opts...)
	noLoad := newGatewayRoutes(t, gatewayRoutesConfig{routing: true})
	sNoLoad, _ := newTestServer(t, newMemRunner(), noLoad.opts...)

	const (
		execCfg    = dynconfig.PathExecutionConfig
		execHist   = dynconfig.PathExecutionConfigHistory
		routingCfg = dynconfig.PathRoutingConfig
		routingHis = dynconfig.PathRoutingConfigHistory
		view       = migration.PathView
		drain      = migration.PathDrain
	)
	textHeader := map[string]string{"Content-Type": "text/plain"}
	tooBig := strings.Repeat(" ", dynconfig.MaxBodyBytes+1)
	tests := []struct {
		method, target, body string
		want                 int
		srv                  *Server           // nil: s
		header               map[string]string // nil: JSON
	}{
		{method: http.MethodPost, target: "/taskgate/v1/task", body: `{"type":"noop","id":"n1"}`, want: 202},
		{method: http.MethodPost, target: "/taskgate/v1/task", body: `{"type":"noop","id":"t1"}`, want: 200},
		{method: http.MethodPost, target: "/taskgate/v1/task", body: `{"type":"noop"}`, want: 400},
		{method: http.MethodPost, target: "/taskgate/v1/task", body: `x`, want: 400},
		{method: http.MethodGet, target: "/taskgate/v1/task/t1/status", want: 200},
		{method: http.MethodGet, target: "/taskgate/v1/task/t2/status", want: 200},
		{method: http.MethodGet, target: "/taskgate/v1/task/zz/status", want: 404},
		{method: http.MethodGet, target: "/taskgate/v1/task/t1/location", want: 200},
		{method: http.MethodGet, target: "/taskgate/v1/task/t2/location", want: 200},
		{method: http.MethodGet, target: "/taskgate/v1/task//location", want: 400},
		{method: http.MethodPost, target: "/taskgate/v1/task/t1/shutdown", body: `{"reason":"r"}`, want: 200},
		{method: http.MethodPost, target: "/taskgate/v1/task/t1/shutdown", body: `{"nope":1}`, want: 400},
		{method: http.MethodGet, target: "/taskgate/v1/task/zz/log", want: 404},
		{method: http.MethodGet, target: "/taskgate/v1/task/t1/log?offset=x", want: 400},
		{method: http.MethodGet, target: "/taskgate/v1/tasks", want: 200},
		{method: http.MethodGet, target: "/taskgate/v1/tasks?state=bad", want: 400},
		{method: http.MethodGet, target: "/taskgate/v1/capacity", want: 200},
		{method: http.MethodGet, target: "/taskgate/v1/changes?since=-1", want: 200},
		{method: http.MethodGet, target: fmt.Sprintf("/taskgate/v1/changes?since=%d", s.changes.base), want: 200},
		{method: http.MethodGet, target: "/taskgate/v1/changes?timeout=x", want: 400},
		{method: http.MethodGet, target: "/status/health", want: 200},
		{method: http.MethodGet, target: "/status/ready", want: 200},
		{method: http.MethodGet, target: "/status", want: 200},
		{method: http.MethodGet, target: "/nowhere", want: 404},
		{method: http.MethodPut, target: "/status", want: 405},

		// The gateway's routes. GETs first: the POSTs below change state.
		{method: http.MethodGet, target: view, want: 200},
		{method: http.MethodGet, target: view, want: 200, srv: sUnwired},
		{method: http.MethodGet, target: drain, want: 200},
		{method: http.MethodGet, target: drain, want: 200, srv: sNoLoad},
		{method: http.MethodGet, target: drain, want: 503, srv: sUnwired},
		{method: http.MethodGet, target: execCfg, want: 200},
		{method: http.MethodGet, target: execCfg, want: 200, srv: sUnwired},
		{method: http.MethodGet, target: execHist, want: 200},
		{method: http.MethodGet, target: execHist + "?count=1", want: 200},
		{method: http.MethodGet, target: execHist + "?interval=2020-01-01T00:00:00Z/P7D", want: 200},
		{method: http.MethodGet, target: execHist, want: 200, srv: sUnwired},
		{method: http.MethodGet, target: execHist + "?count=0", want: 400},
		{method: http.MethodGet, target: execHist + "?interval=yesterday", want: 400},
		{method: http.MethodGet, target: routingCfg, want: 200},
		{method: http.MethodGet, target: routingCfg, want: 200, srv: sNoLoad},
		{method: http.MethodGet, target: routingHis, want: 200},
		{method: http.MethodGet, target: routingHis + "?count=x", want: 400},
		{method: http.MethodPut, target: view, want: 405},

		{method: http.MethodPost, target: execCfg, body: `{"capacity": 0}`, want: 400},
		{method: http.MethodPost, target: execCfg, body: `{"podTemplateSelectStrategy": {"type": "selectorBased"}}`, want: 400},
		{method: http.MethodPost, target: execCfg, body: `{"capacity": 3}`, want: 415, header: textHeader},
		{method: http.MethodPost, target: execCfg, body: tooBig, want: 413},
		{method: http.MethodPost, target: execCfg, body: `{"capacity": 7}`, want: 200},
		{method: http.MethodPost, target: routingCfg, body: `{"type": "sideways"}`, want: 400},
		{method: http.MethodPost, target: routingCfg, body: `{"rules": [{"name": "r", "percent": 101}]}`, want: 400},
		{method: http.MethodPost, target: routingCfg, body: `{"type": "k8s"}`, want: 415, header: textHeader},
		{method: http.MethodPost, target: routingCfg, body: `{"type": "taskType", "default": "worker"}`, want: 200, srv: sNoLoad},
		{method: http.MethodPost, target: drain, body: `{"add": ["mm-1.mm.druid.svc:8091"]}`, want: 200},
		{method: http.MethodPost, target: drain, body: `{"worker": true}`, want: 200, srv: sNoLoad},
		{method: http.MethodPost, target: drain, body: `{"workers": ["no-port"]}`, want: 400},
		{method: http.MethodPost, target: drain, body: `{"wrkers": []}`, want: 400},
		{method: http.MethodPost, target: drain, body: `{}`, want: 400},
		{method: http.MethodPost, target: drain, body: `{"worker": true}`, want: 415, header: textHeader},
		{method: http.MethodPost, target: drain, body: `{"worker": true}`, want: 503, srv: sUnwired},
	}
	covered := nullCoverage{}
	for _, tc := range tests {
		srv, header := tc.srv, tc.header
		if srv == nil {
			srv = s
		}
		if header == nil {
			header = jsonHeader()
		}
		name := tc.method + " " + tc.target
		if tc.body != "" && len(tc.body) < 80 {
			name += " " + tc.body
		}
		switch srv {
		case sUnwired:
			name += " (no routing config)"
		case sNoLoad:
			name += " (no worker load)"
		}
		t.Run(name, func(t *testing.T) {
			rec := serve(t, srv.Handler(), req{method: tc.method, target: tc.target, body: strings.NewReader(tc.body), header: header})
			require.Equal(t, tc.want, rec.Code, rec.Body.String())
			resp := documentedResponse(t, doc, srv, tc.method, tc.target, rec.Code)
			content := obj(resp["content"])
			if content == nil {
				assert.Empty(t, rec.Body.String(), "the document says %d of %s has no body", rec.Code, tc.method)
				return
			}
			media := obj(content["application/json"])
			require.NotNil(t, media, "no application/json content documented for %d of %s %s", rec.Code, tc.method, tc.target)
			var body any
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			for _, problem := range validate(doc, obj(media["schema"]), body, "$") {
				t.Errorf("response does not match docs/openapi.yaml: %s\nbody: %s", problem, rec.Body.String())
			}
			if rec.Code == http.StatusOK {
				covered.walk(body, tc.method+" "+strings.SplitN(tc.target, "?", 2)[0]+" $")
			}
		})
	}

	// Every nullable field of the gateway's answers was checked both null
	// and with a value, so neither form can drift from the document unseen.
	for _, path := range []string{
		"GET " + view + " $.types.failureRate",
		"GET " + view + " $.types.medianDurationMs",
		"GET " + view + " $.types.p95DurationMs",
		"GET " + view + " $.types.share",
		"GET " + view + " $.rules.k8sShare",
		"GET " + view + " $.rules.percent",
		"GET " + drain + " $.running",
		"GET " + drain + " $.unassigned",
		"GET " + drain + " $.runningOnWorkerSide",
		"POST " + drain + " $.running",
		"GET " + execCfg + " $.podTemplateSelectStrategy.selectors.type",
		"GET " + execCfg + " $.podTemplateSelectStrategy.selectors.context.tags",
	} {
		seen := covered[path]
		if assert.NotNil(t, seen, "%s never answered", path) {
			assert.True(t, seen[0], "%s never checked as null", path)
			assert.True(t, seen[1], "%s never checked with a value", path)
		}
	}
	// The rest of the view's lists and optional values were checked with
	// content: a list seen only empty would prove nothing about its items.
	for _, path := range []string{
		"GET " + view + " $.diverted.lastDetail",
		"GET " + view + " $.rollbacks.comment",
		"GET " + view + " $.rules.taskTypes",
		"GET " + execHist + " $.auditInfo.identity",
		"GET " + routingHis + " $.payload",
		"GET " + routingCfg + " $.rules.fallback.noSlotFor",
		"GET " + routingCfg + " $.rules.guard.minTasks",
		"GET " + routingCfg + " $.rules.context.tags.tier",
		"GET " + routingCfg + " $.overrides.compact",
		"GET " + drain + " $.workers",
	} {
		seen := covered[path]
		if assert.NotNil(t, seen, "%s never answered", path) {
			assert.True(t, seen[0] || seen[1], "%s never checked", path)
		}
	}
}

// documentedResponse finds the response the document gives for a request's
// answer: the operation's own status code, else its default; unrouted
// requests use the shared Error response.
func documentedResponse(t *testing.T, doc map[string]any, s *Server, method, target string, status int) map[string]any {
	t.Helper()
	r, err := http.NewRequest(method, target, nil)
	require.NoError(t, err)
	var match mux.RouteMatch
	var responses map[string]any
	if s.router.Match(r, &match) && match.MatchErr == nil {
		tmpl, err := match.Route.GetPathTemplate()
		require.NoError(t, err)
		op := obj(obj(obj(doc["paths"])[RouteTemplate(tmpl)])[strings.ToLower(method)])
		require.NotNil(t, op, "%s %s is not documented", method, tmpl)
		responses = obj(op["responses"])
	} else {
		responses = map[string]any{"default": map[string]any{"$ref": "#/components/responses/Error"}}
	}
	resp, ok := responses[fmt.Sprint(status)]
	if !ok {
		resp, ok = responses["default"]
	}
	require.True(t, ok, "status %d of %s %s is not documented", status, method, target)
	return resolve(t, doc, resp)
}

func resolve(t *testing.T, doc map[string]any, v any) map[string]any {
	t.Helper()
	m := obj(v)
	for m != nil && m["$ref"] != nil {
		next := lookupRef(doc, fmt.Sprint(m["$ref"]))
		require.NotNil(t, next, "unresolved $ref %v", m["$ref"])
		m = obj(next)
	}
	return m
}

func lookupRef(doc map[string]any, ref string) any {
	if !strings.HasPrefix(ref, "#/") {
		return nil
	}
	var cur any = doc
	for _, part := range strings.Split(ref[2:], "/") {
		cur = obj(cur)[part]
		if cur == nil {
			return nil
		}
	}
	return cur
}

func collectRefs(v any, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			if k == "$ref" {
				*out = append(*out, fmt.Sprint(child))
				continue
			}
			collectRefs(child, out)
		}
	case []any:
		for _, child := range x {
			collectRefs(child, out)
		}
	}
}

// validate checks v against the subset of JSON Schema the document uses:
// $ref, type, format date-time, nullable, enum, required, properties,
// additionalProperties, items and oneOf.
func validate(doc map[string]any, schema map[string]any, v any, at string) []string {
	for schema != nil && schema["$ref"] != nil {
		schema = obj(lookupRef(doc, fmt.Sprint(schema["$ref"])))
	}
	if schema == nil {
		return []string{at + ": no schema"}
	}
	if v == nil {
		if schema["nullable"] == true {
			return nil
		}
		return []string{at + ": null where the schema does not allow it"}
	}
	if alts, ok := schema["oneOf"].([]any); ok {
		matched := 0
		for _, alt := range alts {
			if len(validate(doc, obj(alt), v, at)) == 0 {
				matched++
			}
		}
		if matched != 1 {
			return []string{fmt.Sprintf("%s: matches %d of the oneOf alternatives", at, matched)}
		}
		return nil
	}
	var problems []string
	if enum, ok := schema["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if e == v {
				found = true
			}
		}
		if !found {
			problems = append(problems, fmt.Sprintf("%s: %v is not one of %v", at, v, enum))
		}
	}
	switch schema["type"] {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return append(problems, fmt.Sprintf("%s: want an object, got %T", at, v))
		}
		props := obj(schema["properties"])
		if req, ok := schema["required"].([]any); ok {
			for _, r := range req {
				if _, ok := m[fmt.Sprint(r)]; !ok {
					problems = append(problems, fmt.Sprintf("%s: missing required %q", at, r))
				}
			}
		}
		for k, child := range m {
			if ps, ok := props[k]; ok {
				problems = append(problems, validate(doc, obj(ps), child, at+"."+k)...)
				continue
			}
			switch ap := schema["additionalProperties"].(type) {
			case bool:
				if !ap {
					problems = append(problems, fmt.Sprintf("%s: undocumented field %q", at, k))
				}
			case map[string]any:
				problems = append(problems, validate(doc, ap, child, at+"."+k)...)
			}
		}
	case "array":
		items, ok := v.([]any)
		if !ok {
			return append(problems, fmt.Sprintf("%s: want an array, got %T", at, v))
		}
		for i, it := range items {
			problems = append(problems, validate(doc, obj(schema["items"]), it, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: want a string, got %T", at, v))
			break
		}
		if schema["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %q is not an RFC 3339 date-time", at, str))
			}
		}
	case "number":
		if _, ok := v.(float64); !ok {
			problems = append(problems, fmt.Sprintf("%s: want a number, got %T", at, v))
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != float64(int64(f)) {
			problems = append(problems, fmt.Sprintf("%s: want an integer, got %v", at, v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			problems = append(problems, fmt.Sprintf("%s: want a boolean, got %T", at, v))
		}
	}
	return problems
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
