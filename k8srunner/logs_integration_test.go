package k8srunner

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/taskgate/taskgate/internal/testcluster"
	"github.com/taskgate/taskgate/task"
)

// readN reads exactly n bytes of a followed log, failing the test if they do
// not arrive in time (a followed stream never ends on its own while the task
// runs, so io.ReadAll would hang).
func readN(t *testing.T, rc io.Reader, n int) string {
	t.Helper()
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b := make([]byte, n)
		_, err := io.ReadFull(rc, b)
		ch <- result{b, err}
	}()
	select {
	case res := <-ch:
		require.NoError(t, res.err)
		return string(res.b)
	case <-time.After(20 * time.Second):
		t.Fatalf("%d bytes of the pod log did not arrive", n)
		return ""
	}
}

// TestStreamLogOfRunningTaskThroughAPIServer covers the running-task log path
// end to end: the runner asks the apiserver for the peon's "main" container
// log, the apiserver proxies to the node's kubelet (kwok), which serves the
// rig's pod log.
func TestStreamLogOfRunningTaskThroughAPIServer(t *testing.T) {
	e := newEnv(t, nil)
	r := e.start(e.config(nil))
	tk := newTask(t, "index_kafka_wiki_live_log", "index_kafka", 0)
	e.builder.set(tk.ID, testcluster.Behavior{Stay: testcluster.StayRunning})
	e.writeStatus(task.Success(tk.ID, 1))

	const content = "2024-01-01T00:00:00,000 INFO [main] peon starting\n" +
		"2024-01-01T00:00:01,000 INFO [main] reading from kafka\n" +
		"2024-01-01T00:00:02,000 INFO [main] persisted 100 rows\n"
	require.NoError(t, e.c.SetPodLog(content))
	require.NoError(t, r.Run(context.Background(), tk))
	w := waitState(t, r, tk.ID, task.RunnerStateRunning, 20*time.Second)
	require.NotEmpty(t, w.Location.K8sPodName)

	stream := func(t *testing.T, offset int64) io.ReadCloser {
		t.Helper()
		rc, ok, err := r.StreamLog(context.Background(), tk.ID, offset)
		require.NoError(t, err, "offset %d", offset)
		require.True(t, ok, "offset %d", offset)
		return rc
	}

	// Negative offsets: the last bytes of the log as it is now; the stream
	// ends by itself.
	for _, n := range []int{1, 20, len(content), len(content) + 100} {
		t.Run(fmt.Sprintf("last %d bytes", n), func(t *testing.T) {
			rc := stream(t, -int64(n))
			defer rc.Close()
			b, err := io.ReadAll(rc)
			require.NoError(t, err)
			assert.Equal(t, content[len(content)-min(n, len(content)):], string(b))
		})
	}

	// A positive offset skips that many bytes of a followed log.
	skip := strings.Index(content, "\n") + 1
	rc := stream(t, int64(skip))
	assert.Equal(t, content[skip:], readN(t, rc, len(content)-skip))
	rc.Close()

	// Offset 0 follows the log from its start, including what the peon
	// writes later, and stays open while the task runs.
	follower := stream(t, 0)
	defer follower.Close()
	assert.Equal(t, content, readN(t, follower, len(content)))
	const more = "2024-01-01T00:00:03,000 INFO [main] handoff complete\n"
	require.NoError(t, e.c.AppendPodLog(more))
	assert.Equal(t, more, readN(t, follower, len(more)))

	// Release the pod: it succeeds, the runner finishes the task, and the
	// followed stream ends instead of waiting for more log.
	ended := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, follower)
		ended <- err
	}()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:null}}}`, testcluster.AnnotationStay)
	_, err := e.cs.CoreV1().Pods(e.ns).Patch(context.Background(), w.Location.K8sPodName, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	require.NoError(t, err)
	st := waitDone(t, r, tk.ID, 20*time.Second)
	assert.Equal(t, task.StateSuccess, st.Status)
	select {
	case <-ended:
	case <-time.After(logDrainGrace + 5*time.Second):
		t.Fatal("followed pod log still open after the task finished")
	}

	// Finished: the log comes from the task log store, not the pod.
	const pushed = "the peon's pushed log\nlast line\n"
	require.NoError(t, e.logs.PushTaskLog(context.Background(), tk.ID, strings.NewReader(pushed)))
	for _, tc := range []struct {
		offset int64
		want   string
	}{
		{0, pushed},
		{4, pushed[4:]},
		{-10, pushed[len(pushed)-10:]},
	} {
		rc := stream(t, tc.offset)
		b, err := io.ReadAll(rc)
		rc.Close()
		require.NoError(t, err)
		assert.Equal(t, tc.want, string(b), "offset %d after completion", tc.offset)
	}
}
