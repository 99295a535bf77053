package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/taskgate/taskgate/routing"
)

// The real hybrid runner is what the gateway serves.
var _ TaskRunner = (*routing.Hybrid)(nil)

// TestWithHybridNotConfigured serves the real routing.Hybrid over two
// runners that are not set up, as `make run` does before the runners land:
// submissions get an honest 503 naming the runner, reads are empty, and the
// submit span joins the request's trace.
func TestWithHybridNotConfigured(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	strategy, err := routing.NewStrategy(routing.DefaultStrategyConfig())
	require.NoError(t, err)
	h, err := routing.NewHybrid(
		routing.NewNotConfigured(routing.RunnerK8s, "no kubeconfig"),
		routing.NewNotConfigured(routing.RunnerWorker, "no middle managers"),
		strategy, routing.WithTracerProvider(tp), routing.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	s, _ := newTestServer(t, h, WithTracerProvider(tp))

	rec := serve(t, s.Handler(), req{method: http.MethodPost, target: "/taskgate/v1/task",
		body: strings.NewReader(kafkaTask), header: map[string]string{"Content-Type": "application/json", "traceparent": traceparent}})
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	e := decodeErr(t, rec)
	assert.True(t, strings.HasPrefix(e.Error, "k8s runner is not configured"), e.Error)
	assert.Contains(t, e.Error, "no kubeconfig")

	spans := exp.GetSpans()
	var server, submit *tracetest.SpanStub
	for i := range spans {
		switch spans[i].Name {
		case "POST /taskgate/v1/task":
			server = &spans[i]
		case routing.SpanSubmit:
			submit = &spans[i]
		}
	}
	require.NotNil(t, server, "server span")
	require.NotNil(t, submit, "submit span")
	assert.Equal(t, incomingTraceID, server.SpanContext.TraceID().String())
	assert.Equal(t, server.SpanContext.SpanID(), submit.Parent.SpanID(), "the submit span is a child of the request span")

	for _, tc := range []struct {
		target string
		want   int
		body   string
	}{
		{"/taskgate/v1/task/x/status", 404, ""},
		{"/taskgate/v1/task/x/log", 404, ""},
		{"/taskgate/v1/tasks", 200, "[]\n"},
		{"/taskgate/v1/capacity", 200, ""},
	} {
		rec := serve(t, s.Handler(), req{method: http.MethodGet, target: tc.target})
		assert.Equal(t, tc.want, rec.Code, tc.target)
		if tc.body != "" {
			assert.Equal(t, tc.body, rec.Body.String(), tc.target)
		}
	}
	rec = serve(t, s.Handler(), req{method: http.MethodPost, target: "/taskgate/v1/task/x/shutdown"})
	assert.Equal(t, 200, rec.Code, "shutdown of an unknown id is a no-op on both runners")
	var cap CapacityResponse
	rec = serve(t, s.Handler(), req{method: http.MethodGet, target: "/taskgate/v1/capacity"})
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &cap))
	assert.Equal(t, -1, cap.TotalCapacity)
}
