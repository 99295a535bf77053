package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"k8s.io/client-go/kubernetes"

	"github.com/taskgate/taskgate/adapters"
	"github.com/taskgate/taskgate/api"
	"github.com/taskgate/taskgate/dynconfig"
	"github.com/taskgate/taskgate/internal/journal"
	"github.com/taskgate/taskgate/internal/version"
	"github.com/taskgate/taskgate/routing"
	"github.com/taskgate/taskgate/tasklogs"
	"github.com/taskgate/taskgate/telemetry"
	"github.com/taskgate/taskgate/workerrunner"
)

// A runner that the runner type leaves out is wired as one that refuses work
// with these reasons, so a task routed there (e.g. by a later live routing
// change) gets an honest 503 instead of silently never running.
const (
	k8sNotWanted    = "druid.indexer.runner.type is neither k8s nor k8sAndWorker"
	workerNotWanted = "druid.indexer.runner.type is neither httpRemote nor k8sAndWorker"
)

func serve(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", stderr)
	var cf configFlags
	cf.register(fs)
	listen := fs.String("listen", api.DefaultListenAddress, "`host:port` for the HTTP API")
	shutdownTimeout := fs.Duration("shutdown-timeout", 30*time.Second, "how long to wait for in-flight requests on shutdown")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	logFormat := fs.String("log-format", "json", "log format: json or text")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig `file` (default: in-cluster, then $KUBECONFIG or ~/.kube/config)")
	if code, done := parseFlags(fs, args, stderr); done {
		return code
	}
	log, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "gateway serve: %v\n", err)
		return 2
	}
	if err := runServer(ctx, log, serveOptions{cf: cf, environ: environ, listen: *listen,
		shutdownTimeout: *shutdownTimeout, kubeconfig: *kubeconfig}, stdout); err != nil {
		log.Error("gateway stopped with an error", "error", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %q is not one of debug, info, warn, error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler
	switch strings.ToLower(format) {
	case "json":
		h = slog.NewJSONHandler(w, opts)
	case "text":
		h = slog.NewTextHandler(w, opts)
	default:
		return nil, fmt.Errorf("-log-format: %q is not json or text", format)
	}
	return slog.New(telemetry.NewLogHandler(h)), nil
}

type serveOptions struct {
	cf              configFlags
	environ         []string
	listen          string
	shutdownTimeout time.Duration
	kubeconfig      string
}

func runServer(ctx context.Context, log *slog.Logger, o serveOptions, stdout io.Writer) error {
	props, warnings, err := o.cf.load(o.environ)
	for _, w := range warnings {
		log.Warn("configuration", "property", w.Key, "source", string(w.Source), "warning", w.Message)
	}
	if err != nil {
		return fmt.Errorf("load configuration: %w", err)
	}
	wire, err := buildWiring(props)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	wire.api.ListenAddress = o.listen
	if err := wire.api.Validate(); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	authOpt, err := api.AuthOption(wire.auth)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if wire.auth.Enabled && wire.api.TLS.CertFile == "" {
		log.Warn("authentication is on but the API serves plain HTTP: credentials cross the network in clear text; set taskgate.api.tls.certFile and keyFile")
	}
	kube := &lazyKube{path: o.kubeconfig, env: lookupEnv(o.environ, "KUBECONFIG")}

	store, err := openDynamicConfigStore(ctx, wire.store, kube)
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()
	mgr, err := dynconfig.NewManager(ctx, wire.dynamic, store)
	if err != nil {
		return err
	}
	defer func() { _ = mgr.Close() }()
	execConfig := dynconfig.NewHandlers(mgr, dynconfig.WithIdentity(api.IdentityName),
		dynconfig.WithHandlersLogger(log.With("component", "dynconfig")))

	tcfg := telemetry.FromEnv()
	tcfg.ServiceVersion = version.Version
	tel, err := telemetry.Setup(ctx, tcfg)
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tel.Shutdown(sctx); err != nil {
			log.Warn("telemetry shutdown", "error", err)
		}
	}()

	var logs tasklogs.Store
	if wire.runsK8s || wire.runsWorker {
		if logs, err = tasklogs.New(wire.taskLogs); err != nil {
			return fmt.Errorf("task log store: %w", err)
		}
	}
	var k8s routing.Runner = routing.NewNotConfigured(routing.RunnerK8s, k8sNotWanted)
	var k8sRoutes []api.Option
	if wire.runsK8s {
		r, adapter, unsubscribe, err := newK8sRunner(ctx, props, o.environ, kube, logs, mgr, store, tel, log)
		if err != nil {
			return err
		}
		defer unsubscribe()
		k8s = r
		// An execution config POST is checked against the templates it
		// selects (they exist, parse and pass the lint).
		if c, ok := adapter.(adapters.ExecutionConfigChecker); ok {
			mgr.SetChecker(c.CheckExecutionConfig)
		}
		// Druid guards its pod template list with ConfigResourceFilter.
		podTemplates := adapters.NewPodTemplatesHandler(adapter)
		k8sRoutes = append(k8sRoutes, api.WithResourceRoutes(api.ConfigResource, func(r *mux.Router) {
			r.Handle(adapters.PathPodTemplates, podTemplates).Methods(http.MethodGet).Name("getPodTemplates")
			r.Handle(adapters.PathPodTemplateStatus, adapters.NewPodTemplateStatusHandler(adapter)).Methods(http.MethodGet).Name("getPodTemplateStatus")
		}))
	}
	var worker routing.Runner = routing.NewNotConfigured(routing.RunnerWorker, workerNotWanted)
	if wire.runsWorker {
		r, err := newWorkerRunner(wire.worker, kube, logs, log)
		if err != nil {
			return err
		}
		worker = r
	}
	// The static runner strategy is the live routing config's starting value.
	rs, strategy, err := openRouting(ctx, wire, kube, log)
	if err != nil {
		return err
	}
	defer rs.close()
	if err := rs.newTracker(wire, worker, tel, log); err != nil {
		return err
	}
	pending, err := journal.Open(wire.journalDir)
	if err != nil {
		return err
	}
	hybrid, err := routing.NewHybrid(
		k8s,
		worker,
		strategy,
		routing.WithJournal(pending),
		routing.WithLogger(log.With("component", "routing")),
		routing.WithTracerProvider(tel.TracerProvider),
		routing.WithObserver(rs.tracker),
	)
	if err != nil {
		return err
	}
	defer rs.follow(hybrid, worker, log.With("component", "routing"))()
	defer hybrid.Subscribe(rs.tracker.OnEvent)()
	if err := hybrid.Start(ctx); err != nil {
		return fmt.Errorf("start runners: %w", err)
	}
	restored, err := hybrid.Restore(ctx)
	if err != nil {
		return fmt.Errorf("restore tasks: %w", err)
	}
	rs.tracker.Restored(restored)
	log.Info("runners started", "routing", fmt.Sprint(hybrid.Strategy()), "restored", len(restored))
	stopWorkerAPI := func(context.Context) error { return nil }
	if wire.workerAPI.listen != "" {
		if stopWorkerAPI, err = startWorkerAPI(ctx, wire.workerAPI, wire.auth, hybrid, kube, o.environ, log); err != nil {
			_ = hybrid.Stop(context.Background())
			return err
		}
	}

	var ln net.Listener
	srv, err := api.NewServer(wire.api, hybrid, append([]api.Option{
		api.WithLogger(log.With("component", "api")),
		api.WithVersion(version.Version),
		api.WithTracerProvider(tel.TracerProvider),
		api.WithMeterProvider(tel.MeterProvider),
		api.WithPropagators(tel.Propagator),
		api.WithRoutes(func(r *mux.Router) {
			r.Handle("/metrics", tel.MetricsHandler).Methods(http.MethodGet)
		}),
		api.WithResourceRoutes(api.ConfigResource, execConfig.Register),
		authOpt,
	}, append(k8sRoutes, rs.routes(log)...)...)...,
	)
	if err == nil {
		ln, err = net.Listen("tcp", wire.api.ListenAddress)
		if err != nil {
			err = fmt.Errorf("listen on %s: %w", wire.api.ListenAddress, err)
		}
	}
	if err != nil {
		_ = stopWorkerAPI(context.Background())
		_ = hybrid.Stop(context.Background())
		return err
	}
	hs := srv.HTTPServer()
	scheme := "http"
	if hs.TLSConfig != nil {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "taskgate %s listening on %s://%s\n", version.Version, scheme, ln.Addr())
	log.Info("listening", "address", ln.Addr().String(), "scheme", scheme)

	serveErr := make(chan error, 1)
	go func() {
		if hs.TLSConfig != nil {
			serveErr <- hs.ServeTLS(ln, "", "")
			return
		}
		serveErr <- hs.Serve(ln)
	}()

	select {
	case err := <-serveErr:
		_ = stopWorkerAPI(context.Background())
		_ = hybrid.Stop(context.Background())
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	var errs []error
	if err := stopWorkerAPI(sctx); err != nil {
		errs = append(errs, err)
	}
	if err := hs.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	if err := hybrid.Stop(sctx); err != nil {
		errs = append(errs, fmt.Errorf("stop runners: %w", err))
	}
	return errors.Join(errs...)
}

// openDynamicConfigStore opens the execution config store the properties
// name; only the ConfigMap store needs the Kubernetes API.
func openDynamicConfigStore(ctx context.Context, cfg dynconfig.StoreConfig, kube *lazyKube) (dynconfig.ClosableStore, error) {
	var client kubernetes.Interface
	if cfg.Kind == dynconfig.StoreKindConfigMap {
		c, _, err := kube.get()
		if err != nil {
			return nil, fmt.Errorf("execution config store: %w", err)
		}
		client = c
	}
	store, err := dynconfig.OpenStore(ctx, cfg, client)
	if err != nil {
		return nil, fmt.Errorf("execution config store: %w", err)
	}
	return store, nil
}

// newWorkerRunner builds the Middle Manager runner; Kubernetes discovery
// (druid.discovery.type=k8s) needs the Kubernetes API, the static list not.
func newWorkerRunner(cfg workerrunner.Config, kube *lazyKube, logs tasklogs.Store, log *slog.Logger) (*workerrunner.Runner, error) {
	var client kubernetes.Interface
	if cfg.Discovery == workerrunner.DiscoveryK8s {
		c, _, err := kube.get()
		if err != nil {
			return nil, fmt.Errorf("middle manager discovery: %w", err)
		}
		client = c
	}
	wlog := log.With("component", "workerrunner")
	disc, err := workerrunner.NewDiscovery(cfg, client, wlog)
	if err != nil {
		return nil, fmt.Errorf("middle manager discovery: %w", err)
	}
	r, err := workerrunner.New(cfg, workerrunner.Options{Discovery: disc, Logs: logs, Logger: wlog})
	if err != nil {
		return nil, fmt.Errorf("middle manager runner: %w", err)
	}
	return r, nil
}
