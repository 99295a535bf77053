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

	s, _ := newTestServer(t, newMemRunner())
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
// schemas, so a field added, renamed or dropped in code shows up here.
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
	s, _ := newTestServer(t, m)
	m.emit(routing.Event{Kind: routing.EventStatusChanged, TaskID: "t2", Runner: "worker", Status: &st, Location: task.UnknownLocation(), Time: time.Now()})

	tests := []struct {
		method, target, body string
		want                 int
	}{
		{http.MethodPost, "/taskgate/v1/task", `{"type":"noop","id":"n1"}`, 202},
		{http.MethodPost, "/taskgate/v1/task", `{"type":"noop","id":"t1"}`, 200},
		{http.MethodPost, "/taskgate/v1/task", `{"type":"noop"}`, 400},
		{http.MethodPost, "/taskgate/v1/task", `x`, 400},
		{http.MethodGet, "/taskgate/v1/task/t1/status", "", 200},
		{http.MethodGet, "/taskgate/v1/task/t2/status", "", 200},
		{http.MethodGet, "/taskgate/v1/task/zz/status", "", 404},
		{http.MethodGet, "/taskgate/v1/task/t1/location", "", 200},
		{http.MethodGet, "/taskgate/v1/task/t2/location", "", 200},
		{http.MethodGet, "/taskgate/v1/task//location", "", 400},
		{http.MethodPost, "/taskgate/v1/task/t1/shutdown", `{"reason":"r"}`, 200},
		{http.MethodPost, "/taskgate/v1/task/t1/shutdown", `{"nope":1}`, 400},
		{http.MethodGet, "/taskgate/v1/task/zz/log", "", 404},
		{http.MethodGet, "/taskgate/v1/task/t1/log?offset=x", "", 400},
		{http.MethodGet, "/taskgate/v1/tasks", "", 200},
		{http.MethodGet, "/taskgate/v1/tasks?state=bad", "", 400},
		{http.MethodGet, "/taskgate/v1/capacity", "", 200},
		{http.MethodGet, "/taskgate/v1/changes?since=-1", "", 200},
		{http.MethodGet, fmt.Sprintf("/taskgate/v1/changes?since=%d", s.changes.base), "", 200},
		{http.MethodGet, "/taskgate/v1/changes?timeout=x", "", 400},
		{http.MethodGet, "/status/health", "", 200},
		{http.MethodGet, "/status/ready", "", 200},
		{http.MethodGet, "/status", "", 200},
		{http.MethodGet, "/nowhere", "", 404},
		{http.MethodPut, "/status", "", 405},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			rec := serve(t, s.Handler(), req{method: tc.method, target: tc.target, body: strings.NewReader(tc.body), header: jsonHeader()})
			require.Equal(t, tc.want, rec.Code, rec.Body.String())
			schema := documentedSchema(t, doc, s, tc.method, tc.target, rec.Code)
			var body any
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			for _, problem := range validate(doc, schema, body, "$") {
				t.Errorf("response does not match docs/openapi.yaml: %s\nbody: %s", problem, rec.Body.String())
			}
		})
	}
}

// documentedSchema finds the JSON schema the document gives for a response:
// the operation's own status code, else its default; unrouted requests use
// the shared Error response.
func documentedSchema(t *testing.T, doc map[string]any, s *Server, method, target string, status int) map[string]any {
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
	content := obj(resolve(t, doc, resp)["content"])
	media := obj(content["application/json"])
	require.NotNil(t, media, "no application/json content documented for %d of %s %s", status, method, target)
	return obj(media["schema"])
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
// $ref, type, nullable, enum, required, properties, additionalProperties,
// items and oneOf.
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
		if _, ok := v.(string); !ok {
			problems = append(problems, fmt.Sprintf("%s: want a string, got %T", at, v))
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
