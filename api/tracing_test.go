package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

const (
	incomingTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	incomingSpanID  = "00f067aa0ba902b7"
	traceparent     = "00-" + incomingTraceID + "-" + incomingSpanID + "-01"
)

func attrValue(attrs []attribute.KeyValue, key string) (attribute.Value, bool) {
	for _, a := range attrs {
		if string(a.Key) == key {
			return a.Value, true
		}
	}
	return attribute.Value{}, false
}

func TestServerSpans(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		target     string
		header     map[string]string
		wantName   string
		wantRoute  string
		wantStatus int64
		wantParent bool
	}{
		{
			name: "traceparent continues the caller's trace", method: http.MethodGet, target: "/taskgate/v1/task/t1/status",
			header:   map[string]string{"traceparent": traceparent},
			wantName: "GET /taskgate/v1/task/{id}/status", wantRoute: "/taskgate/v1/task/{id}/status", wantStatus: 200, wantParent: true,
		},
		{
			name: "no traceparent starts a new trace", method: http.MethodGet, target: "/taskgate/v1/capacity",
			wantName: "GET /taskgate/v1/capacity", wantRoute: "/taskgate/v1/capacity", wantStatus: 200,
		},
		{
			name: "submit span is named by its route", method: http.MethodPost, target: "/taskgate/v1/task",
			header:   map[string]string{"traceparent": traceparent, "Content-Type": "application/json"},
			wantName: "POST /taskgate/v1/task", wantRoute: "/taskgate/v1/task", wantStatus: 202, wantParent: true,
		},
		{
			name: "unmatched request is named by its method only", method: http.MethodGet, target: "/no/such/route",
			header:   map[string]string{"traceparent": traceparent},
			wantName: "GET", wantStatus: 404, wantParent: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			exp := tracetest.NewInMemoryExporter()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
			defer func() { _ = tp.Shutdown(t.Context()) }()
			m := newMemRunner()
			m.put(runningItem("t1", "k8s"))
			s, logs := newTestServer(t, m, WithTracerProvider(tp))

			var body *strings.Reader
			if tc.method == http.MethodPost {
				body = strings.NewReader(`{"type":"noop","id":"noop_9"}`)
			} else {
				body = strings.NewReader("")
			}
			rec := serve(t, s.Handler(), req{method: tc.method, target: tc.target, body: body, header: tc.header})
			require.EqualValues(t, tc.wantStatus, rec.Code, rec.Body.String())

			spans := exp.GetSpans()
			require.Len(t, spans, 1)
			sp := spans[0]
			assert.Equal(t, tc.wantName, sp.Name)
			assert.Equal(t, trace.SpanKindServer, sp.SpanKind)
			if tc.wantParent {
				assert.Equal(t, incomingTraceID, sp.SpanContext.TraceID().String())
				assert.Equal(t, incomingSpanID, sp.Parent.SpanID().String())
				assert.True(t, sp.Parent.IsRemote())
			} else {
				assert.False(t, sp.Parent.IsValid())
				assert.True(t, sp.SpanContext.IsValid())
			}
			route, ok := attrValue(sp.Attributes, "http.route")
			assert.Equal(t, tc.wantRoute != "", ok)
			assert.Equal(t, tc.wantRoute, route.AsString())
			code, ok := attrValue(sp.Attributes, "http.response.status_code")
			require.True(t, ok, "status code attribute: %v", sp.Attributes)
			assert.Equal(t, tc.wantStatus, code.AsInt64())

			var line map[string]any
			for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				require.NoError(t, json.Unmarshal([]byte(l), &line))
				if line["msg"] == "http request" {
					break
				}
			}
			assert.Equal(t, sp.SpanContext.TraceID().String(), line["trace_id"], "access log carries the span's trace id")
			assert.Equal(t, sp.SpanContext.SpanID().String(), line["span_id"])
		})
	}
}

// TestPropagatorChoice: the global propagator is used once telemetry sets
// one; until then W3C trace context is read anyway.
func TestPropagatorChoice(t *testing.T) {
	prev := otel.GetTextMapPropagator()
	defer otel.SetTextMapPropagator(prev)

	run := func(opts ...Option) tracetest.SpanStubs {
		exp := tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
		s, _ := newTestServer(t, newMemRunner(), append(opts, WithTracerProvider(tp))...)
		serve(t, s.Handler(), req{method: http.MethodGet, target: "/status/health", header: map[string]string{"traceparent": traceparent}})
		return exp.GetSpans()
	}

	spans := run()
	require.Len(t, spans, 1)
	assert.Equal(t, incomingTraceID, spans[0].SpanContext.TraceID().String(), "no global propagator: W3C by default")

	otel.SetTextMapPropagator(propagation.Baggage{})
	spans = run()
	require.Len(t, spans, 1)
	assert.NotEqual(t, incomingTraceID, spans[0].SpanContext.TraceID().String(), "a global propagator without tracecontext is respected")

	spans = run(WithPropagators(propagation.TraceContext{}))
	require.Len(t, spans, 1)
	assert.Equal(t, incomingTraceID, spans[0].SpanContext.TraceID().String(), "WithPropagators wins over the global")
}

// TestServerMetrics: HTTP server metrics go to the given meter provider and
// carry the route template, not the raw path (which would explode
// cardinality with task ids).
func TestServerMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	s, _ := newTestServer(t, newMemRunner(), WithMeterProvider(mp))
	for _, id := range []string{"a", "b", "c"} {
		serve(t, s.Handler(), req{method: http.MethodGet, target: "/taskgate/v1/task/" + id + "/status"})
	}
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(t.Context(), &rm))
	var found bool
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "http.server.request.duration" {
				continue
			}
			hist, ok := m.Data.(metricdata.Histogram[float64])
			require.True(t, ok, "duration is a histogram: %T", m.Data)
			require.Len(t, hist.DataPoints, 1, "one series for three task ids")
			dp := hist.DataPoints[0]
			assert.Equal(t, uint64(3), dp.Count)
			route, ok := dp.Attributes.Value("http.route")
			require.True(t, ok, "route attribute: %v", dp.Attributes.ToSlice())
			assert.Equal(t, "/taskgate/v1/task/{id}/status", route.AsString())
			found = true
		}
	}
	assert.True(t, found, "no http.server.request.duration metric in %+v", rm)
}
