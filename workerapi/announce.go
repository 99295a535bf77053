package workerapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/taskgate/taskgate/workerrunner"
	"github.com/taskgate/taskgate/workerrunner/protocol"
)

// NodeRole is the Druid node role taskgate announces.
const NodeRole = "middleManager"

// clusterIDPattern is druid.discovery.k8s.clusterIdentifier's rule.
var clusterIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*[a-z0-9]$`)

// AnnouncerConfig says which pod to patch and what to announce.
type AnnouncerConfig struct {
	// PodName and Namespace name the gateway's own pod (Druid reads them
	// from POD_NAME and POD_NAMESPACE).
	PodName, Namespace string
	// ClusterIdentifier is druid.discovery.k8s.clusterIdentifier: the
	// Overlord's, so it discovers taskgate.
	ClusterIdentifier string
	// Worker is what to announce (Service.Worker()).
	Worker protocol.Worker
	// StartTime is announced as the node's start time (default now).
	StartTime time.Time
}

// Validate checks c.
func (c AnnouncerConfig) Validate() error {
	switch {
	case c.PodName == "":
		return errors.New("worker API announcement: pod name is required (POD_NAME)")
	case c.Namespace == "":
		return errors.New("worker API announcement: namespace is required (POD_NAMESPACE)")
	case !clusterIDPattern.MatchString(c.ClusterIdentifier):
		return fmt.Errorf("worker API announcement: druid.discovery.k8s.clusterIdentifier %q must match %s", c.ClusterIdentifier, clusterIDPattern)
	}
	host, _, err := net.SplitHostPort(c.Worker.Host)
	if err != nil {
		return fmt.Errorf("worker API announcement: worker host %q: %w", c.Worker.Host, err)
	}
	if strings.Contains(host, ":") {
		// Druid refuses it too: the id label replaces ':' with '-'.
		return fmt.Errorf("worker API announcement: host %q must not contain ':' (IPv6 literals cannot be announced)", host)
	}
	return nil
}

// Announcer announces the gateway as a middleManager the way
// druid-kubernetes-extensions' K8sDruidNodeAnnouncer does: a JSON Patch on
// the gateway's own pod adding the discovery labels and the node-info
// annotation; Unannounce removes them.
type Announcer struct {
	client kubernetes.Interface
	cfg    AnnouncerConfig
}

// NewAnnouncer returns an announcer; nothing is patched until Announce.
func NewAnnouncer(client kubernetes.Interface, cfg AnnouncerConfig) (*Announcer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if client == nil {
		return nil, errors.New("worker API announcement: kubernetes client is nil")
	}
	if cfg.StartTime.IsZero() {
		cfg.StartTime = time.Now()
	}
	return &Announcer{client: client, cfg: cfg}, nil
}

// NodeInfo is the DiscoveryDruidNode JSON the annotation carries.
func (a *Announcer) NodeInfo() ([]byte, error) {
	w := a.cfg.Worker
	host, portStr, _ := net.SplitHostPort(w.Host)
	port, _ := strconv.Atoi(portStr)
	plain, tls := port, -1
	if w.Scheme == "https" {
		plain, tls = -1, port
	}
	node := map[string]any{
		"druidNode": map[string]any{
			"service": "druid/middleManager", "host": host, "bindOnHost": false,
			"plaintextPort": plain, "port": -1, "tlsPort": tls,
			"enablePlaintextPort": plain >= 0, "enableTlsPort": tls >= 0,
		},
		"nodeType": NodeRole,
		"services": map[string]any{
			"workerNodeService": map[string]any{
				"type": "workerNodeService", "ip": w.IP, "capacity": w.Capacity, "version": w.Version, "category": w.Category,
			},
		},
		"startTime":           a.cfg.StartTime.UTC().Format("2006-01-02T15:04:05.000Z"),
		"availableProcessors": runtime.NumCPU(),
		"totalMemory":         0,
	}
	return json.Marshal(node)
}

type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value string `json:"value,omitempty"`
}

// jsonPointer escapes a label or annotation key for a JSON Patch path.
func jsonPointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func (a *Announcer) paths() (roleLabel, idLabel, clusterLabel, infoAnnotation string) {
	return "/metadata/labels/" + jsonPointer(workerrunner.LabelRolePrefix+NodeRole),
		"/metadata/labels/" + jsonPointer(workerrunner.LabelAnnouncementID),
		"/metadata/labels/" + jsonPointer(workerrunner.LabelClusterIdentifier),
		"/metadata/annotations/" + jsonPointer(workerrunner.AnnotationInfoPrefix+NodeRole)
}

// Announce patches the pod. Like Druid, it needs the pod to have at least
// one label and one annotation already (a JSON Patch "add" needs the
// parent object); the announcer adds empty maps first when missing.
func (a *Announcer) Announce(ctx context.Context) error {
	info, err := a.NodeInfo()
	if err != nil {
		return fmt.Errorf("announce: %w", err)
	}
	if err := a.ensureMaps(ctx); err != nil {
		return err
	}
	role, id, cluster, ann := a.paths()
	ops := []patchOp{
		{Op: "add", Path: role, Value: "true"},
		{Op: "add", Path: id, Value: strings.ReplaceAll(a.cfg.Worker.Host, ":", "-")},
		{Op: "add", Path: cluster, Value: a.cfg.ClusterIdentifier},
		{Op: "add", Path: ann, Value: string(info)},
	}
	return a.patch(ctx, "announce", ops)
}

// Unannounce removes what Announce added.
func (a *Announcer) Unannounce(ctx context.Context) error {
	role, id, cluster, ann := a.paths()
	ops := []patchOp{{Op: "remove", Path: role}, {Op: "remove", Path: id}, {Op: "remove", Path: cluster}, {Op: "remove", Path: ann}}
	return a.patch(ctx, "unannounce", ops)
}

// ensureMaps gives the pod empty labels/annotations maps when it has none,
// with a merge patch that leaves existing entries alone.
func (a *Announcer) ensureMaps(ctx context.Context) error {
	body := []byte(`{"metadata":{"labels":{"taskgate.io/worker-api":"true"},"annotations":{"taskgate.io/worker-api":"true"}}}`)
	_, err := a.client.CoreV1().Pods(a.cfg.Namespace).Patch(ctx, a.cfg.PodName, types.MergePatchType, body, metav1PatchOptions())
	if err != nil {
		return fmt.Errorf("announce: prepare pod %s/%s: %w", a.cfg.Namespace, a.cfg.PodName, err)
	}
	return nil
}

// patch applies ops, tried 3 times as Druid does.
func (a *Announcer) patch(ctx context.Context, op string, ops []patchOp) error {
	body, err := json.Marshal(ops)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	var last error
	for attempt := range 3 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s pod %s/%s: %w", op, a.cfg.Namespace, a.cfg.PodName, ctx.Err())
			case <-time.After(time.Duration(attempt) * 500 * time.Millisecond):
			}
		}
		_, last = a.client.CoreV1().Pods(a.cfg.Namespace).Patch(ctx, a.cfg.PodName, types.JSONPatchType, body, metav1PatchOptions())
		if last == nil {
			return nil
		}
	}
	return fmt.Errorf("%s pod %s/%s as a %s: %w", op, a.cfg.Namespace, a.cfg.PodName, NodeRole, last)
}

func metav1PatchOptions() metav1.PatchOptions { return metav1.PatchOptions{FieldManager: "taskgate"} }
