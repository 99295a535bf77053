package api

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskgate/taskgate/internal/version"
	"github.com/taskgate/taskgate/routing"
	"github.com/taskgate/taskgate/task"
)

// TaskRunner is what the front door needs from the runner behind it: the
// runner contract plus a submit that reports the routing decision and whether
// the task id was already known (routing.Hybrid provides both).
type TaskRunner interface {
	routing.Runner
	// Submit runs t on the runner its routing picks, unless a runner already
	// knows t.ID, in which case nothing is started and alreadyKnown is true.
	Submit(ctx context.Context, t *task.Task) (d routing.Decision, alreadyKnown bool, err error)
}

// Option adjusts a Server.
type Option func(*options)

type options struct {
	logger     *slog.Logger
	version    string
	ready      func(context.Context) error
	routes     []func(*mux.Router)
	tracerProv trace.TracerProvider
	meterProv  metric.MeterProvider
	propagator propagation.TextMapPropagator
	// access control (auth.go)
	authn     Authenticator
	authz     Authorizer
	unsecured []string
	declared  map[*mux.Route]routeAccess
}

// WithLogger sets the logger for access logs and errors (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithVersion sets the version GET /status reports (default the build version).
func WithVersion(v string) Option { return func(o *options) { o.version = v } }

// WithReadiness sets the check behind GET /status/ready: nil error = ready.
// Without it the gateway is ready until Close.
func WithReadiness(f func(ctx context.Context) error) Option {
	return func(o *options) { o.ready = f }
}

// WithRoutes registers extra routes (e.g. dynconfig's execution config
// endpoints) on the server's router, after the native ones, so they share
// JSON 404/405 replies, access logs, panic recovery and tracing. It may be
// given more than once; hooks run in order.
func WithRoutes(register func(r *mux.Router)) Option {
	return func(o *options) { o.routes = append(o.routes, register) }
}

// WithTracerProvider sets where server spans go (default the global provider).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracerProv = tp }
}

// WithMeterProvider sets where HTTP server metrics go (default the global provider).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(o *options) { o.meterProv = mp }
}

// WithPropagators sets how trace context is read from requests. The default
// is the global propagator when one is set, else W3C trace context + baggage,
// so incoming traceparent headers are honoured even before telemetry is set up.
func WithPropagators(p propagation.TextMapPropagator) Option {
	return func(o *options) { o.propagator = p }
}

// Server is the HTTP front door. Create it with NewServer, serve Handler()
// (or HTTPServer()), and Close it when done.
type Server struct {
	cfg     Config
	runner  TaskRunner
	log     *slog.Logger
	version string
	ready   func(context.Context) error
	started time.Time

	router  *mux.Router
	handler http.Handler
	auth    *authState  // nil: access control off
	tls     *tls.Config // nil: plain HTTP

	changes     *changeLog
	unsubscribe func()
	closeOnce   sync.Once
	closed      atomic.Bool
}

// NewServer validates cfg (zero fields take defaults), subscribes to the
// runner's events for the change feed, and builds the handler.
func NewServer(cfg Config, runner TaskRunner, opts ...Option) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if runner == nil {
		return nil, errors.New("api: runner is required")
	}
	o := options{version: version.Version}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	s := &Server{
		cfg:     cfg.WithDefaults(),
		runner:  runner,
		log:     o.logger,
		version: o.version,
		ready:   o.ready,
		started: time.Now(),
	}
	s.changes = newChangeLog(s.cfg.ChangesBufferSize, s.started)
	s.unsubscribe = runner.Subscribe(s.changes.add)

	s.router = mux.NewRouter()
	// Paths are matched as sent: cleaning would redirect
	// /taskgate/v1/task//status instead of saying the id is missing.
	s.router.SkipClean(true)
	s.router.NotFoundHandler = http.HandlerFunc(s.notFound)
	s.router.MethodNotAllowedHandler = http.HandlerFunc(s.methodNotAllowed)
	s.router.Use(s.routeTagger)
	s.registerRoutes(s.router)
	for _, register := range o.routes {
		register(s.router)
	}
	if err := s.setupAuth(&o); err != nil {
		return nil, err
	}
	tlsCfg, err := s.cfg.TLS.ServerConfig()
	if err != nil {
		return nil, err
	}
	s.tls = tlsCfg

	s.handler = s.instrument(s.observe(s.router), o)
	return s, nil
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Config returns the effective configuration (defaults applied).
func (s *Server) Config() Config { return s.cfg }

// HTTPServer returns a net/http server for Handler() with the configured
// address and timeouts. Its Shutdown also closes s, which releases waiting
// long polls so the shutdown is not held up by them.
func (s *Server) HTTPServer() *http.Server {
	hs := &http.Server{
		Addr:              s.cfg.ListenAddress,
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		// Non-nil when TLS is configured: serve with hs.ServeTLS(ln, "", "").
		TLSConfig: s.tls,
	}
	hs.RegisterOnShutdown(func() { _ = s.Close() })
	return hs
}

// Close stops following the runner's events, answers waiting long polls at
// once, and makes /status/ready report 503. It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.unsubscribe()
		s.changes.close()
	})
	return nil
}

// Route names double as the OpenAPI operationIds.
func (s *Server) registerRoutes(r *mux.Router) {
	// [^/]* rather than mux's default [^/]+ so an empty id reaches the
	// handler and gets a 400 naming "id" rather than a bare 404.
	const task = "/taskgate/v1/task/{id:[^/]*}"
	r.HandleFunc("/taskgate/v1/task", s.submitTask).Methods(http.MethodPost).Name("submitTask")
	r.HandleFunc(task+"/status", s.taskStatus).Methods(http.MethodGet).Name("getTaskStatus")
	r.HandleFunc(task+"/location", s.taskLocation).Methods(http.MethodGet).Name("getTaskLocation")
	r.HandleFunc(task+"/shutdown", s.shutdownTask).Methods(http.MethodPost).Name("shutdownTask")
	r.HandleFunc(task+"/log", s.taskLog).Methods(http.MethodGet).Name("getTaskLog")
	r.HandleFunc("/taskgate/v1/tasks", s.listTasks).Methods(http.MethodGet).Name("listTasks")
	r.HandleFunc("/taskgate/v1/capacity", s.capacity).Methods(http.MethodGet).Name("getCapacity")
	r.HandleFunc("/taskgate/v1/changes", s.changesFeed).Methods(http.MethodGet).Name("getChanges")
	r.HandleFunc("/status/health", s.health).Methods(http.MethodGet).Name("getHealth")
	r.HandleFunc("/status/ready", s.readiness).Methods(http.MethodGet).Name("getReady")
	r.HandleFunc("/status", s.status).Methods(http.MethodGet).Name("getStatus")
}

var routeVarRegexp = regexp.MustCompile(`\{([^{}:]+):[^{}]*\}`)

// RouteTemplate returns a mux path template without variable patterns
// ("/task/{id:[^/]*}/log" → "/task/{id}/log"), the form used in span names,
// logs and the OpenAPI document.
func RouteTemplate(muxTemplate string) string {
	return routeVarRegexp.ReplaceAllString(muxTemplate, "{$1}")
}

// instrument wraps h in an OpenTelemetry server span per request, reading
// W3C trace context from the request headers.
func (s *Server) instrument(h http.Handler, o options) http.Handler {
	prop := o.propagator
	if prop == nil {
		prop = otel.GetTextMapPropagator()
		// The global propagator is a no-op until telemetry sets one; W3C
		// trace context is the standard, so honour it regardless.
		if len(prop.Fields()) == 0 {
			prop = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
		}
	}
	otelOpts := []otelhttp.Option{
		otelhttp.WithPropagators(prop),
		// Until the router has matched, all that is known is the method;
		// routeTagger renames the span to "METHOD /route/{template}".
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }),
	}
	if o.tracerProv != nil {
		otelOpts = append(otelOpts, otelhttp.WithTracerProvider(o.tracerProv))
	}
	if o.meterProv != nil {
		otelOpts = append(otelOpts, otelhttp.WithMeterProvider(o.meterProv))
	}
	return otelhttp.NewHandler(h, "taskgate", otelOpts...)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path), "")
}

func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	allowed := s.allowedMethods(r)
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
	}
	writeError(w, http.StatusMethodNotAllowed,
		fmt.Sprintf("method %s not allowed on %s; allowed: %s", r.Method, r.URL.Path, strings.Join(allowed, ", ")), "")
}

// allowedMethods asks the router which methods would match r's path.
func (s *Server) allowedMethods(r *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions} {
		probe := r.Clone(r.Context())
		probe.Method = m
		var match mux.RouteMatch
		if s.router.Match(probe, &match) && match.MatchErr == nil {
			out = append(out, m)
		}
	}
	return out
}
