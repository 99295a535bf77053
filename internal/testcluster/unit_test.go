package testcluster

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

func TestBehaviorValidate(t *testing.T) {
	tests := []struct {
		name    string
		b       Behavior
		wantErr string
	}{
		{name: "zero is the default", b: Behavior{}},
		{name: "failed with details", b: Behavior{Result: ResultFailed, ExitCode: 137, Reason: "OOMKilled", Message: "oom"}},
		{name: "held running", b: Behavior{Stay: StayRunning, RunDuration: time.Second}},
		{name: "jittered run", b: Behavior{RunDuration: time.Second, RunDurationMax: 2 * time.Second}},
		{name: "unknown result", b: Behavior{Result: "crashed"}, wantErr: "Result"},
		{name: "unknown stay", b: Behavior{Stay: "sleeping"}, wantErr: "Stay"},
		{name: "negative start delay", b: Behavior{StartDelay: -time.Second}, wantErr: "StartDelay"},
		{name: "max not above run", b: Behavior{RunDuration: 2 * time.Second, RunDurationMax: time.Second}, wantErr: "RunDurationMax"},
		{name: "exit code without failure", b: Behavior{ExitCode: 2}, wantErr: "need Result"},
		{name: "exit code out of range", b: Behavior{Result: ResultFailed, ExitCode: 300}, wantErr: "ExitCode"},
		{name: "waiting for an image", b: Behavior{WaitingReason: "ErrImagePull"}},
		{name: "waiting and held", b: Behavior{WaitingReason: "ErrImagePull", Stay: StayPending}, wantErr: "WaitingReason"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.b.Validate()
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestBehaviorAnnotations(t *testing.T) {
	assert.Nil(t, Behavior{}.Annotations(), "default behaviour needs no annotation")
	got := Behavior{
		Result: ResultFailed, Stay: StayRunning, StartDelay: 250 * time.Millisecond,
		RunDuration: 2 * time.Second, RunDurationMax: 3 * time.Second,
		ExitCode: 3, Reason: "OOMKilled", Message: "boom",
	}.Annotations()
	assert.Equal(t, map[string]string{
		AnnotationResult: "failed", AnnotationStay: "running", AnnotationStartDelay: "250ms",
		AnnotationRunDuration: "2s", AnnotationRunDurationMax: "3s",
		AnnotationExitCode: "3", AnnotationReason: "OOMKilled", AnnotationMessage: "boom",
	}, got)

	merged := Behavior{Result: ResultSucceeded}.Apply(map[string]string{"keep": "me"})
	assert.Equal(t, map[string]string{"keep": "me", AnnotationResult: "succeeded"}, merged)
	assert.Nil(t, Behavior{}.Apply(nil))
	for _, d := range []string{got[AnnotationStartDelay], got[AnnotationRunDuration]} {
		_, err := time.ParseDuration(d)
		assert.NoError(t, err, "kwok parses durations with time.ParseDuration")
	}
}

// Every annotation the Go API writes must be read by a stage, or a test
// would set it in vain.
func TestStagesReadEveryAnnotation(t *testing.T) {
	for _, a := range []string{AnnotationResult, AnnotationStay, AnnotationStartDelay, AnnotationRunDuration,
		AnnotationRunDurationMax, AnnotationExitCode, AnnotationReason, AnnotationMessage, AnnotationWaitingReason} {
		assert.Contains(t, podStages, `"`+a+`"`, "stages/pod.yaml does not read %s", a)
	}
	for _, v := range []Result{ResultSucceeded, ResultFailed} {
		assert.Contains(t, podStages, "'"+string(v)+"'")
	}
	for _, v := range []Stay{StayPending, StayRunning} {
		assert.Contains(t, podStages, "'"+string(v)+"'")
	}
}

func TestStagesAreWellFormed(t *testing.T) {
	want := map[string]string{
		"node-initialize": "Node", "pod-ready": "Pod", "pod-complete": "Pod", "pod-fail": "Pod",
		"pod-terminate": "Pod", "pod-delete": "Pod", "pod-waiting": "Pod",
	}
	got := map[string]string{}
	for _, doc := range strings.Split(nodeStages+"\n---\n"+podStages, "\n---\n") {
		var s struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct{ Name string }
			Spec       struct {
				ResourceRef struct{ Kind string } `json:"resourceRef"`
				Next        struct {
					StatusTemplate string `json:"statusTemplate"`
					Delete         bool
				}
			}
		}
		require.NoError(t, yaml.Unmarshal([]byte(doc), &s))
		assert.Equal(t, "kwok.x-k8s.io/v1alpha1", s.APIVersion)
		assert.Equal(t, "Stage", s.Kind)
		assert.True(t, s.Spec.Next.Delete || s.Spec.Next.StatusTemplate != "", "stage %s does nothing", s.Metadata.Name)
		got[s.Metadata.Name] = s.Spec.ResourceRef.Kind
	}
	assert.Equal(t, want, got)
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "zero", cfg: Config{}},
		{name: "many nodes", cfg: Config{Nodes: 50, Verbosity: 4, APIServerArgs: []string{"--max-requests-inflight=10"}}},
		{name: "negative nodes", cfg: Config{Nodes: -1}, wantErr: "Nodes"},
		{name: "too many nodes", cfg: Config{Nodes: 51}, wantErr: "Nodes"},
		{name: "negative timeout", cfg: Config{StartTimeout: -time.Second}, wantErr: "StartTimeout"},
		{name: "verbosity", cfg: Config{Verbosity: 11}, wantErr: "Verbosity"},
		{name: "arg without dashes", cfg: Config{KwokArgs: []string{"v=3"}}, wantErr: "KwokArgs[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

const sampleMetrics = `# HELP apiserver_request_total [STABLE] Counter of apiserver requests.
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="configmaps",scope="resource",subresource="",verb="POST",version="v1"} 4
apiserver_request_total{code="409",component="apiserver",dry_run="",group="",resource="configmaps",scope="resource",subresource="",verb="POST",version="v1"} 1
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="configmaps",scope="resource",subresource="",verb="GET",version="v1"} 2
apiserver_request_total{code="200",component="apiserver",dry_run="",group="batch",resource="jobs",scope="namespace",subresource="",verb="LIST",version="v1"} 7
apiserver_request_total{code="200",component="apiserver",dry_run="",group="batch",resource="jobs",scope="resource",subresource="status",verb="PUT",version="v1"} 3
# HELP etcd_requests_total other
# TYPE etcd_requests_total counter
etcd_requests_total{operation="get"} 99
`

func TestParseRequestCounts(t *testing.T) {
	rc, err := parseRequestCounts([]byte(sampleMetrics))
	require.NoError(t, err)
	assert.Equal(t, 5.0, rc.Count("create", "configmaps"), "codes are summed; create is POST")
	assert.Equal(t, 5.0, rc.Count("POST", "configmaps"))
	assert.Equal(t, 2.0, rc.Count("get", "configmaps"))
	assert.Equal(t, 7.0, rc.Count("LIST", "jobs.batch"))
	assert.Equal(t, 7.0, rc.Count("list", "jobs"))
	assert.Equal(t, 0.0, rc.Count("list", "jobs.apps"))
	assert.Equal(t, 3.0, rc.Count("update", "jobs/status"), "update is PUT")
	assert.Equal(t, 0.0, rc.Count("update", "jobs"), "subresource is not the object")
	assert.Equal(t, 17.0, rc.Count("", "configmaps")+rc.Count("", "jobs")+rc.Count("", "jobs/status"), "empty verb matches any")

	later := RequestCounts{}
	for k, v := range rc {
		later[k] = v
	}
	later[RequestKey{Verb: "LIST", Group: "batch", Resource: "jobs"}] += 2
	delta := later.Sub(rc)
	assert.Equal(t, RequestCounts{{Verb: "LIST", Group: "batch", Resource: "jobs"}: 2}, delta)
	assert.Equal(t, "LIST jobs.batch 2", delta.String())

	_, err = parseRequestCounts([]byte("not { metrics"))
	assert.Error(t, err)
}

func TestOwnerMarker(t *testing.T) {
	m1, m2 := ownerMarker(), ownerMarker()
	assert.NotEqual(t, m1, m2, "two clusters of one process need distinct markers")
	assert.True(t, ownerAlive(m1), "this process is alive")
	assert.False(t, ownerAlive("1-1-1"), "pid 1 with a wrong start time is not the owner")
	assert.False(t, ownerAlive("garbage"))
}

// SweepStale must kill a marked process whose owner is dead and spare one
// whose owner lives.
func TestSweepStale(t *testing.T) {
	start := func(marker string) (*exec.Cmd, chan struct{}) {
		cmd := exec.Command("sleep", "60")
		cmd.Env = append(os.Environ(), markerEnv+"="+marker)
		require.NoError(t, cmd.Start())
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
		return cmd, exited
	}
	orphan, exited := start("999999999-1-1") // no such pid: the owner is gone
	owned, _ := start(ownerMarker())

	// readMarker needs the child to have exec'd; retry briefly.
	deadline := time.Now().Add(5 * time.Second)
	for readMarker(orphan.Process.Pid) == "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	killed, err := SweepStale()
	require.NoError(t, err)
	assert.Contains(t, killed, orphan.Process.Pid)
	assert.NotContains(t, killed, owned.Process.Pid)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("orphan still running after the sweep")
	}
}

func TestModuleRootAndMissingBins(t *testing.T) {
	root, err := ModuleRoot()
	require.NoError(t, err)
	_, err = os.Stat(root + "/hack/cluster-bins.sh")
	require.NoError(t, err)

	err = checkBins(t.TempDir())
	require.ErrorIs(t, err, ErrBinariesMissing)
	assert.Contains(t, err.Error(), "make cluster-bins")
}

func TestCRILog(t *testing.T) {
	at := time.Date(2024, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))
	const ts = "2024-01-02T02:04:05.000000006Z"
	for _, tc := range []struct {
		name, text, want string
	}{
		{"empty", "", ""},
		{"full lines", "a\nb c\n", ts + " stdout F a\n" + ts + " stdout F b c\n"},
		{"empty line kept", "a\n\nb\n", ts + " stdout F a\n" + ts + " stdout F \n" + ts + " stdout F b\n"},
		{"last line without newline is partial", "a\nb", ts + " stdout F a\n" + ts + " stdout P b\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, string(criLog(tc.text, at)))
		})
	}
}

func TestClusterLogsSelectsEveryContainer(t *testing.T) {
	var cl struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Spec       struct {
			Selector *struct{} `json:"selector"`
			Logs     []struct {
				Containers []string `json:"containers"`
				LogsFile   string   `json:"logsFile"`
				Follow     bool     `json:"follow"`
			} `json:"logs"`
		} `json:"spec"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(clusterLogs("/tmp/x y/pod.log")), &cl))
	assert.Equal(t, "kwok.x-k8s.io/v1alpha1", cl.APIVersion)
	assert.Equal(t, "ClusterLogs", cl.Kind)
	assert.Nil(t, cl.Spec.Selector, "no selector: every pod")
	require.Len(t, cl.Spec.Logs, 1)
	assert.Empty(t, cl.Spec.Logs[0].Containers, "no containers: every container")
	assert.Equal(t, "/tmp/x y/pod.log", cl.Spec.Logs[0].LogsFile)
	assert.True(t, cl.Spec.Logs[0].Follow)
}
