package testcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
)

var (
	//go:embed stages/node.yaml
	nodeStages string
	//go:embed stages/pod.yaml
	podStages string
)

const (
	// FakeNodeAnnotation marks the nodes kwok plays; the rig's nodes carry it
	// with the value "fake", and only such nodes are managed by kwok.
	FakeNodeAnnotation = "kwok.x-k8s.io/node"
	// NodeNamePrefix starts the names of the rig's nodes: kwok-node-0, ...
	NodeNamePrefix = "kwok-node-"

	serviceCIDR   = "10.0.0.0/24" // never routed: only data in Service objects
	serviceIP     = "10.0.0.1"
	podCIDR       = "10.244.0.0/16" // pod IPs kwok writes into pod status
	adminUser     = "taskgate-test-admin"
	notReadyTaint = "node.kubernetes.io/not-ready"
	pollInterval  = 50 * time.Millisecond
	// Components get SIGTERM and this long to exit (so klog flushes its
	// buffered log lines), then SIGKILL. The apiserver and etcd often take
	// seconds to drain watch connections, which is worth nothing here.
	stopGrace = time.Second
)

// errPortTaken marks a start that failed because a port picked as free was
// taken by someone else in between; Start then retries with new ports.
var errPortTaken = errors.New("address already in use")

// Cluster is a running control plane. Its methods are safe for concurrent use.
type Cluster struct {
	cfg     Config
	dir     string
	ownsDir bool
	bins    string
	marker  string
	pki     *pki
	serving keyPair
	admin   keyPair
	saPriv  string
	saPub   string
	ports   ports
	started time.Duration

	procs   map[string]*process
	restCfg *rest.Config
	client  *kubernetes.Clientset

	// lifecycle serialises Stop/Start of single components and Stop.
	lifecycle sync.Mutex
	stopped   bool

	// podLogMu serialises writes to the shared pod log (see SetPodLog).
	podLogMu sync.Mutex
}

type ports struct {
	etcdClient, etcdPeer, apiserver, controllerManager, scheduler int
	// kwok is kwok's kubelet server (logs), which the nodes advertise as
	// their kubelet endpoint.
	kwok int
}

// Start runs etcd, kube-apiserver, kube-controller-manager, kube-scheduler
// and kwok on free loopback ports, creates cfg.Nodes fake nodes and returns
// once all of them are ready and the nodes are schedulable. It first sweeps
// processes left over by dead owners (see SweepStale). On error nothing is
// left running. The error wraps ErrBinariesMissing when the binaries are not
// built.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	begin := time.Now()
	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()

	if killed, err := SweepStale(); err != nil {
		cfg.Logger.Warn("testcluster: sweep of stale processes failed", "err", err)
	} else if len(killed) > 0 {
		cfg.Logger.Info("testcluster: killed processes left by a dead test run", "pids", killed)
	}

	bins := cfg.BinDir
	var err error
	if bins == "" {
		if bins, err = BinDir(ctx); err != nil {
			return nil, err
		}
	} else if err := checkBins(bins); err != nil {
		return nil, err
	}

	c := &Cluster{cfg: cfg, bins: bins, marker: ownerMarker(), procs: map[string]*process{}}
	if cfg.Dir == "" {
		if c.dir, err = os.MkdirTemp("", "taskgate-testcluster-"); err != nil {
			return nil, fmt.Errorf("create cluster dir: %w", err)
		}
		c.ownsDir = true
	} else {
		if c.dir, err = filepath.Abs(cfg.Dir); err != nil {
			return nil, fmt.Errorf("cluster dir %q: %w", cfg.Dir, err)
		}
	}
	ok := false
	defer func() {
		if !ok {
			// Keep the logs of a failed start; the error names the folder.
			c.cfg.KeepDir = true
			_ = c.Stop()
		}
	}()
	if err := c.prepare(); err != nil {
		return nil, fmt.Errorf("start test control plane in %s: %w", c.dir, err)
	}
	for attempt := 1; ; attempt++ {
		err := c.boot(ctx)
		if err == nil {
			break
		}
		if attempt >= 3 || !errors.Is(err, errPortTaken) {
			return nil, fmt.Errorf("start test control plane (logs kept in %s): %w", c.dir, err)
		}
		cfg.Logger.Info("testcluster: a port was taken while starting; retrying with new ports", "err", err)
		c.stopAll(0)
		if err := os.RemoveAll(filepath.Join(c.dir, "etcd-data")); err != nil {
			return nil, fmt.Errorf("reset etcd data: %w", err)
		}
	}
	c.started = time.Since(begin)
	ok = true
	cfg.Logger.Info("testcluster: control plane ready", "took", c.started.Round(time.Millisecond),
		"apiserver", c.restCfg.Host, "dir", c.dir)
	return c, nil
}

// prepare writes what does not depend on ports: folders, PKI, stages.
func (c *Cluster) prepare() error {
	for _, d := range []string{"logs", "etcd-data", "pki"} {
		if err := os.MkdirAll(filepath.Join(c.dir, d), 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	var err error
	if c.pki, err = newPKI(filepath.Join(c.dir, "pki")); err != nil {
		return err
	}
	if c.serving, err = c.pki.serving("serving", net.ParseIP(serviceIP)); err != nil {
		return err
	}
	if c.admin, err = c.pki.client("admin", adminUser, "system:masters"); err != nil {
		return err
	}
	if c.saPriv, c.saPub, err = c.pki.serviceAccountKey(); err != nil {
		return err
	}
	// kwok reads its kubelet-server resources (ClusterLogs) from the same
	// --config file as the stages.
	stages := nodeStages + "\n---\n" + podStages + "\n---\n" + clusterLogs(c.PodLogPath())
	if strings.TrimSpace(c.cfg.ExtraStages) != "" {
		stages += "\n---\n" + c.cfg.ExtraStages
	}
	if err := os.WriteFile(filepath.Join(c.dir, "kwok-stages.yaml"), []byte(stages), 0o644); err != nil {
		return fmt.Errorf("write kwok stages: %w", err)
	}
	// kwok fails a log request for a file that does not exist; an empty
	// log is the start of a real container's.
	if err := os.WriteFile(c.PodLogPath(), nil, 0o644); err != nil {
		return fmt.Errorf("create pod log: %w", err)
	}
	return nil
}

// boot picks ports, writes kubeconfigs and starts the processes in order.
func (c *Cluster) boot(ctx context.Context) error {
	p, err := freePorts(6)
	if err != nil {
		return err
	}
	c.ports = ports{etcdClient: p[0], etcdPeer: p[1], apiserver: p[2], controllerManager: p[3], scheduler: p[4], kwok: p[5]}
	host := "https://127.0.0.1:" + strconv.Itoa(c.ports.apiserver)
	c.restCfg = &rest.Config{
		Host: host,
		TLSClientConfig: rest.TLSClientConfig{
			CAData: c.pki.caPEM, CertData: c.admin.CertPEM, KeyData: c.admin.KeyPEM,
		},
		// Tests create objects in bursts; client-go's default 5 QPS would
		// make them wait on the client, not on the cluster.
		QPS:   100,
		Burst: 200,
	}
	if c.client, err = kubernetes.NewForConfig(c.restCfg); err != nil {
		return fmt.Errorf("client for %s: %w", host, err)
	}
	if err := c.WriteKubeconfig(c.KubeconfigPath()); err != nil {
		return err
	}
	kubeconfigs := map[string]string{}
	for name, ident := range map[string][2]string{
		ControllerManager: {"system:kube-controller-manager", ""},
		Scheduler:         {"system:kube-scheduler", ""},
		// kwok plays every kubelet; system:masters keeps it free of the
		// Node authorizer's per-node restrictions.
		Kwok: {"kwok", "system:masters"},
	} {
		var groups []string
		if ident[1] != "" {
			groups = []string{ident[1]}
		}
		kp, err := c.pki.client(name, ident[0], groups...)
		if err != nil {
			return err
		}
		path := filepath.Join(c.dir, name+".kubeconfig")
		if err := os.WriteFile(path, kubeconfig(host, c.pki.caPEM, ident[0], kp), 0o600); err != nil {
			return fmt.Errorf("write kubeconfig of %s: %w", name, err)
		}
		kubeconfigs[name] = path
	}
	c.defineProcesses(kubeconfigs)

	if err := c.startAndWait(ctx, Etcd); err != nil {
		return err
	}
	if err := c.startAndWait(ctx, APIServer); err != nil {
		return err
	}
	// The rest need only the apiserver; start them together and create the
	// nodes meanwhile.
	for _, name := range []string{ControllerManager, Scheduler, Kwok} {
		if err := c.procs[name].start(); err != nil {
			return err
		}
	}
	if err := c.createNodes(ctx); err != nil {
		return err
	}
	errs := make(chan error, 4)
	for _, name := range []string{ControllerManager, Scheduler, Kwok} {
		go func() { errs <- c.waitReady(ctx, name) }()
	}
	go func() { errs <- c.waitNodesSchedulable(ctx) }()
	var first error
	for range 4 {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (c *Cluster) defineProcesses(kubeconfigs map[string]string) {
	v := "--v=" + strconv.Itoa(c.cfg.Verbosity)
	etcdPeer := "http://127.0.0.1:" + strconv.Itoa(c.ports.etcdPeer)
	etcdClient := "http://127.0.0.1:" + strconv.Itoa(c.ports.etcdClient)
	args := map[string][]string{
		Etcd: {
			"--name=testcluster",
			"--data-dir=" + filepath.Join(c.dir, "etcd-data"),
			"--listen-client-urls=" + etcdClient,
			"--advertise-client-urls=" + etcdClient,
			"--listen-peer-urls=" + etcdPeer,
			"--initial-advertise-peer-urls=" + etcdPeer,
			"--initial-cluster=testcluster=" + etcdPeer,
			// A throwaway cluster: durability is worth nothing, latency is.
			"--unsafe-no-fsync=true",
			"--log-level=warn",
		},
		APIServer: {
			"--etcd-servers=" + etcdClient,
			"--bind-address=127.0.0.1",
			"--advertise-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(c.ports.apiserver),
			"--tls-cert-file=" + c.serving.CertFile,
			"--tls-private-key-file=" + c.serving.KeyFile,
			"--client-ca-file=" + c.pki.caFile(),
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file=" + c.saPub,
			"--service-account-signing-key-file=" + c.saPriv,
			"--service-cluster-ip-range=" + serviceCIDR,
			"--authorization-mode=Node,RBAC",
			"--allow-privileged=true",
			// The endpoint reconciler would publish 127.0.0.1 as the
			// kubernetes Service endpoint, which validation rejects (loopback).
			"--endpoint-reconciler-type=none",
			// pods/log is proxied to the node's kubelet endpoint: kwok's
			// server, at the node's InternalIP 127.0.0.1. With no
			// --kubelet-certificate-authority the apiserver does not verify
			// kwok's certificate, and kwok asks for no client certificate.
			"--kubelet-preferred-address-types=InternalIP",
			"--profiling=false",
			v,
		},
		ControllerManager: {
			"--kubeconfig=" + kubeconfigs[ControllerManager],
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(c.ports.controllerManager),
			"--tls-cert-file=" + c.serving.CertFile,
			"--tls-private-key-file=" + c.serving.KeyFile,
			"--leader-elect=false",
			// job + ttl-after-finished are what taskgate drives; the garbage
			// collector deletes a Job's pods (background propagation) and
			// finishes foreground deletes (ttl-after-finished uses them); the
			// namespace controller empties deleted test namespaces; the
			// service-account controllers create the "default" account pods
			// need. No node-lifecycle controller: kwok sends no heartbeats.
			"--controllers=job-controller,ttl-after-finished-controller,garbage-collector-controller," +
				"namespace-controller,serviceaccount-controller,serviceaccount-token-controller",
			"--use-service-account-credentials=true",
			"--service-account-private-key-file=" + c.saPriv,
			"--root-ca-file=" + c.pki.caFile(),
			v,
		},
		Scheduler: {
			"--kubeconfig=" + kubeconfigs[Scheduler],
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(c.ports.scheduler),
			"--tls-cert-file=" + c.serving.CertFile,
			"--tls-private-key-file=" + c.serving.KeyFile,
			"--leader-elect=false",
			v,
		},
		Kwok: {
			"--kubeconfig=" + kubeconfigs[Kwok],
			"--manage-all-nodes=false",
			"--manage-nodes-with-annotation-selector=" + FakeNodeAnnotation + "=fake",
			// No lease renewals: nothing reads them, and they would add
			// requests to every count a test takes.
			"--node-lease-duration-seconds=0",
			"--cidr=" + podCIDR,
			"--config=" + filepath.Join(c.dir, "kwok-stages.yaml"),
			// kwok's kubelet server, for container logs. The node stage
			// writes --node-ip as each node's InternalIP and --node-port as
			// its kubelet port, so the apiserver reaches this server.
			"--server-address=127.0.0.1:" + strconv.Itoa(c.ports.kwok),
			"--node-ip=127.0.0.1",
			"--node-port=" + strconv.Itoa(c.ports.kwok),
			"--tls-cert-file=" + c.serving.CertFile,
			"--tls-private-key-file=" + c.serving.KeyFile,
		},
	}
	extra := map[string][]string{
		APIServer: c.cfg.APIServerArgs, ControllerManager: c.cfg.ControllerManagerArgs,
		Scheduler: c.cfg.SchedulerArgs, Kwok: c.cfg.KwokArgs,
	}
	for _, name := range components {
		c.procs[name] = &process{
			name:    name,
			path:    filepath.Join(c.bins, name),
			args:    append(args[name], extra[name]...),
			logPath: c.LogPath(name),
			marker:  c.marker,
		}
	}
}

func (c *Cluster) startAndWait(ctx context.Context, name string) error {
	if err := c.procs[name].start(); err != nil {
		return err
	}
	return c.waitReady(ctx, name)
}

// waitReady polls the health endpoint of a component until it answers OK,
// the process exits, or ctx ends.
func (c *Cluster) waitReady(ctx context.Context, name string) error {
	var url string
	hc := &http.Client{Timeout: 2 * time.Second, Transport: c.healthTransport(name == APIServer)}
	switch name {
	case Etcd:
		url = fmt.Sprintf("http://127.0.0.1:%d/health", c.ports.etcdClient)
	case APIServer:
		url = fmt.Sprintf("https://127.0.0.1:%d/readyz", c.ports.apiserver)
	case ControllerManager:
		url = fmt.Sprintf("https://127.0.0.1:%d/healthz", c.ports.controllerManager)
	case Scheduler:
		url = fmt.Sprintf("https://127.0.0.1:%d/healthz", c.ports.scheduler)
	case Kwok:
		url = fmt.Sprintf("https://127.0.0.1:%d/healthz", c.ports.kwok)
	default:
		return fmt.Errorf("no health check for %s", name)
	}
	defer hc.CloseIdleConnections()
	check := func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
		}
		if name == Etcd && !strings.Contains(string(body), `"health":"true"`) {
			return fmt.Errorf("%s: %s", url, body)
		}
		return nil
	}
	return c.poll(ctx, name, "ready", check)
}

// poll runs check until it succeeds; it fails early when the process of the
// named component exits, with the tail of its log in the error.
func (c *Cluster) poll(ctx context.Context, name, what string, check func() error) error {
	p := c.procs[name]
	done, _ := p.exited()
	var last error
	for {
		if last = check(); last == nil {
			return nil
		}
		select {
		case <-done:
			return c.failed(name, fmt.Errorf("%s exited before it was %s (%v)", name, what, p.exitErr()))
		case <-ctx.Done():
			return c.failed(name, fmt.Errorf("%s not %s: %w (last check: %v)", name, what, ctx.Err(), last))
		case <-time.After(pollInterval):
		}
	}
}

func (c *Cluster) failed(name string, err error) error {
	tail := c.procs[name].logTail(25)
	if strings.Contains(tail, "address already in use") {
		err = fmt.Errorf("%w: %w", errPortTaken, err)
	}
	return fmt.Errorf("%w\n--- last lines of %s:\n%s", err, c.LogPath(name), tail)
}

func (c *Cluster) healthTransport(withClientCert bool) *http.Transport {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.pki.caPEM)
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if withClientCert {
		if cert, err := tls.X509KeyPair(c.admin.CertPEM, c.admin.KeyPEM); err == nil {
			tc.Certificates = []tls.Certificate{cert}
		}
	}
	return &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}
}

func (c *Cluster) createNodes(ctx context.Context) error {
	for i := range c.cfg.Nodes {
		name := NodeNamePrefix + strconv.Itoa(i)
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{FakeNodeAnnotation: "fake"},
			Labels: map[string]string{
				"type": "kwok", "kubernetes.io/hostname": name,
				"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
			},
		}}
		if _, err := c.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create node %s: %w", name, err)
		}
	}
	return nil
}

// waitNodesSchedulable waits until kwok reports every node Ready and then
// removes the not-ready taint that admission put on each node at creation.
// The node-lifecycle controller would do that in a real cluster; the rig
// does not run it, because without kubelet heartbeats it would later mark
// the nodes unreachable and evict pods in the middle of a test.
func (c *Cluster) waitNodesSchedulable(ctx context.Context) error {
	for i := range c.cfg.Nodes {
		name := NodeNamePrefix + strconv.Itoa(i)
		err := c.poll(ctx, Kwok, "managing node "+name, func() error {
			n, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if !nodeReady(n) {
				return fmt.Errorf("node %s not Ready yet", name)
			}
			return nil
		})
		if err != nil {
			return err
		}
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			n, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			kept := n.Spec.Taints[:0]
			for _, t := range n.Spec.Taints {
				if t.Key != notReadyTaint {
					kept = append(kept, t)
				}
			}
			if len(kept) == len(n.Spec.Taints) {
				return nil
			}
			n.Spec.Taints = kept
			_, err = c.client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			return fmt.Errorf("remove %s taint from node %s: %w", notReadyTaint, name, err)
		}
	}
	return nil
}

func nodeReady(n *corev1.Node) bool {
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// freePorts reserves n distinct free loopback ports by listening on them all
// at once, then releases them for the processes to bind.
func freePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	out := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

func kubeconfig(server string, caPEM []byte, user string, kp keyPair) []byte {
	b64 := base64.StdEncoding.EncodeToString
	return []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: taskgate-test
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: %s
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: taskgate-test
  context:
    cluster: taskgate-test
    user: %s
current-context: taskgate-test
`, server, b64(caPEM), user, b64(kp.CertPEM), b64(kp.KeyPEM), user))
}

// RESTConfig returns a new copy of the admin (system:masters) client config.
// QPS is 100 and Burst 200, so tests are not throttled by the client.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.restCfg) }

// Client returns a clientset for the admin user, shared by callers.
func (c *Cluster) Client() kubernetes.Interface { return c.client }

// UserRESTConfig returns a client config that authenticates as user with the
// given groups (by a client certificate the cluster's CA signs), for tests of
// RBAC rules such as the ones in configs/.
func (c *Cluster) UserRESTConfig(user string, groups ...string) (*rest.Config, error) {
	if user == "" {
		return nil, errors.New("user config: user name is empty")
	}
	name := "user-" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, user)
	kp, err := c.pki.client(name, user, groups...)
	if err != nil {
		return nil, fmt.Errorf("user config for %s: %w", user, err)
	}
	cfg := rest.CopyConfig(c.restCfg)
	cfg.CertData, cfg.KeyData = kp.CertPEM, kp.KeyPEM
	return cfg, nil
}

// Dir is the folder with the cluster's data, certificates and logs.
func (c *Cluster) Dir() string { return c.dir }

// LogPath is the log file of a component (Etcd, APIServer, ...).
func (c *Cluster) LogPath(component string) string {
	return filepath.Join(c.dir, "logs", component+".log")
}

// KubeconfigPath is the admin kubeconfig the cluster keeps in Dir.
func (c *Cluster) KubeconfigPath() string { return filepath.Join(c.dir, "kubeconfig") }

// WriteKubeconfig writes an admin kubeconfig (certificates embedded) to path.
func (c *Cluster) WriteKubeconfig(path string) error {
	if err := os.WriteFile(path, kubeconfig(c.restCfg.Host, c.pki.caPEM, adminUser, c.admin), 0o600); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return nil
}

// StartupTime is how long Start took.
func (c *Cluster) StartupTime() time.Duration { return c.started }

// ProcessInfo describes one process of the rig.
type ProcessInfo struct {
	Name     string
	PID      int // 0 when not running
	Running  bool
	RSSBytes int64 // resident memory, from /proc
}

// Processes lists the rig's processes in start order, with their memory.
func (c *Cluster) Processes() []ProcessInfo {
	out := make([]ProcessInfo, 0, len(components))
	for _, name := range components {
		p := c.procs[name]
		if p == nil {
			continue
		}
		info := ProcessInfo{Name: name}
		if done, pid := p.exited(); pid != 0 && !isClosed(done) {
			info.PID, info.Running, info.RSSBytes = pid, true, rssBytes(pid)
		}
		out = append(out, info)
	}
	return out
}

// StopAPIServer stops kube-apiserver (SIGTERM, then SIGKILL after 1 s), for
// fault tests; the other processes keep running and retry.
func (c *Cluster) StopAPIServer() { c.stopOne(APIServer) }

// StartAPIServer starts kube-apiserver again on the same port and waits for
// /readyz, so RESTConfig stays valid.
func (c *Cluster) StartAPIServer(ctx context.Context) error { return c.startOne(ctx, APIServer) }

// StopEtcd stops etcd (SIGTERM, then SIGKILL after 1 s); its data is kept.
func (c *Cluster) StopEtcd() { c.stopOne(Etcd) }

// StartEtcd starts etcd again on the same ports and data and waits for its
// /health and, if the apiserver runs, for the apiserver's /readyz.
func (c *Cluster) StartEtcd(ctx context.Context) error { return c.startOne(ctx, Etcd) }

func (c *Cluster) stopOne(name string) {
	c.lifecycle.Lock()
	defer c.lifecycle.Unlock()
	c.procs[name].stop(stopGrace)
}

func (c *Cluster) startOne(ctx context.Context, name string) error {
	c.lifecycle.Lock()
	defer c.lifecycle.Unlock()
	if c.stopped {
		return fmt.Errorf("start %s: cluster is stopped", name)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.StartTimeout)
	defer cancel()
	if err := c.procs[name].start(); err != nil {
		return err
	}
	if err := c.waitReady(ctx, name); err != nil {
		return err
	}
	if name == Etcd && c.procs[APIServer].running() {
		// Callers expect a working API when this returns, not just etcd.
		return c.waitReady(ctx, APIServer)
	}
	return nil
}

// Stop ends every process (SIGTERM, SIGKILL after 1 s) and removes the
// temporary folder unless KeepDir. It returns an error if a process of this
// cluster survived, which should never happen. Calling it again is a no-op.
func (c *Cluster) Stop() error {
	c.lifecycle.Lock()
	defer c.lifecycle.Unlock()
	if c.stopped {
		return nil
	}
	c.stopped = true
	c.stopAll(stopGrace)
	var err error
	if left := ownedProcesses(c.marker); len(left) > 0 {
		err = fmt.Errorf("stop cluster: processes %v survived; killed them", left)
		for _, pid := range left {
			_ = killPID(pid)
		}
	}
	if c.ownsDir && !c.cfg.KeepDir && c.dir != "" {
		if rmErr := os.RemoveAll(c.dir); rmErr != nil && err == nil {
			err = fmt.Errorf("remove cluster dir: %w", rmErr)
		}
	}
	return err
}

// stopAll stops the clients first, etcd last, each group in parallel.
func (c *Cluster) stopAll(grace time.Duration) {
	for _, group := range [][]string{{Kwok, Scheduler, ControllerManager}, {APIServer}, {Etcd}} {
		var wg sync.WaitGroup
		for _, name := range group {
			if p := c.procs[name]; p != nil {
				wg.Add(1)
				go func() { defer wg.Done(); p.stop(grace) }()
			}
		}
		wg.Wait()
	}
}
