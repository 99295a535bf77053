package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/taskgate/taskgate/adapters"
	"github.com/taskgate/taskgate/config"
	"github.com/taskgate/taskgate/dynconfig"
	"github.com/taskgate/taskgate/k8srunner"
	"github.com/taskgate/taskgate/tasklogs"
	"github.com/taskgate/taskgate/telemetry"
)

// propSourcePod names the pod whose spec the overlord adapters copy.
const propSourcePod = "taskgate.k8s.sourcePod"

// newK8sRunner builds the Kubernetes runner and its pod adapter. Pod
// templates are chosen by the live execution config (mgr), so a POST to the
// executionconfig endpoint changes the template of the next task.
// The execution config's capacity (apache/druid#18591) follows the store's
// change feed, so a POST changes the runner's capacity without a restart.
// Edited pod template files are looked at every
// taskgate.k8s.podTemplateReloadPeriod (adapters.WatchTemplates) until the
// returned stop func is called; it also stops following the capacity.
//
// The adapter returned implements adapters.ExecutionConfigChecker (the
// execution config endpoint's check of selected templates), and the
// customTemplateAdapter also adapters.TemplateStatusReporter (served by
// adapters.NewPodTemplateStatusHandler).
func newK8sRunner(ctx context.Context, props *config.Properties, environ []string, kube *lazyKube,
	logs tasklogs.Store, mgr *dynconfig.Manager, store dynconfig.Store, tel *telemetry.Providers, log *slog.Logger) (*k8srunner.Runner, adapters.Adapter, func(), error) {
	rcfg, err := k8srunner.ConfigFromProperties(props)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("kubernetes runner: %w", err)
	}
	acfg, err := adapters.ConfigFromProperties(props)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("kubernetes runner: %w", err)
	}
	// Both read taskgate.k8s.ownerId (or derive it from the same namespaces):
	// the adapter labels Jobs with it and the runner selects them by it.
	if acfg.OwnerID != rcfg.Owner() {
		return nil, nil, nil, fmt.Errorf("kubernetes runner: %s: the adapter's %q and the runner's %q differ", k8srunner.PropOwnerID, acfg.OwnerID, rcfg.Owner())
	}
	kube.qps, kube.burst = rcfg.ClientQPS, rcfg.ClientBurst
	client, _, err := kube.get()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("kubernetes runner: %w", err)
	}
	deps := adapters.Deps{Payloads: logs, Selector: mgr.Selector(), Logger: log.With("component", "adapters"), MeterProvider: tel.MeterProvider}
	if acfg.AdapterType != adapters.TypeCustomTemplate {
		ns := acfg.OverlordNamespace
		if ns == "" {
			ns = acfg.Namespace
		}
		pod, err := sourcePod(ctx, client, ns, props, environ)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("kubernetes runner: %s adapter: %w", acfg.AdapterType, err)
		}
		deps.SourcePod = pod
	}
	adapter, err := adapters.New(acfg, deps)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("kubernetes runner: %w", err)
	}
	capacity := &liveCapacity{store: store}
	if err := capacity.refresh(ctx); err != nil {
		return nil, nil, nil, fmt.Errorf("kubernetes runner: %w", err)
	}
	r, err := k8srunner.New(rcfg, k8srunner.Deps{
		Client:         client,
		Jobs:           adapter,
		Status:         logs,
		Payloads:       logs,
		Capacity:       capacity,
		Logger:         log.With("component", "k8srunner"),
		TracerProvider: tel.TracerProvider,
		MeterProvider:  tel.MeterProvider,
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("kubernetes runner: %w", err)
	}
	unsubscribe := store.Subscribe(func(*dynconfig.ExecutionConfig) {
		if err := capacity.refresh(context.Background()); err != nil {
			log.Warn("reload execution config capacity after a change", "error", err)
			return
		}
		r.CapacityChanged()
	})
	watchCtx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		adapters.WatchTemplates(watchCtx, adapter, acfg.TemplateReloadPeriod)
	}()
	stop := func() {
		unsubscribe()
		stopWatch()
		<-watched
	}
	log.Info("kubernetes runner configured", "namespace", rcfg.Namespace, "overlordNamespace", acfg.OverlordNamespace,
		"ownerId", rcfg.Owner(), "adoptDruidJobs", rcfg.AdoptDruidJobs, "adapter", acfg.AdapterType)
	return r, adapter, stop, nil
}

// liveCapacity is the execution config's capacity as the runner reads it;
// 0 (not set) leaves druid.indexer.runner.capacity in force. It re-reads the
// store on each change instead of keeping the notified config, because
// notifications may arrive out of order (as dynconfig.Manager does).
type liveCapacity struct {
	store dynconfig.Store
	mu    sync.Mutex // orders refreshes
	n     atomic.Int64
}

func (c *liveCapacity) Capacity() int { return int(c.n.Load()) }

func (c *liveCapacity) refresh(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	ec, err := c.store.Get(ctx)
	if err != nil {
		return fmt.Errorf("read execution config capacity: %w", err)
	}
	var n int64
	if ec != nil && ec.Capacity != nil {
		n = int64(*ec.Capacity)
	}
	c.n.Store(n)
	return nil
}

// sourcePod reads the pod the overlord adapters copy: taskgate.k8s.sourcePod
// if set, else the gateway's own pod (POD_NAME, then HOSTNAME), as Druid's
// adapters read the Overlord's own pod.
func sourcePod(ctx context.Context, client kubernetes.Interface, namespace string, props *config.Properties, environ []string) (*corev1.Pod, error) {
	name, _ := props.Get(propSourcePod)
	from := propSourcePod
	for _, env := range []string{"POD_NAME", "HOSTNAME"} {
		if name != "" {
			break
		}
		name, from = lookupEnv(environ, env), env
	}
	if name == "" {
		return nil, fmt.Errorf("no source pod: set %s, or run the gateway in a pod (POD_NAME or HOSTNAME)", propSourcePod)
	}
	pod, err := client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("read source pod %s/%s (from %s): %w", namespace, name, from, err)
	}
	return pod, nil
}

func lookupEnv(environ []string, key string) string {
	for _, kv := range environ {
		if len(kv) > len(key) && kv[len(key)] == '=' && kv[:len(key)] == key {
			return kv[len(key)+1:]
		}
	}
	return ""
}
