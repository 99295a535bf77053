package k8srunner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskgate/taskgate/adapters"
	"github.com/taskgate/taskgate/task"
)

// mountedConfigMap lays out pod template files as the kubelet mounts a
// ConfigMap: base.yaml -> ..data/base.yaml, ..data -> a timestamped folder;
// an update writes a new folder and swaps ..data with a rename.
type mountedConfigMap struct {
	t   *testing.T
	dir string
	n   int
}

func newMountedConfigMap(t *testing.T, name, body string) *mountedConfigMap {
	m := &mountedConfigMap{t: t, dir: t.TempDir()}
	m.update(name, body)
	require.NoError(t, os.Symlink(filepath.Join("..data", name), filepath.Join(m.dir, name)))
	return m
}

func (m *mountedConfigMap) update(name, body string) {
	m.t.Helper()
	m.n++
	ts := fmt.Sprintf("..2026_11_25_12_00_%02d.%d", m.n, m.n)
	require.NoError(m.t, os.Mkdir(filepath.Join(m.dir, ts), 0o755))
	require.NoError(m.t, os.WriteFile(filepath.Join(m.dir, ts, name), []byte(body), 0o644))
	tmp := filepath.Join(m.dir, "..data_tmp")
	require.NoError(m.t, os.Symlink(ts, tmp))
	require.NoError(m.t, os.Rename(tmp, filepath.Join(m.dir, "..data")))
}

const versionLabel = "example.com/template-version"

// versionedTemplate is baseTemplate with a version label on its pods;
// restartPolicy, when set, is written into the pod spec.
func versionedTemplate(version, restartPolicy string) string {
	tpl := strings.Replace(baseTemplate, "      app.kubernetes.io/name: druid-peon\n",
		"      app.kubernetes.io/name: druid-peon\n      "+versionLabel+": "+version+"\n", 1)
	if restartPolicy != "" {
		tpl = strings.Replace(tpl, "  spec:\n    containers:\n", "  spec:\n    restartPolicy: "+restartPolicy+"\n    containers:\n", 1)
	}
	return tpl
}

// Template reload (apache/druid#17701) with the lint on load: an edited
// template file, updated the way a mounted ConfigMap is (symlink swap), is
// used by the next task without a restart. An edit the lint refuses
// (restartPolicy Always) keeps the last good template in use for tasks
// submitted meanwhile, and shows the error; once fixed, the new version is
// used.
func TestTemplateReloadKeepsLastGoodOnTheControlPlane(t *testing.T) {
	cm := newMountedConfigMap(t, "base.yaml", versionedTemplate("v1", ""))
	e := newEnv(t, func(c *adapters.Config) {
		c.PodTemplates = map[string]string{adapters.BaseTemplateKey: filepath.Join(cm.dir, "base.yaml")}
	})
	r := e.start(e.config(nil))
	status := e.builder.inner.(adapters.TemplateStatusReporter)

	submit := func(id string) map[string]string {
		t.Helper()
		tk := newTask(t, id, "index", 0)
		e.writeStatus(task.Success(tk.ID, 1))
		require.NoError(t, r.Run(context.Background(), tk))
		st := waitDone(t, r, tk.ID, 20*time.Second)
		require.Equal(t, task.StateSuccess, st.Status, st.ErrorMsg)
		job := e.job(adapters.JobName(tk.ID))
		return map[string]string{
			"version": job.Spec.Template.Labels[versionLabel],
			"reason":  job.Annotations[adapters.AnnotationTemplateReason],
			"restart": string(job.Spec.Template.Spec.RestartPolicy),
		}
	}

	got := submit("reload_v1")
	assert.Equal(t, "v1", got["version"])

	cm.update("base.yaml", versionedTemplate("v2", ""))
	got = submit("reload_v2")
	assert.Equal(t, "v2", got["version"], "a good edit is used without a restart")

	cm.update("base.yaml", versionedTemplate("v3-bad", "Always"))
	got = submit("reload_after_bad_edit")
	assert.Equal(t, "v2", got["version"], "the last good template is used after a bad edit")
	assert.Equal(t, "Never", got["restart"])
	assert.Contains(t, got["reason"], "refused")
	st := status.TemplateStatuses()
	require.Len(t, st, 1)
	assert.Contains(t, st[0].Error, "template.spec.restartPolicy: is Always")
	assert.Equal(t, int64(1), st[0].ReloadErrors)

	cm.update("base.yaml", versionedTemplate("v4", ""))
	got = submit("reload_after_fix")
	assert.Equal(t, "v4", got["version"], "the fixed template is used")
	assert.NotContains(t, got["reason"], "refused")
	assert.Empty(t, status.TemplateStatuses()[0].Error)
}
