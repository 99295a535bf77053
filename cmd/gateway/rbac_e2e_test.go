package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"

	"github.com/taskgate/taskgate/adapters"
	"github.com/taskgate/taskgate/internal/testcluster"
)

// shippedRole reads configs/rbac.yaml's Role.
func shippedRole(t *testing.T) rbacv1.Role {
	t.Helper()
	raw, err := os.ReadFile("../../configs/rbac.yaml")
	require.NoError(t, err)
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var head metav1.TypeMeta
		require.NoError(t, yaml.Unmarshal([]byte(doc), &head))
		if head.Kind == "Role" {
			var role rbacv1.Role
			require.NoError(t, yaml.UnmarshalStrict([]byte(doc), &role))
			return role
		}
	}
	t.Fatal("configs/rbac.yaml has no Role")
	return rbacv1.Role{}
}

// userKubeconfig writes a kubeconfig for user, authenticated by a client
// certificate of the rig's CA.
func userKubeconfig(t *testing.T, c *testcluster.Cluster, user, path string) kubernetes.Interface {
	t.Helper()
	rc, err := c.UserRESTConfig(user)
	require.NoError(t, err)
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["rig"] = &clientcmdapi.Cluster{Server: rc.Host, CertificateAuthorityData: rc.CAData}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: rc.CertData, ClientKeyData: rc.KeyData}
	cfg.Contexts["rig"] = &clientcmdapi.Context{Cluster: "rig", AuthInfo: user}
	cfg.CurrentContext = "rig"
	require.NoError(t, clientcmd.WriteToFile(*cfg, path))
	return kubernetes.NewForConfigOrDie(rc)
}

// The gateway runs with exactly the permissions configs/rbac.yaml grants:
// the ConfigMap stores, adoption of a Druid Job, and a task to SUCCESS with
// its pod log read while it runs.
func TestServeWithShippedRBAC(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	ctx := context.Background()
	role := shippedRole(t)
	role.Namespace = ns
	_, err := c.Client().RbacV1().Roles(ns).Create(ctx, &role, metav1.CreateOptions{})
	require.NoError(t, err)
	const user = "taskgate-rbac-e2e"
	_, err = c.Client().RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "taskgate"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	as := userKubeconfig(t, c, user, kubeconfig)
	waitUntil(t, 10*time.Second, "the role to take effect", func() bool {
		_, err := as.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
		return err == nil
	})
	_, err = as.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	require.True(t, apierrors.IsForbidden(err), "the user must not have more than the role: %v", err)

	// A peon Job Druid's own runner started before the switch.
	_, err = c.Client().BatchV1().Jobs(ns).Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "druidleftover", Labels: map[string]string{"druid.k8s.peons": "true"}},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"druid.k8s.peons": "true"},
				Annotations: map[string]string{"task.id": "druid_leftover", "taskgate.test/run-duration": "2s"}},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "main", Image: "apache/druid:33.0.0"}}},
		}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	tpl := filepath.Join(dir, "base.yaml")
	require.NoError(t, os.WriteFile(tpl, []byte(e2eTemplate), 0o600))
	logDir := filepath.Join(dir, "tasklogs")
	require.NoError(t, os.MkdirAll(logDir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(logDir, "druid_leftover.status.json"),
		[]byte(`{"id":"druid_leftover","status":"SUCCESS","duration":2000,"errorMsg":null,"location":{"host":null,"port":-1,"tlsPort":-1}}`), 0o644))
	props := writeProps(t, fmt.Sprintf(`
druid.indexer.runner.type=k8s
druid.indexer.runner.namespace=%s
druid.indexer.runner.capacity=4
druid.indexer.runner.k8s.adapter.type=customTemplateAdapter
druid.indexer.runner.k8s.podTemplate.base=%s
druid.indexer.logs.type=file
druid.indexer.logs.directory=%s
taskgate.dynconfig.store=configmap
taskgate.journal.dir=%s
`, ns, tpl, logDir, filepath.Join(dir, "pending")))
	base, stop := startGateway(t, props, []string{"KUBECONFIG=" + kubeconfig})
	defer stop()
	client := &http.Client{Timeout: 10 * time.Second}

	// Both ConfigMap stores are writable.
	for _, path := range []string{"/druid/indexer/v1/k8s/taskrunner/executionconfig", "/druid/indexer/v1/k8s/taskrunner/routingconfig"} {
		body := `{"capacity":3}`
		if strings.Contains(path, "routing") {
			body = `{"type":"k8s"}`
		}
		resp, err := client.Post(base+path, "application/json", strings.NewReader(body))
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, b)
	}

	// A task runs to SUCCESS, with its log read from the pod while it runs.
	const id = "rbac_e2e_task"
	resp, err := client.Post(base+"/taskgate/v1/task", "application/json", bytes.NewReader([]byte(`{"type":"index","id":"`+id+`","dataSource":"wiki"}`)))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.NoError(t, c.SetPodLog("peon says hello\n"))
	waitUntil(t, 60*time.Second, "running", func() bool {
		r, err := client.Get(base + "/taskgate/v1/task/" + id + "/log")
		if err != nil {
			return false
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode == http.StatusOK && strings.Contains(string(b), "peon says hello")
	})
	require.NoError(t, os.WriteFile(filepath.Join(logDir, id+".status.json"),
		[]byte(`{"id":"`+id+`","status":"SUCCESS","duration":10,"errorMsg":null,"location":{"host":null,"port":-1,"tlsPort":-1}}`), 0o644))
	waitUntil(t, 60*time.Second, "success", func() bool {
		r, err := client.Get(base + "/taskgate/v1/task/" + id + "/status")
		if err != nil {
			return false
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return strings.Contains(string(b), `"statusCode":"SUCCESS"`)
	})

	// The Job Druid's runner left behind was adopted (a patch) and tracked.
	job, err := c.Client().BatchV1().Jobs(ns).Get(ctx, "druidleftover", metav1.GetOptions{})
	require.NoError(t, err)
	assert.NotEmpty(t, job.Labels[adapters.LabelOwner], "adopted")
	waitUntil(t, 60*time.Second, "the adopted task's success", func() bool {
		r, err := client.Get(base + "/taskgate/v1/task/druid_leftover/status")
		if err != nil {
			return false
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return strings.Contains(string(b), `"statusCode":"SUCCESS"`)
	})
}
