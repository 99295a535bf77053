package adapters

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/taskgate/taskgate/task"
)

// resourceTask builds a task of type typ whose context is
// {"k8sTaskResources": <resources>} (raw JSON, so numbers and nulls reach the
// adapter as a submitter wrote them).
func resourceTask(t *testing.T, typ, resources string) *task.Task {
	t.Helper()
	raw := `{"type":"` + typ + `","id":"` + typ + `_ds_1","dataSource":"ds"`
	if resources != "" {
		raw += `,"context":{"` + ContextTaskResourcesKey + `":` + resources + `}`
	}
	tk, err := task.Parse([]byte(raw + "}"))
	require.NoError(t, err)
	return tk
}

// quantities is a ResourceList written as strings, for readable expectations.
type quantities map[string]string

// assertResourceList checks list holds exactly want, comparing quantities by
// value (0.5 and 500m are the same CPU).
func assertResourceList(t *testing.T, want quantities, list corev1.ResourceList, side string) {
	t.Helper()
	got := quantities{}
	for n, q := range list {
		got[string(n)] = q.String()
	}
	require.Len(t, got, len(want), "%s: got %v, want %v", side, got, want)
	for n, w := range want {
		q, ok := list[corev1.ResourceName(n)]
		require.True(t, ok, "%s: %s missing (got %v)", side, n, got)
		assert.Zero(t, q.Cmp(resource.MustParse(w)), "%s %s: got %s, want %s", side, n, q.String(), w)
	}
}

func renderMain(t *testing.T, adapterType string, tk *task.Task) *batchv1.Job {
	t.Helper()
	r, err := newTestAdapter(t, goldenConfig(t, adapterType), Deps{}).Render(tk)
	require.NoError(t, err)
	return r.Job
}

// Druid's example from apache/druid#19638: top-level values for the parent,
// byTaskType entries for the subtasks that inherit the context.
const druidExampleResources = `{
  "cpu": "1",
  "memory": "4Gi",
  "byTaskType": {
    "partial_index_generate": {"cpu": "2", "memory": "8Gi", "ephemeral-storage": "200Gi"},
    "partial_index_generic_merge": {
      "requests": {"cpu": "500m", "memory": "2Gi"},
      "limits": {"cpu": "1", "memory": "4Gi"}
    }
  }
}`

func TestTaskResourcesApplied(t *testing.T) {
	// Without the context key the peon keeps what the adapter sized: for the
	// overlord adapters cpuCoreInMicro and the JVM's memory, for the template
	// its own resources; the source pod's ephemeral-storage request stays.
	overlordReq := quantities{"cpu": "1500m", "memory": "6G", "ephemeral-storage": "2Gi"}
	overlordLim := quantities{"cpu": "1500m", "memory": "6G"}
	templateReq := quantities{"cpu": "1", "memory": "2400M"}
	templateLim := quantities{"cpu": "1", "memory": "2400M"}

	tests := []struct {
		name      string
		typ       string
		resources string
		// overlord and template expectations
		oReq, oLim, tReq, tLim quantities
	}{
		{name: "no context key", typ: "index", oReq: overlordReq, oLim: overlordLim, tReq: templateReq, tLim: templateLim},
		{name: "null", typ: "index", resources: `null`, oReq: overlordReq, oLim: overlordLim, tReq: templateReq, tLim: templateLim},
		{name: "empty object", typ: "index", resources: `{}`, oReq: overlordReq, oLim: overlordLim, tReq: templateReq, tLim: templateLim},
		{
			name: "shared values set request and limit", typ: "index", resources: `{"cpu":"2","memory":"8Gi"}`,
			oReq: quantities{"cpu": "2", "memory": "8Gi", "ephemeral-storage": "2Gi"}, oLim: quantities{"cpu": "2", "memory": "8Gi"},
			tReq: quantities{"cpu": "2", "memory": "8Gi"}, tLim: quantities{"cpu": "2", "memory": "8Gi"},
		},
		{
			name: "requests only keeps the limits", typ: "index", resources: `{"requests":{"cpu":"500m","memory":"1Gi"}}`,
			oReq: quantities{"cpu": "500m", "memory": "1Gi", "ephemeral-storage": "2Gi"}, oLim: overlordLim,
			tReq: quantities{"cpu": "500m", "memory": "1Gi"}, tLim: templateLim,
		},
		{
			name: "limits only keeps the requests", typ: "index", resources: `{"limits":{"cpu":"4","memory":"16Gi"}}`,
			oReq: overlordReq, oLim: quantities{"cpu": "4", "memory": "16Gi"},
			tReq: templateReq, tLim: quantities{"cpu": "4", "memory": "16Gi"},
		},
		{
			name: "requests and limits override shared", typ: "index", resources: `{"cpu":"2","requests":{"cpu":"1"},"limits":{"cpu":"3"}}`,
			oReq: quantities{"cpu": "1", "memory": "6G", "ephemeral-storage": "2Gi"}, oLim: quantities{"cpu": "3", "memory": "6G"},
			tReq: quantities{"cpu": "1", "memory": "2400M"}, tLim: quantities{"cpu": "3", "memory": "2400M"},
		},
		{
			name: "JSON numbers, as Druid's asQuantity takes them", typ: "index", resources: `{"cpu":0.5,"memory":4294967296}`,
			oReq: quantities{"cpu": "500m", "memory": "4Gi", "ephemeral-storage": "2Gi"}, oLim: quantities{"cpu": "500m", "memory": "4Gi"},
			tReq: quantities{"cpu": "500m", "memory": "4Gi"}, tLim: quantities{"cpu": "500m", "memory": "4Gi"},
		},
		{
			name: "other resources are added", typ: "index", resources: `{"ephemeral-storage":"100Gi","nvidia.com/gpu":1}`,
			oReq: quantities{"cpu": "1500m", "memory": "6G", "ephemeral-storage": "100Gi", "nvidia.com/gpu": "1"},
			oLim: quantities{"cpu": "1500m", "memory": "6G", "ephemeral-storage": "100Gi", "nvidia.com/gpu": "1"},
			tReq: quantities{"cpu": "1", "memory": "2400M", "ephemeral-storage": "100Gi", "nvidia.com/gpu": "1"},
			tLim: quantities{"cpu": "1", "memory": "2400M", "ephemeral-storage": "100Gi", "nvidia.com/gpu": "1"},
		},
		{
			name: "byTaskType of another type is ignored", typ: "index", resources: `{"memory":"3Gi","byTaskType":{"compact":{"memory":"9Gi"}}}`,
			oReq: quantities{"cpu": "1500m", "memory": "3Gi", "ephemeral-storage": "2Gi"}, oLim: quantities{"cpu": "1500m", "memory": "3Gi"},
			tReq: quantities{"cpu": "1", "memory": "3Gi"}, tLim: quantities{"cpu": "1", "memory": "3Gi"},
		},
		{
			name: "byTaskType of the task's type wins over the top level", typ: "compact", resources: `{"memory":"3Gi","cpu":"2","byTaskType":{"compact":{"memory":"9Gi"}}}`,
			oReq: quantities{"cpu": "2", "memory": "9Gi", "ephemeral-storage": "2Gi"}, oLim: quantities{"cpu": "2", "memory": "9Gi"},
			tReq: quantities{"cpu": "2", "memory": "9Gi"}, tLim: quantities{"cpu": "2", "memory": "9Gi"},
		},
		{
			name: "null byTaskType entries are skipped", typ: "compact", resources: `{"cpu":"2","byTaskType":{"compact":null}}`,
			oReq: quantities{"cpu": "2", "memory": "6G", "ephemeral-storage": "2Gi"}, oLim: quantities{"cpu": "2", "memory": "6G"},
			tReq: quantities{"cpu": "2", "memory": "2400M"}, tLim: quantities{"cpu": "2", "memory": "2400M"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, at := range []struct {
				adapterType string
				req, lim    quantities
			}{
				{TypeSingleContainer, tc.oReq, tc.oLim},
				{TypeMultiContainer, tc.oReq, tc.oLim},
				{TypeCustomTemplate, tc.tReq, tc.tLim},
			} {
				t.Run(at.adapterType, func(t *testing.T) {
					job := renderMain(t, at.adapterType, resourceTask(t, tc.typ, tc.resources))
					res := job.Spec.Template.Spec.Containers[0].Resources
					assertResourceList(t, at.req, res.Requests, "requests")
					assertResourceList(t, at.lim, res.Limits, "limits")
				})
			}
		})
	}
}

// A parallel task's context reaches its subtasks; each picks its own entry.
func TestTaskResourcesPerSubtaskType(t *testing.T) {
	tests := []struct {
		typ      string
		req, lim quantities
	}{
		{typ: "index_parallel", req: quantities{"cpu": "1", "memory": "4Gi"}, lim: quantities{"cpu": "1", "memory": "4Gi"}},
		{
			typ: "partial_index_generate",
			req: quantities{"cpu": "2", "memory": "8Gi", "ephemeral-storage": "200Gi"},
			lim: quantities{"cpu": "2", "memory": "8Gi", "ephemeral-storage": "200Gi"},
		},
		{typ: "partial_index_generic_merge", req: quantities{"cpu": "500m", "memory": "2Gi"}, lim: quantities{"cpu": "1", "memory": "4Gi"}},
		{typ: "single_phase_sub_task", req: quantities{"cpu": "1", "memory": "4Gi"}, lim: quantities{"cpu": "1", "memory": "4Gi"}},
	}
	for _, tc := range tests {
		t.Run(tc.typ, func(t *testing.T) {
			job := renderMain(t, TypeCustomTemplate, resourceTask(t, tc.typ, druidExampleResources))
			res := job.Spec.Template.Spec.Containers[0].Resources
			assertResourceList(t, tc.req, res.Requests, "requests")
			assertResourceList(t, tc.lim, res.Limits, "limits")
		})
	}
}

func TestTaskResourcesInvalid(t *testing.T) {
	const root = "context.k8sTaskResources"
	tests := []struct {
		name      string
		typ       string
		resources string
		want      []string
		// overlordOnly: the conflict comes from the overlord adapters'
		// sizing (6G memory limit), which the template does not have.
		overlordOnly bool
	}{
		{name: "not an object", resources: `"2"`, want: []string{root + ": must be a JSON object"}},
		{name: "array", resources: `[1]`, want: []string{root + ": must be a JSON object"}},
		{name: "bad shared cpu", resources: `{"cpu":"two"}`, want: []string{root + ".cpu:", `"two" is not a Kubernetes quantity`}},
		{name: "bad request memory", resources: `{"requests":{"memory":"4GiB"}}`, want: []string{root + ".requests.memory:", `"4GiB"`}},
		{name: "bad limit cpu", resources: `{"limits":{"cpu":"1 core"}}`, want: []string{root + ".limits.cpu:", `"1 core"`}},
		{name: "negative", resources: `{"limits":{"cpu":"-1"}}`, want: []string{root + ".limits.cpu:", "negative"}},
		{name: "negative number", resources: `{"memory":-5}`, want: []string{root + ".memory:", "negative"}},
		{name: "boolean", resources: `{"cpu":true}`, want: []string{root + ".cpu:", "must be a string or number"}},
		{name: "null quantity, as Druid", resources: `{"cpu":null}`, want: []string{root + ".cpu:", "must be a string or number"}},
		{name: "object quantity", resources: `{"memory":{"value":1}}`, want: []string{root + ".memory:", "must be a string or number"}},
		{name: "requests not an object", resources: `{"requests":"1"}`, want: []string{root + ".requests: must be a JSON object"}},
		{name: "limits not an object", resources: `{"limits":[]}`, want: []string{root + ".limits: must be a JSON object"}},
		{name: "misspelt key", resources: `{"request":{"cpu":"1"}}`, want: []string{root + ".request:", "not a container resource"}},
		{name: "unknown bare resource", resources: `{"gpu":"1"}`, want: []string{root + ".gpu:", "not a container resource"}},
		{name: "invalid resource name", resources: `{"requests":{"a b/c":"1"}}`, want: []string{root + ".requests.a b/c:", "not a resource name"}},
		{name: "byTaskType not an object", resources: `{"byTaskType":"x"}`, want: []string{root + ".byTaskType: must be a JSON object"}},
		{name: "byTaskType entry not an object", resources: `{"byTaskType":{"index":3}}`, want: []string{root + ".byTaskType.index: must be a JSON object"}},
		{name: "bad quantity in the own type's entry", typ: "compact", resources: `{"byTaskType":{"compact":{"limits":{"memory":"lots"}}}}`, want: []string{root + ".byTaskType.compact.limits.memory:", `"lots"`}},
		{
			name: "bad subtask entry fails the parent", typ: "index_parallel", resources: `{"cpu":"1","byTaskType":{"partial_index_generate":{"cpu":"2 cores"}}}`,
			want: []string{root + ".byTaskType.partial_index_generate.cpu:", `"2 cores"`},
		},
		{
			name: "every bad field is named", resources: `{"cpu":"x","requests":{"memory":"y"}}`,
			want: []string{root + ".cpu:", `"x"`, root + ".requests.memory:", `"y"`},
		},
		{
			name: "request above limit, both from the context", resources: `{"requests":{"cpu":"4"},"limits":{"cpu":"2"}}`,
			want: []string{root + ".requests.cpu:", "request 4", "limit 2", "from " + root + ".limits.cpu"},
		},
		{
			name: "shared limit below a type's request", typ: "compact", resources: `{"cpu":"1","byTaskType":{"compact":{"requests":{"cpu":"2"}}}}`,
			want: []string{root + ".byTaskType.compact.requests.cpu:", "request 2", "limit 1", "from " + root + ".cpu"},
		},
		{
			name: "request above the peon's limit", resources: `{"requests":{"memory":"100Gi"}}`, overlordOnly: true,
			want: []string{root + ".requests.memory:", "request 100Gi", "from the pod spec, not the task context"},
		},
		{
			name: "limit below the peon's request", resources: `{"limits":{"cpu":"100m"}}`,
			want: []string{root + ".limits.cpu:", "limit 100m", "from the pod spec, not the task context"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			typ := tc.typ
			if typ == "" {
				typ = "index"
			}
			types := []string{TypeSingleContainer, TypeMultiContainer, TypeCustomTemplate}
			if tc.overlordOnly {
				types = types[:2]
			}
			for _, adapterType := range types {
				t.Run(adapterType, func(t *testing.T) {
					payloads := &fakePayloads{}
					a := newTestAdapter(t, goldenConfig(t, adapterType), Deps{Payloads: payloads})
					tk := resourceTask(t, typ, tc.resources)
					job, err := a.FromTask(context.Background(), tk)
					require.Error(t, err)
					assert.Nil(t, job, "no Job for a task with bad resources")
					assert.ErrorContains(t, err, "task "+tk.ID+": ")
					for _, s := range tc.want {
						assert.ErrorContains(t, err, s)
					}
					assert.Empty(t, payloads.store, "nothing is pushed for a task that cannot run")
				})
			}
		})
	}
}

// The whole Job, not only the resources: the context changes the peon
// container's resources and nothing else, and sidecars keep theirs.
func TestTaskResourcesJob(t *testing.T) {
	for _, adapterType := range []string{TypeCustomTemplate, TypeMultiContainer} {
		t.Run(adapterType, func(t *testing.T) {
			plain := renderMain(t, adapterType, resourceTask(t, "partial_index_generate", ""))
			sized := renderMain(t, adapterType, resourceTask(t, "partial_index_generate", druidExampleResources))
			if adapterType == TypeMultiContainer {
				require.Greater(t, len(sized.Spec.Template.Spec.Containers), 1, "the source pod has sidecars")
			}

			got := sized.Spec.Template.Spec.Containers[0].Resources
			want := corev1.ResourceRequirements{
				Requests: corev1.ResourceList{
					corev1.ResourceCPU:              resource.MustParse("2"),
					corev1.ResourceMemory:           resource.MustParse("8Gi"),
					corev1.ResourceEphemeralStorage: resource.MustParse("200Gi"),
				},
				Limits: corev1.ResourceList{
					corev1.ResourceCPU:              resource.MustParse("2"),
					corev1.ResourceMemory:           resource.MustParse("8Gi"),
					corev1.ResourceEphemeralStorage: resource.MustParse("200Gi"),
				},
			}
			// JSON is what the API server receives; it is also insensitive
			// to Quantity's cached formatting.
			wantJSON, err := json.Marshal(want)
			require.NoError(t, err)
			gotJSON, err := json.Marshal(got)
			require.NoError(t, err)
			assert.JSONEq(t, string(wantJSON), string(gotJSON))
			assert.NotEqual(t, plain.Spec.Template.Spec.Containers[0].Resources, got, "the context must change the peon's resources")

			// Apart from the peon container's resources the Job is the one
			// rendered without the context key... except the task JSON,
			// which carries the context.
			strip := func(j *batchv1.Job) *batchv1.Job {
				j = j.DeepCopy()
				j.Spec.Template.Spec.Containers[0].Resources = corev1.ResourceRequirements{}
				delete(j.Spec.Template.Annotations, AnnotationTask)
				c := &j.Spec.Template.Spec.Containers[0]
				c.Env = removeEnv(c.Env, EnvTaskJSON)
				return j
			}
			assert.Equal(t, strip(plain), strip(sized))
		})
	}
}
