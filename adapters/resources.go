package adapters

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/taskgate/taskgate/task"
)

// ContextTaskResourcesKey is the task context key of Druid's
// K8sTaskResourceContext (apache/druid#19638): per-task resources for the
// peon container, applied on top of the pod template or overlord pod.
//
//	"k8sTaskResources": {
//	  "cpu": "1", "memory": "4Gi",                 // request and limit
//	  "requests": {"cpu": "500m"}, "limits": {...}, // one side only
//	  "byTaskType": {"partial_index_generate": {...same shape...}}
//	}
//
// byTaskType lets a parent task size the subtasks it spawns, which inherit
// its context: the entry for the task's own type is applied after the
// top-level values. Druid applies it with no opt-in property.
const ContextTaskResourcesKey = "k8sTaskResources"

// Druid's K8sTaskResourceContext REQUESTS_KEY, LIMITS_KEY, BY_TASK_TYPE_KEY.
const (
	resourcesRequestsKey   = "requests"
	resourcesLimitsKey     = "limits"
	resourcesByTaskTypeKey = "byTaskType"
)

// sourcedQuantity remembers which context field set a quantity, so a
// request/limit conflict names what the user wrote.
type sourcedQuantity struct {
	q     resource.Quantity
	field string
}

// resourceLevel is one object of the resource context: the top level or a
// byTaskType entry.
type resourceLevel struct {
	shared, requests, limits map[corev1.ResourceName]sourcedQuantity
}

// applyTaskResources is Druid's applyTaskResourceOverrides: the context's
// quantities replace the container's, top level first, then the entry of
// byTaskType for the task's type; within a level shared values set request
// and limit, then requests and limits override their side. Unlike Druid,
// which hands any string to the API server, every value is parsed here and
// a request above its limit is refused, so a typo fails the task at submit
// instead of at Job creation or scheduling. Every byTaskType entry is
// checked, not only the one in use, so a bad subtask entry fails the parent
// before it spawns subtasks that would all fail.
func applyTaskResources(base corev1.ResourceRequirements, t *task.Task) (corev1.ResourceRequirements, error) {
	raw, ok := t.Context[ContextTaskResourcesKey]
	if !ok || resourceCtxIsNull(raw) {
		return base, nil
	}
	root := "context." + ContextTaskResourcesKey
	top, err := jsonObject(raw, root)
	if err != nil {
		return base, err
	}
	var errs []error
	levels := []resourceLevel{parseResourceLevel(top, root, &errs)}
	if rawByType, ok := top[resourcesByTaskTypeKey]; ok && !resourceCtxIsNull(rawByType) {
		byTypePath := root + "." + resourcesByTaskTypeKey
		byType, err := jsonObject(rawByType, byTypePath)
		if err != nil {
			errs = append(errs, err)
		}
		for _, typ := range resourceCtxSortedKeys(byType) {
			if resourceCtxIsNull(byType[typ]) {
				continue
			}
			path := byTypePath + "." + typ
			entry, err := jsonObject(byType[typ], path)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			l := parseResourceLevel(entry, path, &errs)
			if typ == t.Type {
				levels = append(levels, l)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return base, err
	}

	out := *base.DeepCopy()
	reqFrom := map[corev1.ResourceName]string{}
	limFrom := map[corev1.ResourceName]string{}
	set := func(list *corev1.ResourceList, from map[corev1.ResourceName]string, vals map[corev1.ResourceName]sourcedQuantity) {
		if len(vals) == 0 {
			return
		}
		if *list == nil {
			*list = corev1.ResourceList{}
		}
		for name, v := range vals {
			(*list)[name] = v.q.DeepCopy()
			from[name] = v.field
		}
	}
	for _, l := range levels {
		set(&out.Requests, reqFrom, l.shared)
		set(&out.Limits, limFrom, l.shared)
		set(&out.Requests, reqFrom, l.requests)
		set(&out.Limits, limFrom, l.limits)
	}
	return out, checkRequestsWithinLimits(out, reqFrom, limFrom)
}

// checkRequestsWithinLimits refuses, for each resource the context touched,
// a request above the limit: the API server would reject the Job.
func checkRequestsWithinLimits(r corev1.ResourceRequirements, reqFrom, limFrom map[corev1.ResourceName]string) error {
	touched := map[corev1.ResourceName]bool{}
	for n := range reqFrom {
		touched[n] = true
	}
	for n := range limFrom {
		touched[n] = true
	}
	names := make([]string, 0, len(touched))
	for n := range touched {
		names = append(names, string(n))
	}
	sort.Strings(names)
	var errs []error
	for _, s := range names {
		n := corev1.ResourceName(s)
		req, hasReq := r.Requests[n]
		lim, hasLim := r.Limits[n]
		if !hasReq || !hasLim || req.Cmp(lim) <= 0 {
			continue
		}
		origin := func(from map[corev1.ResourceName]string) string {
			if f, ok := from[n]; ok {
				return f
			}
			return "the pod spec, not the task context"
		}
		field, ok := reqFrom[n]
		if !ok {
			field = limFrom[n]
		}
		errs = append(errs, fmt.Errorf("%s: %s request %s (from %s) is greater than its limit %s (from %s); Kubernetes requires request <= limit",
			field, n, req.String(), origin(reqFrom), lim.String(), origin(limFrom)))
	}
	return errors.Join(errs...)
}

// parseResourceLevel reads one object; errors go to errs so the user sees
// every bad field at once. Nested byTaskType inside a byTaskType entry is
// skipped, as Druid skips it.
func parseResourceLevel(obj map[string]json.RawMessage, path string, errs *[]error) resourceLevel {
	l := resourceLevel{
		shared:   map[corev1.ResourceName]sourcedQuantity{},
		requests: map[corev1.ResourceName]sourcedQuantity{},
		limits:   map[corev1.ResourceName]sourcedQuantity{},
	}
	for _, key := range resourceCtxSortedKeys(obj) {
		switch key {
		case resourcesByTaskTypeKey:
			continue
		case resourcesRequestsKey, resourcesLimitsKey:
			if resourceCtxIsNull(obj[key]) {
				continue
			}
			side := l.requests
			if key == resourcesLimitsKey {
				side = l.limits
			}
			sub, err := jsonObject(obj[key], path+"."+key)
			if err != nil {
				*errs = append(*errs, err)
				continue
			}
			for _, name := range resourceCtxSortedKeys(sub) {
				parseQuantityInto(side, name, sub[name], path+"."+key+"."+name, errs)
			}
		default:
			parseQuantityInto(l.shared, key, obj[key], path+"."+key, errs)
		}
	}
	return l
}

func parseQuantityInto(dst map[corev1.ResourceName]sourcedQuantity, name string, raw json.RawMessage, field string, errs *[]error) {
	if err := validateResourceName(name); err != nil {
		*errs = append(*errs, fmt.Errorf("%s: %w", field, err))
		return
	}
	q, err := contextQuantity(raw)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%s: %w", field, err))
		return
	}
	dst[corev1.ResourceName(name)] = sourcedQuantity{q: q, field: field}
}

// contextQuantity accepts a JSON string or number, as Druid's asQuantity
// does, and parses it the way the API server will.
func contextQuantity(raw json.RawMessage) (resource.Quantity, error) {
	trimmed := bytes.TrimSpace(raw)
	var text string
	switch {
	case len(trimmed) > 0 && trimmed[0] == '"':
		if err := json.Unmarshal(trimmed, &text); err != nil {
			return resource.Quantity{}, fmt.Errorf("must be a string or number: %w", err)
		}
	case len(trimmed) > 0 && (trimmed[0] == '-' || (trimmed[0] >= '0' && trimmed[0] <= '9')):
		var n json.Number
		if err := json.Unmarshal(trimmed, &n); err != nil {
			return resource.Quantity{}, fmt.Errorf("must be a string or number: %w", err)
		}
		text = n.String()
	default:
		return resource.Quantity{}, fmt.Errorf("must be a string or number, got %s", trimmed)
	}
	q, err := resource.ParseQuantity(text)
	if err != nil {
		return resource.Quantity{}, fmt.Errorf("%q is not a Kubernetes quantity (such as 500m, 2, 4Gi): %w", text, err)
	}
	if q.Sign() < 0 {
		return resource.Quantity{}, fmt.Errorf("%q is negative", text)
	}
	return q, nil
}

// validateResourceName follows the API server's container resource name
// rule, so a misspelt key (say "request") is caught here: an unprefixed name
// must be a standard resource; others must be qualified names such as
// nvidia.com/gpu.
func validateResourceName(name string) error {
	if msgs := validation.IsQualifiedName(name); len(msgs) > 0 {
		return fmt.Errorf("%q is not a resource name: %s", name, strings.Join(msgs, "; "))
	}
	if strings.Contains(name, "/") {
		return nil
	}
	switch corev1.ResourceName(name) {
	case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage:
		return nil
	}
	if strings.HasPrefix(name, corev1.ResourceHugePagesPrefix) {
		return nil
	}
	return fmt.Errorf("%q is not a container resource (use cpu, memory, ephemeral-storage, hugepages-<size>, a domain-prefixed extended resource such as nvidia.com/gpu, or the keys %s, %s, %s)",
		name, resourcesRequestsKey, resourcesLimitsKey, resourcesByTaskTypeKey)
}

// jsonObject decodes a context value that must be a JSON object; Druid's
// asMap message.
func jsonObject(raw json.RawMessage, path string) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) && json.Unmarshal(raw, &m) == nil {
		return m, nil
	}
	return nil, fmt.Errorf("%s: must be a JSON object, got %s", path, resourceCtxTruncate(string(bytes.TrimSpace(raw)), 80))
}

func resourceCtxIsNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

func resourceCtxSortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func resourceCtxTruncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
