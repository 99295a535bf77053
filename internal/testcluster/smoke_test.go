package testcluster_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/taskgate/taskgate/internal/testcluster"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		runOwnerHelper()
		return
	}
	testcluster.Main(m)
}

const waitTimeout = 30 * time.Second

// eventually polls cond until it returns true, failing the test with the
// last error or description after waitTimeout.
func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	var last error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s (last error: %v)", waitTimeout, what, last)
}

func newJob(name string, b testcluster.Behavior, mutate ...func(*batchv1.Job)) *batchv1.Job {
	backoff := int32(0)
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.JobSpec{
			BackoffLimit: &backoff,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Annotations: b.Annotations()},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "main", Image: "example.invalid/peon:1"}},
				},
			},
		},
	}
	for _, f := range mutate {
		f(j)
	}
	return j
}

func jobCondition(j *batchv1.Job, typ batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == typ && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func waitJobCondition(t *testing.T, cs kubernetes.Interface, ns, name string, typ batchv1.JobConditionType) *batchv1.Job {
	t.Helper()
	var job *batchv1.Job
	eventually(t, fmt.Sprintf("job %s/%s condition %s", ns, name, typ), func() (bool, error) {
		j, err := cs.BatchV1().Jobs(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		job = j
		return jobCondition(j, typ), fmt.Errorf("conditions %+v", j.Status.Conditions)
	})
	return job
}

func jobPods(t *testing.T, cs kubernetes.Interface, ns, job string) []corev1.Pod {
	t.Helper()
	pods, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "job-name=" + job})
	require.NoError(t, err)
	return pods.Items
}

func waitPodPhase(t *testing.T, cs kubernetes.Interface, ns, job string, phase corev1.PodPhase) corev1.Pod {
	t.Helper()
	var pod corev1.Pod
	eventually(t, fmt.Sprintf("a pod of job %s in phase %s", job, phase), func() (bool, error) {
		for _, p := range jobPods(t, cs, ns, job) {
			if p.Status.Phase == phase {
				pod = p
				return true, nil
			}
		}
		return false, nil
	})
	return pod
}

func TestJobPodSucceedsAndJobCompletes(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	cs := c.Client()
	ctx := context.Background()

	_, err := cs.BatchV1().Jobs(ns).Create(ctx, newJob("ok", testcluster.Behavior{}), metav1.CreateOptions{})
	require.NoError(t, err)

	job := waitJobCondition(t, cs, ns, "ok", batchv1.JobComplete)
	assert.Equal(t, int32(1), job.Status.Succeeded)
	pods := jobPods(t, cs, ns, "ok")
	require.Len(t, pods, 1)
	pod := pods[0]
	assert.Equal(t, corev1.PodSucceeded, pod.Status.Phase)
	assert.True(t, strings.HasPrefix(pod.Spec.NodeName, testcluster.NodeNamePrefix), "scheduled to a kwok node, got %q", pod.Spec.NodeName)
	require.Len(t, pod.Status.ContainerStatuses, 1)
	require.NotNil(t, pod.Status.ContainerStatuses[0].State.Terminated)
	assert.Equal(t, int32(0), pod.Status.ContainerStatuses[0].State.Terminated.ExitCode)
	assert.NotEmpty(t, pod.Status.PodIP)
}

func TestJobPodToldToFailFailsJob(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	cs := c.Client()
	b := testcluster.Behavior{Result: testcluster.ResultFailed, ExitCode: 137, Reason: "OOMKilled", Message: "out of memory"}
	require.NoError(t, b.Validate())

	_, err := cs.BatchV1().Jobs(ns).Create(context.Background(), newJob("boom", b), metav1.CreateOptions{})
	require.NoError(t, err)

	waitJobCondition(t, cs, ns, "boom", batchv1.JobFailed)
	pods := jobPods(t, cs, ns, "boom")
	require.Len(t, pods, 1, "backoffLimit 0: one pod, no retry")
	pod := pods[0]
	assert.Equal(t, corev1.PodFailed, pod.Status.Phase)
	require.Len(t, pod.Status.ContainerStatuses, 1)
	term := pod.Status.ContainerStatuses[0].State.Terminated
	require.NotNil(t, term)
	assert.Equal(t, int32(137), term.ExitCode)
	assert.Equal(t, "OOMKilled", term.Reason)
	assert.Equal(t, "out of memory", term.Message)
}

func TestTTLAfterFinishedDeletesJobAndPods(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	cs := c.Client()
	ctx := context.Background()
	ttl := int32(0)
	_, err := cs.BatchV1().Jobs(ns).Create(ctx, newJob("short-lived", testcluster.Behavior{}, func(j *batchv1.Job) {
		j.Spec.TTLSecondsAfterFinished = &ttl
	}), metav1.CreateOptions{})
	require.NoError(t, err)

	// The Job must really finish first (not be deleted at once for another
	// reason): its pod reaches Succeeded.
	waitPodPhase(t, cs, ns, "short-lived", corev1.PodSucceeded)
	eventually(t, "job deleted by the ttl-after-finished controller", func() (bool, error) {
		_, err := cs.BatchV1().Jobs(ns).Get(ctx, "short-lived", metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
	eventually(t, "job pods deleted by the garbage collector", func() (bool, error) {
		n := len(jobPods(t, cs, ns, "short-lived"))
		return n == 0, fmt.Errorf("%d pods left", n)
	})
}

func TestStayRunningUntilReleased(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	cs := c.Client()
	ctx := context.Background()
	_, err := cs.BatchV1().Jobs(ns).Create(ctx, newJob("held", testcluster.Behavior{Stay: testcluster.StayRunning}), metav1.CreateOptions{})
	require.NoError(t, err)

	pod := waitPodPhase(t, cs, ns, "held", corev1.PodRunning)
	time.Sleep(time.Second)
	got, err := cs.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, corev1.PodRunning, got.Status.Phase, "held pod must keep running")

	// Releasing the live pod lets it finish like any Job pod.
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:null}}}`, testcluster.AnnotationStay)
	_, err = cs.CoreV1().Pods(ns).Patch(ctx, pod.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	require.NoError(t, err)
	waitJobCondition(t, cs, ns, "held", batchv1.JobComplete)
}

// TestPodLogThroughAPIServer reads a running pod's log the way client-go
// does: the apiserver proxies pods/log to kwok's kubelet server at the
// node's InternalIP and kubelet port, and kwok serves the rig's pod log.
func TestPodLogThroughAPIServer(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	cs := c.Client()
	ctx := context.Background()
	_, err := cs.BatchV1().Jobs(ns).Create(ctx, newJob("logs", testcluster.Behavior{Stay: testcluster.StayRunning}), metav1.CreateOptions{})
	require.NoError(t, err)
	pod := waitPodPhase(t, cs, ns, "logs", corev1.PodRunning)

	node, err := cs.CoreV1().Nodes().Get(ctx, pod.Spec.NodeName, metav1.GetOptions{})
	require.NoError(t, err)
	assert.NotZero(t, node.Status.DaemonEndpoints.KubeletEndpoint.Port, "kwok writes its server port as the kubelet port")

	const content = "first line\n\nthird line with  spaces\nno newline at the end"
	require.NoError(t, c.SetPodLog(content))
	rc, err := cs.CoreV1().Pods(ns).GetLogs(pod.Name, &corev1.PodLogOptions{Container: "main"}).Stream(ctx)
	require.NoError(t, err)
	got, err := io.ReadAll(rc)
	rc.Close()
	require.NoError(t, err)
	assert.Equal(t, content, string(got), "the log is served byte for byte")

	// A followed log stays open and delivers what is appended later.
	require.NoError(t, c.SetPodLog("before\n"))
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rc, err = cs.CoreV1().Pods(ns).GetLogs(pod.Name, &corev1.PodLogOptions{Container: "main", Follow: true}).Stream(fctx)
	require.NoError(t, err)
	defer rc.Close()
	br := bufio.NewReader(rc)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "before\n", line)
	require.NoError(t, c.AppendPodLog("after\n"))
	lines := make(chan string, 1)
	go func() {
		l, _ := br.ReadString('\n')
		lines <- l
	}()
	select {
	case l := <-lines:
		assert.Equal(t, "after\n", l)
	case <-time.After(waitTimeout):
		t.Fatal("appended log line not delivered to the follower")
	}
	// Cancelling the request ends the stream.
	cancel()
	go func() {
		_, err := io.Copy(io.Discard, br)
		lines <- fmt.Sprint(err)
	}()
	select {
	case <-lines:
	case <-time.After(waitTimeout):
		t.Fatal("followed log stream did not end after its context was cancelled")
	}
}

func TestStartDelayAndRunDuration(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	cs := c.Client()
	const (
		startDelay = time.Second
		run        = time.Second
		slack      = 100 * time.Millisecond // phases are observed by polling
	)
	b := testcluster.Behavior{StartDelay: startDelay, RunDuration: run, RunDurationMax: run + 500*time.Millisecond}
	_, err := cs.BatchV1().Jobs(ns).Create(context.Background(), newJob("slow", b), metav1.CreateOptions{})
	require.NoError(t, err)

	eventually(t, "pod bound to a node", func() (bool, error) {
		pods := jobPods(t, cs, ns, "slow")
		return len(pods) == 1 && pods[0].Spec.NodeName != "", nil
	})
	bound := time.Now()
	waitPodPhase(t, cs, ns, "slow", corev1.PodRunning)
	running := time.Now()
	waitPodPhase(t, cs, ns, "slow", corev1.PodSucceeded)
	assert.GreaterOrEqual(t, running.Sub(bound), startDelay-slack, "started before its start delay")
	assert.GreaterOrEqual(t, time.Since(running), run-slack, "finished before its run duration")
	waitJobCondition(t, cs, ns, "slow", batchv1.JobComplete)
}

func TestStayPendingAndUnschedulable(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	cs := c.Client()
	ctx := context.Background()
	_, err := cs.BatchV1().Jobs(ns).Create(ctx, newJob("pending", testcluster.Behavior{Stay: testcluster.StayPending}), metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = cs.BatchV1().Jobs(ns).Create(ctx, newJob("nowhere", testcluster.Behavior{}, func(j *batchv1.Job) {
		j.Spec.Template.Spec.NodeSelector = testcluster.UnschedulableNodeSelector
	}), metav1.CreateOptions{})
	require.NoError(t, err)

	eventually(t, "pending pod bound to a node", func() (bool, error) {
		pods := jobPods(t, cs, ns, "pending")
		return len(pods) == 1 && pods[0].Spec.NodeName != "", nil
	})
	eventually(t, "nowhere pod marked unschedulable", func() (bool, error) {
		for _, p := range jobPods(t, cs, ns, "nowhere") {
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Reason == corev1.PodReasonUnschedulable {
					return true, nil
				}
			}
		}
		return false, nil
	})
	time.Sleep(time.Second)
	for _, job := range []string{"pending", "nowhere"} {
		pods := jobPods(t, cs, ns, job)
		require.Len(t, pods, 1)
		assert.Equal(t, corev1.PodPending, pods[0].Status.Phase, "job %s", job)
	}
}

func TestWaitingReasonHoldsPodWithContainerWaiting(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	cs := c.Client()
	ctx := context.Background()
	_, err := cs.BatchV1().Jobs(ns).Create(ctx, newJob("nopull", testcluster.Behavior{WaitingReason: "ErrImagePull"}), metav1.CreateOptions{})
	require.NoError(t, err)
	eventually(t, "container waiting with ErrImagePull", func() (bool, error) {
		pods := jobPods(t, cs, ns, "nopull")
		if len(pods) != 1 || len(pods[0].Status.ContainerStatuses) == 0 {
			return false, nil
		}
		w := pods[0].Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == "ErrImagePull", nil
	})
	time.Sleep(time.Second)
	pods := jobPods(t, cs, ns, "nopull")
	require.Len(t, pods, 1)
	assert.Equal(t, corev1.PodPending, pods[0].Status.Phase)
	assert.Empty(t, pods[0].Status.PodIP, "the pod never runs")
}

func TestDeletingJobRemovesItsPods(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	cs := c.Client()
	ctx := context.Background()
	_, err := cs.BatchV1().Jobs(ns).Create(ctx, newJob("doomed", testcluster.Behavior{Stay: testcluster.StayRunning}), metav1.CreateOptions{})
	require.NoError(t, err)
	waitPodPhase(t, cs, ns, "doomed", corev1.PodRunning)

	bg := metav1.DeletePropagationBackground
	require.NoError(t, cs.BatchV1().Jobs(ns).Delete(ctx, "doomed", metav1.DeleteOptions{PropagationPolicy: &bg}))
	eventually(t, "pods of the deleted job gone", func() (bool, error) {
		n := len(jobPods(t, cs, ns, "doomed"))
		return n == 0, fmt.Errorf("%d pods left", n)
	})
}

func TestRequestCountsSeeOwnCreates(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	cs := c.Client()
	ctx := context.Background()

	before, err := c.RequestCounts(ctx)
	require.NoError(t, err)
	for i := range 3 {
		_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm-" + strconv.Itoa(i)}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	after, err := c.RequestCounts(ctx)
	require.NoError(t, err)
	delta := after.Sub(before)
	// Nothing else in the rig creates ConfigMaps, so the delta is exact.
	assert.Equal(t, 3.0, delta.Count("create", "configmaps"), "delta:\n%s", delta)
	assert.Equal(t, 3.0, delta.Count("CREATE", "configmaps."), "core group written with a trailing dot")
	assert.Zero(t, delta.Count("create", "configmaps.apps"), "wrong group must not match")
}

func TestUserRESTConfigIsSubjectToRBAC(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	cfg, err := c.UserRESTConfig("alice", "developers")
	require.NoError(t, err)
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	_, err = cs.BatchV1().Jobs(ns).List(context.Background(), metav1.ListOptions{})
	require.Error(t, err)
	assert.True(t, apierrors.IsForbidden(err), "want Forbidden for a user without bindings, got %v", err)
	assert.Contains(t, err.Error(), `User "alice"`)
}

// Kept last among the cluster tests in this file (tests run in source
// order): it restarts shared components.
func TestAPIServerAndEtcdRestart(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	cs := c.Client()
	ctx := context.Background()

	c.StopAPIServer()
	_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	require.Error(t, err, "apiserver is stopped")
	require.NoError(t, c.StartAPIServer(ctx))

	c.StopEtcd()
	require.NoError(t, c.StartEtcd(ctx))

	// Everything still works end to end: the controllers, scheduler and kwok
	// reconnected by themselves.
	_, err = cs.BatchV1().Jobs(ns).Create(ctx, newJob("after-restart", testcluster.Behavior{}), metav1.CreateOptions{})
	require.NoError(t, err)
	waitJobCondition(t, cs, ns, "after-restart", batchv1.JobComplete)
	for _, p := range c.Processes() {
		assert.True(t, p.Running, "%s running", p.Name)
	}
}

const helperEnv = "TASKGATE_TESTCLUSTER_OWNER_HELPER"

// runOwnerHelper is the child of TestKilledOwnerLeavesNoProcess: it starts a
// cluster, prints its pids and waits to be killed.
func runOwnerHelper() {
	c, err := testcluster.Start(context.Background(), testcluster.Config{})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	var pids []string
	for _, p := range c.Processes() {
		pids = append(pids, strconv.Itoa(p.PID))
	}
	fmt.Println("PIDS", strings.Join(pids, " "), "DIR", c.Dir())
	time.Sleep(time.Minute)
	os.Exit(3) // not reached when the test works: the parent kills us first
}

func TestKilledOwnerLeavesNoProcess(t *testing.T) {
	testcluster.SkipIfShort(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "helper output")
	fields := strings.Fields(line)
	require.True(t, len(fields) >= 7 && fields[0] == "PIDS", "helper said %q", line)
	dir := fields[len(fields)-1]
	t.Cleanup(func() { os.RemoveAll(dir) }) // the killed owner could not remove it
	var pids []int
	for _, f := range fields[1:6] {
		pid, err := strconv.Atoi(f)
		require.NoError(t, err)
		pids = append(pids, pid)
	}

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL)) // no cleanup code runs in the owner
	_ = cmd.Wait()
	eventually(t, "every control-plane process of the killed owner to die", func() (bool, error) {
		var alive []int
		for _, pid := range pids {
			if syscall.Kill(pid, 0) == nil && !isZombie(pid) {
				alive = append(alive, pid)
			}
		}
		return len(alive) == 0, fmt.Errorf("still alive: %v", alive)
	})
}

// isZombie reports a process that has exited but not been reaped yet (its
// parent, the killed helper, is gone; init reaps it shortly).
func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}
