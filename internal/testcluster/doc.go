// Package testcluster runs a real Kubernetes control plane on loopback for
// integration tests and local runs: etcd, kube-apiserver, kube-controller-manager
// (job, ttl-after-finished, garbage collector, namespace and service-account
// controllers), kube-scheduler and kwok, which plays the kubelet for fake nodes
// so that pods created by Jobs run, succeed or fail as the test tells them to.
//
// The binaries are built once, at pinned versions, by `make cluster-bins`
// (hack/cluster-bins.sh) into $TASKGATE_CACHE/cluster/<version key>/. Nothing is
// mocked: a Job created through client-go is completed by the real job
// controller.
//
// Typical use, one cluster per test package and a fresh namespace per test:
//
//	func TestMain(m *testing.M) { testcluster.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		c := testcluster.Shared(t) // skips under -short
//		ns := c.NewNamespace(t)
//		client := kubernetes.NewForConfigOrDie(c.RESTConfig())
//		...
//	}
//
// Pods are steered with annotations (see Behavior): by default a pod owned by
// a Job becomes Running and then Succeeded at once.
//
// Pod logs work through the apiserver (GET pods/{name}/log, follow included):
// kwok also runs a kubelet server on loopback, which the nodes advertise as
// their kubelet endpoint, and serves one log for every container of every
// pod. Tests set it with SetPodLog and AppendPodLog; the package's tests
// share it, so a test sets it before reading it.
//
// Every process runs in its own process group, gets SIGKILL when the process
// that started it dies (Pdeathsig), and carries a marker in its environment so
// that Start can sweep processes left over by a test binary killed with
// SIGKILL before it could clean up.
package testcluster
