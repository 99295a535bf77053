package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/taskgate/taskgate/adapters"
)

// swapFile writes body as a new version of name under dir the way the
// kubelet updates a mounted ConfigMap: a new timestamped folder, then a
// rename of the ..data symlink to point at it. The first call makes the
// name -> ..data/name symlink.
func swapFile(t *testing.T, dir, name, body string, version int) {
	t.Helper()
	ts := fmt.Sprintf("..2026_11_25_13_00_%02d.%d", version, version)
	require.NoError(t, os.Mkdir(filepath.Join(dir, ts), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, ts, name), []byte(body), 0o644))
	tmp := filepath.Join(dir, "..data_tmp")
	require.NoError(t, os.Symlink(ts, tmp))
	require.NoError(t, os.Rename(tmp, filepath.Join(dir, "..data")))
	if version == 1 {
		require.NoError(t, os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)))
	}
}

// The gateway wires the owner id, the namespaces and the template watcher
// from runtime properties: Jobs carry taskgate.io/owner and Druid's
// druid.overlord.namespace labels, and a bad edit of a mounted template is
// counted on /metrics within the reload period, with no task submitted,
// while tasks keep the last good template.
func TestServeOwnerLabelAndTemplateWatch(t *testing.T) {
	dir := t.TempDir()
	good := strings.Replace(e2eTemplate, "  metadata:\n", "  metadata:\n    labels:\n      example.com/template-version: v1\n", 1)
	swapFile(t, dir, "base.yaml", good, 1)
	g, stop := startK8sGateway(t, fmt.Sprintf(`
druid.indexer.runner.k8s.podTemplate.base=%s
druid.indexer.runner.overlordNamespace=druid-gw
taskgate.k8s.ownerId=gw-e2e
taskgate.k8s.podTemplateReloadPeriod=PT1S
`, filepath.Join(dir, "base.yaml")))
	defer stop()
	client := &http.Client{Timeout: 10 * time.Second}

	submit := func(id string) map[string]string {
		t.Helper()
		resp, err := client.Post(g.base+"/taskgate/v1/task", "application/json",
			strings.NewReader(fmt.Sprintf(`{"type":"index","id":%q,"dataSource":"wiki"}`, id)))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusAccepted, resp.StatusCode, string(body))
		var labels map[string]string
		require.Eventually(t, func() bool {
			job, err := g.c.Client().BatchV1().Jobs(g.ns).Get(context.Background(), adapters.JobName(id), metav1.GetOptions{})
			if err != nil {
				return false
			}
			labels = job.Labels
			labels["template-version"] = job.Spec.Template.Labels["example.com/template-version"]
			return true
		}, 30*time.Second, 100*time.Millisecond)
		return labels
	}

	labels := submit("owner_label_e2e")
	assert.Equal(t, "gw-e2e", labels[adapters.LabelOwner])
	assert.Equal(t, "druid-gw", labels[adapters.LabelOverlordNamespace])
	assert.Equal(t, "v1", labels["template-version"])

	swapFile(t, dir, "base.yaml", strings.Replace(good, "  spec:\n", "  spec:\n    restartPolicy: Always\n", 1), 2)
	counted := regexp.MustCompile(`(?m)^taskgate_k8s_template_reload_errors_total\{[^}]*template="base"[^}]*\} 1$`)
	require.Eventually(t, func() bool {
		resp, err := client.Get(g.base + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return counted.Match(body)
	}, 15*time.Second, 200*time.Millisecond, "the refused edit is counted without any task")

	labels = submit("after_bad_edit_e2e")
	assert.Equal(t, "v1", labels["template-version"], "the last good template stays in use")

	// The refusal is visible on the template status endpoint, and an
	// execution config selecting the refused template is a 400 naming the
	// selector; one leaving templates alone (capacity only) still passes.
	resp, err := client.Get(g.base + adapters.PathPodTemplateStatus)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "restartPolicy")
	post := func(cfg string) (int, string) {
		resp, err := client.Post(g.base+"/druid/indexer/v1/k8s/taskrunner/executionconfig", "application/json", strings.NewReader(cfg))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, msg := post(`{"podTemplateSelectStrategy":{"type":"selectorBased","selectors":[{"selectionKey":"base","type":["index"]}]}}`)
	assert.Equal(t, http.StatusBadRequest, code, msg)
	assert.Contains(t, msg, `"field":"podTemplateSelectStrategy.selectors[0].selectionKey"`)
	code, msg = post(`{"capacity":3}`)
	assert.Equal(t, http.StatusOK, code, msg)
}
