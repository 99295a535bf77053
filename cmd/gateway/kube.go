package main

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// kubeConfig finds the Kubernetes API: the --kubeconfig file when given, the
// in-cluster service account when running in a pod, else the usual kubectl
// rules ($KUBECONFIG, a list of files, then ~/.kube/config).
func kubeConfig(path, kubeconfigEnv string) (*rest.Config, error) {
	if path != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
		}
		return cfg, nil
	}
	if os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster Kubernetes config: %w", err)
		}
		return cfg, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfigEnv != "" {
		rules.Precedence = filepath.SplitList(kubeconfigEnv)
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("no Kubernetes API found (give --kubeconfig, set KUBECONFIG, or run in a pod): %w", err)
	}
	return cfg, nil
}

// lazyKube creates the Kubernetes client on first use, so a gateway that
// needs no Kubernetes (all tasks on Middle Managers, file stores) starts
// without one.
type lazyKube struct {
	path   string
	env    string // $KUBECONFIG of the gateway's environment
	qps    float32
	burst  int
	client kubernetes.Interface
	cfg    *rest.Config
}

func (l *lazyKube) get() (kubernetes.Interface, *rest.Config, error) {
	if l.client != nil {
		return l.client, l.cfg, nil
	}
	cfg, err := kubeConfig(l.path, l.env)
	if err != nil {
		return nil, nil, err
	}
	if l.qps > 0 {
		cfg.QPS = l.qps
	}
	if l.burst > 0 {
		cfg.Burst = l.burst
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("kubernetes client: %w", err)
	}
	l.client, l.cfg = cs, cfg
	return cs, cfg, nil
}
