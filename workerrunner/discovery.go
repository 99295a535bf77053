package workerrunner

import (
	"context"
	"net"
	"strconv"
)

// WorkerInfo is what discovery knows about a worker (Druid's Worker built
// from a DiscoveryDruidNode's workerNodeService).
type WorkerInfo struct {
	// Scheme is http or https.
	Scheme string
	// Host is the host:port the runner talks to; it identifies the worker.
	Host     string
	IP       string
	Capacity int
	Version  string
	Category string
}

// URL is the worker's base URL.
func (w WorkerInfo) URL() string { return w.Scheme + "://" + w.Host }

// DiscoverySink receives discovery changes. The runner implements it.
type DiscoverySink interface {
	// WorkerAdded reports a new worker (or a changed one, by the same Host).
	WorkerAdded(w WorkerInfo)
	// WorkerRemoved reports that the worker with that host:port is gone.
	WorkerRemoved(host string)
}

// Discovery finds workers and reports them to a sink while ctx lasts.
// Start returns once the initial set has been reported, so the runner can
// wait for every initial worker's first sync, and keeps reporting changes
// in the background until ctx ends.
type Discovery interface {
	Start(ctx context.Context, sink DiscoverySink) error
}

// StaticDiscovery is a fixed worker list: every worker is added at start
// and none is ever removed (a dead one is noticed by its failing sync).
type StaticDiscovery struct {
	Workers []WorkerInfo
}

// NewStaticDiscovery returns the static list of cfg (taskgate.worker.urls).
func NewStaticDiscovery(cfg Config) *StaticDiscovery {
	return &StaticDiscovery{Workers: cfg.staticWorkers()}
}

// Start reports every worker.
func (s *StaticDiscovery) Start(_ context.Context, sink DiscoverySink) error {
	for _, w := range s.Workers {
		sink.WorkerAdded(w)
	}
	return nil
}

func joinHostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
