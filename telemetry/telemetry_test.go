package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name        string
		env         map[string]string
		wantTraces  string
		wantMetrics string
		wantProto   string
	}{
		{name: "nothing set", wantTraces: "none", wantMetrics: "prometheus", wantProto: "http/protobuf"},
		{name: "endpoint set", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, wantTraces: "otlp", wantMetrics: "otlp", wantProto: "http/protobuf"},
		{name: "traces endpoint only", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, wantTraces: "otlp", wantMetrics: "prometheus", wantProto: "http/protobuf"},
		{name: "explicit none wins", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_TRACES_EXPORTER": "none"}, wantTraces: "none", wantMetrics: "otlp", wantProto: "http/protobuf"},
		{name: "grpc", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, wantTraces: "none", wantMetrics: "prometheus", wantProto: "grpc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_SDK_DISABLED"} {
				t.Setenv(k, "")
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg := FromEnv()
			assert.Equal(t, tt.wantTraces, cfg.TracesExporter)
			assert.Equal(t, tt.wantMetrics, cfg.MetricsExporter)
			assert.Equal(t, tt.wantProto, cfg.Protocol)
			assert.NoError(t, cfg.Validate())
		})
	}
}

func TestValidateNamesTheVariable(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{TracesExporter: "zipkin"}, "OTEL_TRACES_EXPORTER"},
		{Config{MetricsExporter: "statsd"}, "OTEL_METRICS_EXPORTER"},
		{Config{Protocol: "http/json"}, "OTEL_EXPORTER_OTLP_PROTOCOL"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		require.Error(t, err)
		assert.Contains(t, err.Error(), tt.want)
	}
}

// otlpReceiver is a minimal OTLP/HTTP trace receiver on loopback.
type otlpReceiver struct {
	mu    sync.Mutex
	names []string
	got   chan struct{}
}

func (r *otlpReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != "/v1/traces" {
		w.WriteHeader(http.StatusOK)
		return
	}
	body, _ := io.ReadAll(req.Body)
	var msg collectortrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &msg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	for _, rs := range msg.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				r.names = append(r.names, s.Name)
			}
		}
	}
	r.mu.Unlock()
	select {
	case r.got <- struct{}{}:
	default:
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

func TestSetupExportsSpansOverOTLPHTTP(t *testing.T) {
	recv := &otlpReceiver{got: make(chan struct{}, 1)}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_METRICS_EXPORTER", "prometheus")
	t.Setenv("OTEL_TRACES_EXPORTER", "")
	t.Setenv("OTEL_SDK_DISABLED", "")

	ctx := context.Background()
	p, err := Setup(ctx, FromEnv())
	require.NoError(t, err)
	_, span := otel.Tracer("test").Start(ctx, "submit-task")
	span.End()
	require.NoError(t, p.Shutdown(ctx)) // flushes the batcher
	select {
	case <-recv.got:
	case <-time.After(10 * time.Second):
		t.Fatal("no spans reached the OTLP receiver")
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	assert.Contains(t, recv.names, "submit-task")
}

func TestSetupServesPrometheusMetrics(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "")
	t.Setenv("OTEL_METRICS_EXPORTER", "")
	t.Setenv("OTEL_SDK_DISABLED", "")
	ctx := context.Background()
	p, err := Setup(ctx, FromEnv())
	require.NoError(t, err)
	defer func() { _ = p.Shutdown(ctx) }()

	c, err := p.MeterProvider.Meter("test").Int64Counter("taskgate.test.submitted", metric.WithDescription("test"))
	require.NoError(t, err)
	c.Add(ctx, 3)

	rec := httptest.NewRecorder()
	p.MetricsHandler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	body := rec.Body.String()
	assert.Contains(t, body, "taskgate_test_submitted_total")
	assert.Contains(t, body, "go_goroutines")
}

func TestLogHandlerAddsTraceIDs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewLogHandler(slog.NewJSONHandler(&buf, nil))).With("component", "test")

	t.Setenv("OTEL_SDK_DISABLED", "")
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	p, err := Setup(context.Background(), FromEnv())
	require.NoError(t, err)
	defer func() { _ = p.Shutdown(context.Background()) }()
	ctx, span := p.TracerProvider.Tracer("test").Start(context.Background(), "op")
	log.InfoContext(ctx, "inside")
	log.InfoContext(ctx, "already stamped", "trace_id", "given")
	span.End()
	log.Info("outside")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 3)
	var inside, outside map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &inside))
	require.NoError(t, json.Unmarshal([]byte(lines[2]), &outside))
	assert.Equal(t, 1, strings.Count(lines[1], `"trace_id"`), lines[1])
	assert.Equal(t, span.SpanContext().TraceID().String(), inside["trace_id"])
	assert.Equal(t, span.SpanContext().SpanID().String(), inside["span_id"])
	assert.Equal(t, "test", inside["component"])
	assert.NotContains(t, outside, "trace_id")
}
