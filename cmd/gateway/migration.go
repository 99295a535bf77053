package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/taskgate/taskgate/api"
	"github.com/taskgate/taskgate/config"
	"github.com/taskgate/taskgate/dynconfig"
	"github.com/taskgate/taskgate/migration"
	"github.com/taskgate/taskgate/routing"
	"github.com/taskgate/taskgate/telemetry"
	"github.com/taskgate/taskgate/workerapi"
	"github.com/taskgate/taskgate/workerrunner"
	"github.com/taskgate/taskgate/workerrunner/protocol"
)

// Properties of the migration wiring (see config's catalogue).
const (
	propMigrationWindow  = "taskgate.migration.window"
	propWorkerAPIListen  = "taskgate.workerApi.listen"
	propWorkerAPIHost    = "taskgate.workerApi.host"
	propWorkerAPICap     = "taskgate.workerApi.capacity"
	propWorkerAPICat     = "taskgate.workerApi.category"
	propWorkerAPIVersion = "taskgate.workerApi.version"
	propWorkerAPIAnnnce  = "taskgate.workerApi.announce"
	propWorkerAPICluster = "taskgate.workerApi.clusterIdentifier"
	propDruidHost        = "druid.host"
	propDiscoveryType    = "druid.discovery.type"
	propClusterID        = "druid.discovery.k8s.clusterIdentifier"
)

// routingSetup is the live routing config and what follows it.
type routingSetup struct {
	store   dynconfig.ClosableDocStore[dynconfig.RoutingConfig]
	manager *dynconfig.RoutingManager
	tracker *migration.Tracker
	// hybrid is set once built; the tracker's lookup reads it.
	hybrid *routing.Hybrid
}

// openRouting opens the routing config store (next to the execution
// config's) and its manager, starting from the static runner strategy.
func openRouting(ctx context.Context, wire wiring, kube *lazyKube, log *slog.Logger) (*routingSetup, routing.Strategy, error) {
	var client kubernetes.Interface
	cfg := wire.store.For("routing")
	if cfg.Kind == dynconfig.StoreKindConfigMap {
		c, _, err := kube.get()
		if err != nil {
			return nil, nil, fmt.Errorf("routing config store: %w", err)
		}
		client = c
	}
	store, err := dynconfig.OpenDocStore(ctx, cfg, client, dynconfig.RoutingConfigDoc)
	if err != nil {
		return nil, nil, fmt.Errorf("routing config store: %w", err)
	}
	mgr, err := dynconfig.NewRoutingManager(ctx, routing.RoutingConfigFromStrategy(wire.strategyConfig), store, log.With("component", "routingconfig"))
	if err != nil {
		_ = store.Close()
		return nil, nil, err
	}
	s, err := routing.NewRuleStrategy(mgr.Current())
	if err != nil {
		_ = mgr.Close()
		_ = store.Close()
		// A stored config was valid when written; a newer build may be
		// stricter. Say which document to fix.
		return nil, nil, fmt.Errorf("routing config in force (GET %s): %w", dynconfig.PathRoutingConfig, err)
	}
	return &routingSetup{store: store, manager: mgr}, s, nil
}

// newTracker builds the migration view over the live routing config.
func (rs *routingSetup) newTracker(wire wiring, worker routing.Runner, tel *telemetry.Providers, log *slog.Logger) error {
	cfg := migration.Config{
		Window:        wire.migrationWindow,
		MeterProvider: tel.MeterProvider,
		Logger:        log.With("component", "migration"),
		Routing:       rs.manager,
		Identity:      api.IdentityName,
		Lookup: func(id string) (routing.WorkItem, bool) {
			if rs.hybrid == nil {
				return routing.WorkItem{}, false
			}
			return rs.hybrid.Get(id)
		},
	}
	if wr, ok := worker.(*workerrunner.Runner); ok {
		cfg.Workers = wr
	}
	t, err := migration.New(cfg)
	if err != nil {
		return err
	}
	rs.tracker = t
	return nil
}

// follow makes every routing config change live: a new strategy for the
// tasks submitted after it, and the drained Middle Managers.
func (rs *routingSetup) follow(h *routing.Hybrid, worker routing.Runner, log *slog.Logger) (cancel func()) {
	rs.hybrid = h
	apply := func(cfg *dynconfig.RoutingConfig) {
		s, err := routing.NewRuleStrategy(cfg)
		if err != nil {
			log.Error("routing config not applied; the previous one stays in force", "error", err)
			return
		}
		_ = h.SetStrategy(s)
		if wr, ok := worker.(*workerrunner.Runner); ok {
			wr.SetDraining(cfg.Drain.Workers)
		}
		log.Info("routing config in force", "strategy", fmt.Sprint(s))
	}
	apply(rs.manager.Current())
	return rs.manager.Subscribe(apply)
}

// routes mounts the routing config and migration endpoints.
func (rs *routingSetup) routes(log *slog.Logger) []api.Option {
	handlers := dynconfig.NewRoutingHandlers(rs.manager, dynconfig.WithIdentity(api.IdentityName),
		dynconfig.WithHandlersLogger(log.With("component", "routingconfig")))
	return []api.Option{
		api.WithResourceRoutes(api.ConfigResource, handlers.Register),
		api.WithResourceRoutes(api.StateResource, rs.tracker.RegisterView),
		api.WithResourceRoutes(api.ConfigResource, rs.tracker.RegisterDrain),
	}
}

func (rs *routingSetup) close() {
	if rs.tracker != nil {
		_ = rs.tracker.Close()
	}
	_ = rs.manager.Close()
	_ = rs.store.Close()
}

// workerAPIConfig is the gateway-as-a-worker part of the wiring; listen ""
// means off.
type workerAPIConfig struct {
	listen    string
	service   workerapi.Config
	announce  bool
	clusterID string
}

func workerAPIFromProperties(props *config.Properties) (workerAPIConfig, error) {
	var w workerAPIConfig
	w.listen, _ = props.Get(propWorkerAPIListen)
	if w.listen == "" {
		return w, nil
	}
	_, port, err := net.SplitHostPort(w.listen)
	if err != nil {
		return w, fmt.Errorf("%s: %q must be host:port", propWorkerAPIListen, w.listen)
	}
	host, _ := props.Get(propWorkerAPIHost)
	if host == "" {
		druidHost, _ := props.Get(propDruidHost)
		if druidHost == "" {
			return w, fmt.Errorf("%s is set: set %s (or %s) to the address the Overlord reaches the gateway at", propWorkerAPIListen, propWorkerAPIHost, propDruidHost)
		}
		host = net.JoinHostPort(druidHost, port)
	}
	capacity, err := props.Int(propWorkerAPICap)
	if err != nil {
		return w, err
	}
	category, _ := props.Get(propWorkerAPICat)
	ver, _ := props.Get(propWorkerAPIVersion)
	w.service = workerapi.Config{HostAndPort: host, Capacity: capacity, Category: category, Version: ver}
	if err := w.service.Validate(); err != nil {
		return w, err
	}
	if w.announce, err = props.Bool(propWorkerAPIAnnnce); err != nil {
		return w, err
	}
	w.clusterID, _ = props.Get(propWorkerAPICluster)
	if w.announce && w.clusterID == "" {
		return w, fmt.Errorf("%s=true: set %s to the Overlord's druid.discovery.k8s.clusterIdentifier", propWorkerAPIAnnnce, propWorkerAPICluster)
	}
	// The worker runner discovers Middle Managers under
	// druid.discovery.k8s.clusterIdentifier; announcing under the same id
	// would make the gateway its own worker.
	if discovery, _ := props.Get(propDiscoveryType); w.announce && discovery == "k8s" {
		if mms, _ := props.Get(propClusterID); mms == w.clusterID {
			return w, fmt.Errorf("%s: %q is also %s, where the gateway discovers its Middle Managers; announce the gateway under the Overlord's identifier and the Middle Managers under another", propWorkerAPICluster, w.clusterID, propClusterID)
		}
	}
	return w, nil
}

// startWorkerAPI serves Druid's Middle Manager API from the gateway's
// runner on its own listener and, when asked, announces the gateway through
// Kubernetes discovery. It must run after the runners restored their tasks:
// the Overlord's first full sync must list them all. The returned stop
// unannounces first, so the Overlord stops assigning before the API goes.
func startWorkerAPI(ctx context.Context, w workerAPIConfig, auth api.AuthConfig, h *routing.Hybrid, kube *lazyKube, environ []string, log *slog.Logger) (stop func(context.Context) error, err error) {
	wlog := log.With("component", "workerapi")
	cfg := w.service
	cfg.Logger = wlog
	svc, err := workerapi.New(cfg, h)
	if err != nil {
		return nil, err
	}
	if err := svc.Start(ctx); err != nil {
		return nil, err
	}
	handler := protocol.NewHandler(svc, protocol.WithLogger(wlog))
	if auth.Enabled {
		// As a Middle Manager's endpoints: the Overlord sends its escalator
		// credentials (druid.escalator.internalClient*), which the auth file
		// must grant STATE READ and WRITE.
		fa, err := api.LoadAuthFile(auth.File, auth.Realm)
		if err != nil {
			svc.Stop()
			return nil, fmt.Errorf("worker API: %w", err)
		}
		handler = api.RequireResource(fa, fa, api.StateResource, wlog, handler)
	}
	ln, err := net.Listen("tcp", w.listen)
	if err != nil {
		svc.Stop()
		return nil, fmt.Errorf("worker API: listen on %s: %w", w.listen, err)
	}
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			wlog.Error("worker API server stopped", "error", err)
		}
	}()
	wlog.Info("serving Druid's Middle Manager API", "listen", ln.Addr().String(), "host", cfg.HostAndPort)
	var ann *workerapi.Announcer
	if w.announce {
		client, _, err := kube.get()
		if err == nil {
			ann, err = workerapi.NewAnnouncer(client, workerapi.AnnouncerConfig{
				PodName: lookupEnv(environ, "POD_NAME"), Namespace: lookupEnv(environ, "POD_NAMESPACE"),
				ClusterIdentifier: w.clusterID, Worker: svc.Worker(),
			})
		}
		if err == nil {
			err = ann.Announce(ctx)
		}
		if err != nil {
			_ = hs.Close()
			svc.Stop()
			return nil, fmt.Errorf("worker API: %w", err)
		}
		wlog.Info("announced as a middleManager", "clusterIdentifier", w.clusterID)
	}
	return func(ctx context.Context) error {
		var errs []error
		if ann != nil {
			if err := ann.Unannounce(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		svc.Stop()
		if err := hs.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("worker API shutdown: %w", err))
		}
		return errors.Join(errs...)
	}, nil
}
