package testcluster

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// RequestKey identifies apiserver requests the way the apiserver_request_total
// metric labels them. Verb is as the apiserver reports it: the HTTP method
// for single objects (GET, POST for create, PUT for update, PATCH, DELETE),
// and LIST, WATCH, DELETECOLLECTION, APPLY, CONNECT.
type RequestKey struct {
	Verb        string
	Group       string // "" for the core group
	Resource    string // plural, e.g. "jobs"
	Subresource string // e.g. "status"; "" for the object itself
}

// RequestCounts is a snapshot of apiserver_request_total summed over the
// labels RequestKey leaves out (version, scope, component, code, dry_run).
// The counters are cumulative since the apiserver started: take one snapshot
// before and one after, and use Sub.
type RequestCounts map[RequestKey]float64

// RequestCounts reads the apiserver's /metrics. The counts cover every
// client (controllers, scheduler and kwok too): compare resources and verbs
// that only the component under test uses, or subtract a baseline run.
// They restart from zero when the apiserver restarts.
func (c *Cluster) RequestCounts(ctx context.Context) (RequestCounts, error) {
	raw, err := c.client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("read apiserver /metrics: %w", err)
	}
	return parseRequestCounts(raw)
}

func parseRequestCounts(raw []byte) (RequestCounts, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parse apiserver /metrics: %w", err)
	}
	out := RequestCounts{}
	fam, ok := families["apiserver_request_total"]
	if !ok {
		return out, nil
	}
	for _, m := range fam.GetMetric() {
		var k RequestKey
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "verb":
				k.Verb = l.GetValue()
			case "group":
				k.Group = l.GetValue()
			case "resource":
				k.Resource = l.GetValue()
			case "subresource":
				k.Subresource = l.GetValue()
			}
		}
		out[k] += m.GetCounter().GetValue()
	}
	return out, nil
}

// Sub returns the counts added since before (keys with no change left out).
func (rc RequestCounts) Sub(before RequestCounts) RequestCounts {
	out := RequestCounts{}
	for k, v := range rc {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// Count sums the requests with the given verb on resource. The verb is
// case-insensitive, "" matches any, and the API verbs "create" and "update"
// are taken for the POST and PUT the metric records. The resource is written
// "jobs", "pods/status" or "jobs.batch" (group after a dot, "configmaps." for
// the core group; without a dot any group matches).
func (rc RequestCounts) Count(verb, resource string) float64 {
	verb = strings.ToUpper(verb)
	switch verb {
	case "CREATE":
		verb = "POST"
	case "UPDATE":
		verb = "PUT"
	}
	res, sub, _ := strings.Cut(resource, "/")
	res, group, hasGroup := strings.Cut(res, ".")
	var n float64
	for k, v := range rc {
		if verb != "" && k.Verb != verb {
			continue
		}
		if k.Resource != res || k.Subresource != sub || (hasGroup && k.Group != group) {
			continue
		}
		n += v
	}
	return n
}

// String lists the counts one per line, sorted, for test logs.
func (rc RequestCounts) String() string {
	lines := make([]string, 0, len(rc))
	for k, v := range rc {
		r := k.Resource
		if k.Group != "" {
			r += "." + k.Group
		}
		if k.Subresource != "" {
			r += "/" + k.Subresource
		}
		lines = append(lines, fmt.Sprintf("%s %s %g", k.Verb, r, v))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
