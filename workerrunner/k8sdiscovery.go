package workerrunner

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/taskgate/taskgate/workerrunner/protocol"
)

// Labels and annotations of druid-kubernetes-extensions' node announcer
// (K8sDruidNodeAnnouncer).
const (
	LabelClusterIdentifier = "druidDiscoveryAnnouncement-cluster-identifier"
	LabelAnnouncementID    = "druidDiscoveryAnnouncement-id"
	// LabelRolePrefix + role ("middleManager") = "true" marks an announced role.
	LabelRolePrefix = "druidDiscoveryAnnouncement-"
	// AnnotationInfoPrefix + role holds the DiscoveryDruidNode JSON.
	AnnotationInfoPrefix = "druidNodeInfo-"
)

// Node roles that announce a workerNodeService, as HRTR watches them.
var workerRoles = []string{"middleManager", "indexer"}

// DiscoveryDruidNode is the part of Druid's DiscoveryDruidNode JSON the
// runner reads.
type DiscoveryDruidNode struct {
	DruidNode struct {
		Host          string `json:"host"`
		PlaintextPort int    `json:"plaintextPort"`
		TLSPort       int    `json:"tlsPort"`
	} `json:"druidNode"`
	NodeType string                     `json:"nodeType"`
	Services map[string]json.RawMessage `json:"services"`
}

type workerNodeService struct {
	IP       string `json:"ip"`
	Capacity int    `json:"capacity"`
	Version  string `json:"version"`
	Category string `json:"category"`
}

// ParseWorkerAnnouncement turns a DiscoveryDruidNode JSON into a worker, as
// HRTR builds a Worker from it: https and the TLS port when tlsPort ≥ 0;
// ok is false when the node announces no workerNodeService.
func ParseWorkerAnnouncement(b []byte) (WorkerInfo, bool, error) {
	var n DiscoveryDruidNode
	if err := json.Unmarshal(b, &n); err != nil {
		return WorkerInfo{}, false, fmt.Errorf("parse DiscoveryDruidNode: %w", err)
	}
	raw, ok := n.Services["workerNodeService"]
	if !ok {
		return WorkerInfo{}, false, nil
	}
	if n.DruidNode.Host == "" {
		return WorkerInfo{}, false, fmt.Errorf("parse DiscoveryDruidNode: field %q is required", "druidNode.host")
	}
	var s workerNodeService
	if err := json.Unmarshal(raw, &s); err != nil {
		return WorkerInfo{}, false, fmt.Errorf("parse DiscoveryDruidNode: services.workerNodeService: %w", err)
	}
	w := WorkerInfo{Scheme: "http", IP: s.IP, Capacity: s.Capacity, Version: s.Version, Category: s.Category}
	port := n.DruidNode.PlaintextPort
	if n.DruidNode.TLSPort >= 0 && n.DruidNode.TLSPort != 0 {
		w.Scheme, port = "https", n.DruidNode.TLSPort
	}
	if port <= 0 {
		return WorkerInfo{}, false, fmt.Errorf("parse DiscoveryDruidNode: node %s has no usable port", n.DruidNode.Host)
	}
	w.Host = joinHostPort(n.DruidNode.Host, port)
	if w.Category == "" {
		w.Category = protocol.DefaultWorkerCategory
	}
	return w, true, nil
}

// K8sDiscovery is Druid's Kubernetes node discovery for workers: pods in one
// namespace labelled by druid-kubernetes-extensions for a cluster, whose
// druidNodeInfo-<role> annotation announces a workerNodeService. One shared
// informer watches them.
type K8sDiscovery struct {
	client    kubernetes.Interface
	namespace string
	clusterID string
	log       *slog.Logger
	resync    time.Duration

	mu    sync.Mutex
	known map[string]string // pod key → worker host
}

// NewK8sDiscovery watches pods of clusterID in namespace.
func NewK8sDiscovery(client kubernetes.Interface, namespace, clusterID string, log *slog.Logger) (*K8sDiscovery, error) {
	switch {
	case client == nil:
		return nil, fmt.Errorf("k8s discovery: a Kubernetes client is required")
	case namespace == "":
		return nil, fmt.Errorf("k8s discovery: %s: namespace is required", PropK8sNamespace)
	case clusterID == "":
		return nil, fmt.Errorf("k8s discovery: %s is required", PropK8sClusterIdentifier)
	}
	if log == nil {
		log = slog.Default()
	}
	return &K8sDiscovery{client: client, namespace: namespace, clusterID: clusterID, log: log, known: map[string]string{}}, nil
}

// Start runs the informer, reports the pods present after its initial list,
// then keeps reporting changes until ctx ends.
func (d *K8sDiscovery) Start(ctx context.Context, sink DiscoverySink) error {
	sel := labels.Set{LabelClusterIdentifier: d.clusterID}.AsSelector().String()
	f := informers.NewSharedInformerFactoryWithOptions(d.client, d.resync,
		informers.WithNamespace(d.namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = sel }))
	inf := f.Core().V1().Pods().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { d.update(sink, obj) },
		UpdateFunc: func(_, obj any) { d.update(sink, obj) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				d.forget(sink, p.Namespace+"/"+p.Name)
			}
		},
	})
	if err != nil {
		return fmt.Errorf("k8s discovery: add pod handler: %w", err)
	}
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return fmt.Errorf("k8s discovery: pod informer did not sync: %w", ctx.Err())
	}
	return nil
}

// announced returns the worker a pod announces, if any.
func (d *K8sDiscovery) announced(p *corev1.Pod) (WorkerInfo, bool) {
	if p.DeletionTimestamp != nil || p.Labels[LabelClusterIdentifier] != d.clusterID {
		return WorkerInfo{}, false
	}
	for _, role := range workerRoles {
		if p.Labels[LabelRolePrefix+role] != "true" {
			continue
		}
		raw, ok := p.Annotations[AnnotationInfoPrefix+role]
		if !ok {
			continue
		}
		w, ok, err := ParseWorkerAnnouncement([]byte(raw))
		if err != nil {
			d.log.Warn("ignoring pod with an unreadable announcement", "pod", p.Namespace+"/"+p.Name, "role", role, "err", err)
			continue
		}
		if ok {
			return w, true
		}
	}
	return WorkerInfo{}, false
}

func (d *K8sDiscovery) update(sink DiscoverySink, obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	key := p.Namespace + "/" + p.Name
	w, ok := d.announced(p)
	if !ok {
		d.forget(sink, key)
		return
	}
	d.mu.Lock()
	prev, had := d.known[key]
	d.known[key] = w.Host
	d.mu.Unlock()
	if had && prev != w.Host {
		sink.WorkerRemoved(prev)
	}
	// The runner ignores an identical re-add; a changed announcement
	// (capacity, version) replaces the worker, which Druid does not do.
	sink.WorkerAdded(w)
}

func (d *K8sDiscovery) forget(sink DiscoverySink, key string) {
	d.mu.Lock()
	host, had := d.known[key]
	delete(d.known, key)
	d.mu.Unlock()
	if had {
		sink.WorkerRemoved(host)
	}
}

// NewDiscovery returns the discovery cfg asks for: the static list, or
// Kubernetes discovery with client (required only then).
func NewDiscovery(cfg Config, client kubernetes.Interface, log *slog.Logger) (Discovery, error) {
	switch cfg.Discovery {
	case DiscoveryStatic:
		return NewStaticDiscovery(cfg), nil
	case DiscoveryK8s:
		return NewK8sDiscovery(client, cfg.K8sNamespace, cfg.K8sClusterIdentifier, log)
	}
	return nil, fmt.Errorf("%s: unknown discovery type %q", PropDiscoveryType, cfg.Discovery)
}
