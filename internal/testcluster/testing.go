package testcluster

import (
	"context"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// shared is the one cluster of a test package (see Main and Shared).
var shared struct {
	mu         sync.Mutex
	mainCalled bool
	cfg        Config
	started    bool
	cluster    *Cluster
	err        error
}

// Main is the body of a package's TestMain: it runs the tests and stops the
// package's shared cluster afterwards. The cluster starts lazily, on the
// first Shared call, so `go test -run` of unit tests alone, and -short runs,
// start nothing. When a test failed the cluster's logs are kept and their
// folder is printed.
func Main(m *testing.M) { MainWithConfig(m, Config{}) }

// MainWithConfig is Main with a Config for the shared cluster.
func MainWithConfig(m *testing.M, cfg Config) {
	if !flag.Parsed() {
		flag.Parse()
	}
	shared.mu.Lock()
	shared.mainCalled, shared.cfg = true, cfg
	shared.mu.Unlock()

	code := m.Run()

	shared.mu.Lock()
	c := shared.cluster
	shared.mu.Unlock()
	if c != nil {
		if code != 0 && c.ownsDir {
			c.cfg.KeepDir = true
			fmt.Fprintf(os.Stderr, "testcluster: tests failed; control-plane logs kept in %s/logs\n", c.Dir())
		}
		if err := c.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testcluster: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

// Shared returns the package's cluster, starting it on first use. It skips
// the test under -short and fails it (every test that asks, with the same
// message) when the cluster cannot start, e.g. when the binaries are not
// built. The package's TestMain must call Main.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	SkipIfShort(t)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.mainCalled {
		t.Fatal("testcluster.Shared: the package's TestMain must call testcluster.Main(m)")
	}
	if !shared.started {
		shared.started = true
		shared.cluster, shared.err = Start(context.Background(), shared.cfg)
	}
	if shared.err != nil {
		t.Fatalf("test control plane: %v", shared.err)
	}
	return shared.cluster
}

// SkipIfShort skips an integration test under `go test -short`.
func SkipIfShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs the local control plane; skipped with -short")
	}
}

var nonDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// NewNamespace creates a namespace for the test, named after it, waits until
// its "default" ServiceAccount exists (pods cannot be created before), and
// deletes it when the test ends (the namespace controller then deletes its
// content in the background). It fails the test on error.
func (c *Cluster) NewNamespace(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	prefix := strings.Trim(nonDNS.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(prefix) > 40 {
		prefix = strings.Trim(prefix[:40], "-")
	}
	if prefix == "" {
		prefix = "test"
	}
	ns, err := c.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: prefix + "-",
		Labels:       map[string]string{"taskgate.test/namespace": "true"},
		Annotations:  map[string]string{"taskgate.test/test": t.Name()},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create test namespace: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.client.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}); err != nil && !c.stoppedNow() {
			t.Logf("delete test namespace %s: %v", ns.Name, err)
		}
	})
	for {
		_, err := c.client.CoreV1().ServiceAccounts(ns.Name).Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			return ns.Name
		}
		select {
		case <-ctx.Done():
			t.Fatalf("namespace %s: default ServiceAccount did not appear: %v", ns.Name, err)
		case <-time.After(pollInterval):
		}
	}
}

func (c *Cluster) stoppedNow() bool {
	c.lifecycle.Lock()
	defer c.lifecycle.Unlock()
	return c.stopped
}
