// Package telemetry sets up OpenTelemetry for the gateway: a tracer provider
// and a meter provider configured from the standard OTEL_* environment
// variables, W3C trace-context propagation, a Prometheus endpoint for the
// metrics, and a slog handler that stamps log records with trace ids.
//
// Without an OTLP endpoint nothing is exported, but spans are still created,
// so trace ids appear in logs and flow to downstream services.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Config says how telemetry is exported. FromEnv fills it from the OTEL_*
// variables of the OpenTelemetry specification; the zero value exports
// nothing and serves Prometheus metrics.
type Config struct {
	// ServiceName is the service.name resource attribute. Default "taskgate";
	// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override it.
	ServiceName string
	// ServiceVersion is the service.version resource attribute.
	ServiceVersion string
	// TracesExporter is "otlp" or "none" (OTEL_TRACES_EXPORTER). Default:
	// "otlp" when an OTLP endpoint is set, else "none".
	TracesExporter string
	// MetricsExporter is "otlp", "prometheus" or "none"
	// (OTEL_METRICS_EXPORTER). Prometheus is always served on /metrics;
	// "otlp" pushes as well. Default: "otlp" when an OTLP endpoint is set,
	// else "prometheus".
	MetricsExporter string
	// Protocol is "http/protobuf" (default) or "grpc"
	// (OTEL_EXPORTER_OTLP_PROTOCOL). Endpoints, headers, TLS and timeouts are
	// read by the exporters themselves from OTEL_EXPORTER_OTLP_*.
	Protocol string
	// Disabled turns the SDK off (OTEL_SDK_DISABLED=true): no-op providers.
	Disabled bool
}

// FromEnv builds a Config from the environment.
func FromEnv() Config {
	cfg := Config{
		ServiceName:     "taskgate",
		TracesExporter:  strings.ToLower(os.Getenv("OTEL_TRACES_EXPORTER")),
		MetricsExporter: strings.ToLower(os.Getenv("OTEL_METRICS_EXPORTER")),
		Protocol:        firstNonEmpty(os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"), os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")),
		Disabled:        strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true"),
	}
	otlpSet := os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	if cfg.TracesExporter == "" {
		cfg.TracesExporter = "none"
		if otlpSet {
			cfg.TracesExporter = "otlp"
		}
	}
	if cfg.MetricsExporter == "" {
		cfg.MetricsExporter = "prometheus"
		if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") != "" {
			cfg.MetricsExporter = "otlp"
		}
	}
	if cfg.Protocol == "" {
		cfg.Protocol = "http/protobuf"
	}
	return cfg
}

// Validate checks the exporter and protocol names.
func (c Config) Validate() error {
	switch c.TracesExporter {
	case "", "none", "otlp":
	default:
		return fmt.Errorf("OTEL_TRACES_EXPORTER: %q is not supported (want otlp or none)", c.TracesExporter)
	}
	switch c.MetricsExporter {
	case "", "none", "otlp", "prometheus":
	default:
		return fmt.Errorf("OTEL_METRICS_EXPORTER: %q is not supported (want otlp, prometheus or none)", c.MetricsExporter)
	}
	switch c.Protocol {
	case "", "http/protobuf", "grpc":
	default:
		return fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL: %q is not supported (want http/protobuf or grpc)", c.Protocol)
	}
	return nil
}

// Providers holds what Setup built.
type Providers struct {
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	Propagator     propagation.TextMapPropagator
	// MetricsHandler serves the Prometheus exposition of every metric.
	MetricsHandler http.Handler

	shutdown []func(context.Context) error
}

// Shutdown flushes and stops the exporters.
func (p *Providers) Shutdown(ctx context.Context) error {
	var errs []error
	for i := len(p.shutdown) - 1; i >= 0; i-- {
		if err := p.shutdown[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Setup builds the providers and installs them as the otel globals, so
// packages that take the global tracer (routing, api) use them.
func Setup(ctx context.Context, cfg Config) (*Providers, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Providers{
		Propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}
	otel.SetTextMapPropagator(p.Propagator)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	p.MetricsHandler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})

	if cfg.Disabled {
		p.TracerProvider = noop.NewTracerProvider()
		p.MeterProvider = sdkmetric.NewMeterProvider()
		return p, nil
	}

	res, err := newResource(ctx, cfg)
	if err != nil {
		return nil, err
	}

	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if cfg.TracesExporter == "otlp" {
		exp, err := newTraceExporter(ctx, cfg.Protocol)
		if err != nil {
			return nil, err
		}
		tpOpts = append(tpOpts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(tpOpts...)
	p.shutdown = append(p.shutdown, tp.Shutdown)
	p.TracerProvider = tp
	otel.SetTracerProvider(tp)

	mpOpts := []sdkmetric.Option{sdkmetric.WithResource(res)}
	if cfg.MetricsExporter != "none" {
		promExp, err := otelprom.New(otelprom.WithRegisterer(reg))
		if err != nil {
			return nil, fmt.Errorf("prometheus exporter: %w", err)
		}
		mpOpts = append(mpOpts, sdkmetric.WithReader(promExp))
	}
	if cfg.MetricsExporter == "otlp" {
		exp, err := newMetricExporter(ctx, cfg.Protocol)
		if err != nil {
			return nil, err
		}
		mpOpts = append(mpOpts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp)))
	}
	mp := sdkmetric.NewMeterProvider(mpOpts...)
	p.shutdown = append(p.shutdown, mp.Shutdown)
	p.MeterProvider = mp
	otel.SetMeterProvider(mp)
	return p, nil
}

func newResource(ctx context.Context, cfg Config) (*resource.Resource, error) {
	name := cfg.ServiceName
	if name == "" {
		name = "taskgate"
	}
	attrs := resource.WithAttributes(semconv.ServiceName(name))
	opts := []resource.Option{attrs, resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithHost()}
	if cfg.ServiceVersion != "" {
		opts = append(opts, resource.WithAttributes(semconv.ServiceVersion(cfg.ServiceVersion)))
	}
	res, err := resource.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}
	return res, nil
}

func newTraceExporter(ctx context.Context, protocol string) (sdktrace.SpanExporter, error) {
	var (
		exp sdktrace.SpanExporter
		err error
	)
	if protocol == "grpc" {
		exp, err = otlptracegrpc.New(ctx)
	} else {
		exp, err = otlptracehttp.New(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("otlp trace exporter (%s): %w", protocol, err)
	}
	return exp, nil
}

func newMetricExporter(ctx context.Context, protocol string) (sdkmetric.Exporter, error) {
	var (
		exp sdkmetric.Exporter
		err error
	)
	if protocol == "grpc" {
		exp, err = otlpmetricgrpc.New(ctx)
	} else {
		exp, err = otlpmetrichttp.New(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("otlp metric exporter (%s): %w", protocol, err)
	}
	return exp, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
