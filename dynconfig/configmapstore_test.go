package dynconfig

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/taskgate/taskgate/internal/testcluster"
	"github.com/taskgate/taskgate/task"
)

// The ConfigMap store's tests run on the package's real control plane
// (started on first use, skipped under -short).
func TestMain(m *testing.M) { testcluster.Main(m) }

// propagationBound is the issue's "every replica sees a change within a
// second".
const propagationBound = time.Second

type cmEnv struct {
	c      *testcluster.Cluster
	client kubernetes.Interface
	ns     string
}

func newCMEnv(t *testing.T) cmEnv {
	t.Helper()
	c := testcluster.Shared(t)
	return cmEnv{c: c, client: kubernetes.NewForConfigOrDie(c.RESTConfig()), ns: c.NewNamespace(t)}
}

// open opens a store on the env's namespace and closes it with the test.
func (e cmEnv) open(t *testing.T, cfg ConfigMapStoreConfig) *ConfigMapStore[ExecutionConfig] {
	t.Helper()
	cfg.Namespace = e.ns
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := OpenConfigMapStore(ctx, e.client, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	waitFor(t, 10*time.Second, "the store's watch to sync", func() bool { return s.HasSynced() })
	return s
}

func (e cmEnv) configMap(t *testing.T, name string) *corev1.ConfigMap {
	t.Helper()
	cm, err := e.client.CoreV1().ConfigMaps(e.ns).Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err)
	return cm
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConfigMapStoreContract(t *testing.T) {
	env := newCMEnv(t)
	var n atomic.Int32
	runStoreContract(t, func(t *testing.T, o contractOptions) Store {
		// One namespace for the contract; a ConfigMap per case.
		name := fmt.Sprintf("contract-%d", n.Add(1))
		return env.open(t, ConfigMapStoreConfig{Name: name, MaxHistory: o.MaxHistory, Now: o.Now})
	})
}

func TestConfigMapStoreLayout(t *testing.T) {
	env := newCMEnv(t)
	ctx := context.Background()
	s := env.open(t, ConfigMapStoreConfig{})
	cfg, _, err := Parse([]byte(druidDocsExample))
	require.NoError(t, err)
	_, entry, err := s.Update(ctx, AuditInfo{Author: "ops"}, setTo(cfg))
	require.NoError(t, err)

	cm := env.configMap(t, DefaultConfigMapName)
	assert.Equal(t, "taskgate", cm.Labels["app.kubernetes.io/name"])
	assert.Equal(t, configMapFormatVersion, cm.Data[ConfigMapKeyFormat])
	assert.JSONEq(t, mustJSON(t, cfg), cm.Data[ConfigMapKeyConfig], "the config is readable as is with kubectl")
	assert.JSONEq(t, mustJSON(t, []AuditEntry{entry}), cm.Data[ConfigMapKeyHistory])

	// A second store on the same ConfigMap (a restarted replica) reads it back.
	again := env.open(t, ConfigMapStoreConfig{})
	got, err := again.Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, cfg, got)
}

func TestConfigMapStorePreCreatedEmptyConfigMap(t *testing.T) {
	env := newCMEnv(t)
	ctx := context.Background()
	// A chart may create the ConfigMap empty, with its own labels.
	_, err := env.client.CoreV1().ConfigMaps(env.ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: "pre", Labels: map[string]string{"chart": "taskgate"},
	}}, metav1.CreateOptions{})
	require.NoError(t, err)
	s := env.open(t, ConfigMapStoreConfig{Name: "pre"})
	got, err := s.Get(ctx)
	require.NoError(t, err)
	assert.Nil(t, got)
	_, _, err = s.Update(ctx, AuditInfo{}, setTo(capacityConfig(2)))
	require.NoError(t, err)
	cm := env.configMap(t, "pre")
	assert.Equal(t, "taskgate", cm.Labels["chart"], "an existing ConfigMap's metadata is kept")
	assert.NotEmpty(t, cm.Data[ConfigMapKeyConfig])
}

// Two replicas incrementing the same counter at once: optimistic
// concurrency must make every increment count.
func TestConfigMapStoreTwoInstancesLoseNothing(t *testing.T) {
	env := newCMEnv(t)
	ctx := context.Background()
	stores := []*ConfigMapStore[ExecutionConfig]{env.open(t, ConfigMapStoreConfig{}), env.open(t, ConfigMapStoreConfig{})}
	const perStore = 10
	var wg sync.WaitGroup
	for i, s := range stores {
		for j := 0; j < perStore; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, err := s.Update(ctx, AuditInfo{Author: fmt.Sprintf("replica-%d", i)}, increment)
				assert.NoError(t, err)
			}()
		}
	}
	wg.Wait()
	const total = 2 * perStore
	for i, s := range stores {
		waitFor(t, propagationBound, fmt.Sprintf("replica %d to see capacity %d", i, total), func() bool {
			c, err := s.Get(ctx)
			return err == nil && c != nil && *c.Capacity == total
		})
	}
	hist, err := stores[0].History(ctx, HistoryQuery{Count: 100})
	require.NoError(t, err)
	require.Len(t, hist, total)
	var caps []int
	authors := map[string]int{}
	for _, e := range hist {
		c, _, err := Parse([]byte(e.Payload))
		require.NoError(t, err)
		caps = append(caps, *c.Capacity)
		authors[e.AuditInfo.Author]++
	}
	sort.Ints(caps)
	want := make([]int, total)
	for i := range want {
		want[i] = i + 1
	}
	assert.Equal(t, want, caps, "each increment is audited once, none lost")
	assert.Equal(t, map[string]int{"replica-0": perStore, "replica-1": perStore}, authors)
}

// A write on one replica reaches the other's subscribers, and the other's
// Manager picks the new template for its next task, within a second.
func TestConfigMapStorePropagatesToOtherReplica(t *testing.T) {
	env := newCMEnv(t)
	ctx := context.Background()
	a := env.open(t, ConfigMapStoreConfig{})
	b := env.open(t, ConfigMapStoreConfig{})

	seen := make(chan int, 100)
	cancel := b.Subscribe(func(c *ExecutionConfig) {
		if c != nil && c.Capacity != nil {
			seen <- *c.Capacity
		}
	})
	defer cancel()
	const rounds = 30
	var endToEnd, updates []time.Duration
	for i := 1; i <= rounds; i++ {
		start := time.Now()
		_, _, err := a.Update(ctx, AuditInfo{}, setTo(capacityConfig(i)))
		require.NoError(t, err)
		updates = append(updates, time.Since(start))
	wait:
		for {
			select {
			case got := <-seen:
				if got == i {
					endToEnd = append(endToEnd, time.Since(start))
					break wait
				}
			case <-time.After(propagationBound - time.Since(start)):
				t.Fatalf("round %d: replica B did not hear of the change within %s", i, propagationBound)
			}
		}
	}
	t.Logf("%d rounds: A.Update call → B's subscriber called: %s; A.Update duration: %s", rounds, spread(endToEnd), spread(updates))

	// The gateway's view: a Manager on each replica.
	keys := []string{"podSpec1", "podSpec2"}
	mgrA, err := NewManager(ctx, ManagerConfig{TemplateKeys: keys}, a)
	require.NoError(t, err)
	defer mgrA.Close()
	mgrB, err := NewManager(ctx, ManagerConfig{TemplateKeys: keys}, b)
	require.NoError(t, err)
	defer mgrB.Close()
	avail := templates(keys...)
	kafka := mkTask(t, "index_kafka", "metrics", "")
	selectB := func() string {
		key, _, err := mgrB.Selector().SelectTemplate(kafka, avail)
		require.NoError(t, err)
		return key
	}
	require.Equal(t, BaseTemplateKey, selectB(), "no selector yet: the task-type strategy, no index_kafka template, so base")

	cfg, _, err := Parse([]byte(druidDocsExample))
	require.NoError(t, err)
	start := time.Now()
	_, err = mgrA.Set(ctx, cfg, AuditInfo{Author: "ops", Comment: "kafka to podSpec2"})
	require.NoError(t, err)
	waitFor(t, propagationBound, "replica B's next index_kafka task to get podSpec2", func() bool { return selectB() == "podSpec2" })
	t.Logf("POST on A → B's next task selects podSpec2: %s after the Set began", time.Since(start))

	swapped, _, err := Parse([]byte(`{"type":"default","podTemplateSelectStrategy":{"type":"selectorBased","selectors":[{"selectionKey":"podSpec1","type":["index_kafka"]}]}}`))
	require.NoError(t, err)
	_, err = mgrA.Set(ctx, swapped, AuditInfo{Author: "ops"})
	require.NoError(t, err)
	waitFor(t, propagationBound, "replica B's next index_kafka task to get podSpec1", func() bool { return selectB() == "podSpec1" })
	assert.Equal(t, swapped.PodTemplateSelectStrategy, mgrB.Stored().PodTemplateSelectStrategy)
}

func TestConfigMapStoreHistoryByteCap(t *testing.T) {
	env := newCMEnv(t)
	ctx := context.Background()
	const maxBytes = 2048
	s := env.open(t, ConfigMapStoreConfig{Name: "bytes", MaxHistoryBytes: maxBytes})
	long := strings.Repeat("x", 300)
	for i := 1; i <= 12; i++ {
		_, _, err := s.Update(ctx, AuditInfo{Comment: fmt.Sprintf("%d %s", i, long)}, setTo(capacityConfig(i)))
		require.NoError(t, err)
	}
	cm := env.configMap(t, "bytes")
	assert.LessOrEqual(t, len(cm.Data[ConfigMapKeyHistory]), maxBytes)
	hist, err := s.History(ctx, HistoryQuery{Count: 100})
	require.NoError(t, err)
	require.NotEmpty(t, hist)
	assert.Less(t, len(hist), 12, "old entries were dropped")
	assert.Greater(t, len(hist), 1, "as many as fit are kept")
	for i, e := range hist {
		assert.True(t, strings.HasPrefix(e.AuditInfo.Comment, fmt.Sprintf("%d ", 12-i)), "newest kept, contiguous: %q", e.AuditInfo.Comment[:4])
	}

	// An entry bigger than the whole cap is still kept: the latest change
	// is always audited.
	huge := strings.Repeat("y", 3*maxBytes)
	_, _, err = s.Update(ctx, AuditInfo{Comment: huge}, setTo(capacityConfig(99)))
	require.NoError(t, err)
	hist, err = s.History(ctx, HistoryQuery{Count: 100})
	require.NoError(t, err)
	require.Len(t, hist, 1)
	assert.Equal(t, huge, hist[0].AuditInfo.Comment)
}

func TestConfigMapStoreCorruptConfigMapIsReportedNotReplaced(t *testing.T) {
	env := newCMEnv(t)
	ctx := context.Background()
	tests := map[string]map[string]string{
		"truncated config": {ConfigMapKeyFormat: "1", ConfigMapKeyConfig: `{"type":"def`},
		"unknown strategy": {ConfigMapKeyFormat: "1", ConfigMapKeyConfig: `{"podTemplateSelectStrategy":{"type":"nope"}}`},
		"bad history":      {ConfigMapKeyFormat: "1", ConfigMapKeyConfig: `{}`, ConfigMapKeyHistory: `[{"auditTime":"yesterday"}]`},
		"future format":    {ConfigMapKeyFormat: "99"},
		"foreign content":  {"application.properties": "a=b"},
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			cmName := "corrupt-" + strings.ReplaceAll(name, " ", "-")
			created, err := env.client.CoreV1().ConfigMaps(env.ns).Create(ctx, &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: cmName}, Data: data}, metav1.CreateOptions{})
			require.NoError(t, err)
			_, err = OpenConfigMapStore(ctx, env.client, ConfigMapStoreConfig{Namespace: env.ns, Name: cmName})
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrCorrupt)
			assert.Contains(t, err.Error(), env.ns+"/"+cmName)
			after := env.configMap(t, cmName)
			assert.Equal(t, created.ResourceVersion, after.ResourceVersion, "left untouched")
			assert.Equal(t, data, after.Data)
		})
	}

	t.Run("corrupted while running", func(t *testing.T) {
		s := env.open(t, ConfigMapStoreConfig{Name: "live"})
		mgr, err := NewManager(ctx, ManagerConfig{}, s)
		require.NoError(t, err)
		defer mgr.Close()
		_, err = mgr.Set(ctx, capacityConfig(5), AuditInfo{})
		require.NoError(t, err)

		cm := env.configMap(t, "live")
		cm.Data[ConfigMapKeyConfig] = "{not json"
		cm, err = env.client.CoreV1().ConfigMaps(env.ns).Update(ctx, cm, metav1.UpdateOptions{})
		require.NoError(t, err)
		waitFor(t, propagationBound, "the store to see the corrupt ConfigMap", func() bool {
			_, err := s.Get(ctx)
			return errors.Is(err, ErrCorrupt)
		})
		_, err = s.History(ctx, HistoryQuery{})
		assert.ErrorIs(t, err, ErrCorrupt)
		_, _, err = s.Update(ctx, AuditInfo{}, setTo(capacityConfig(6)))
		require.ErrorIs(t, err, ErrCorrupt)
		assert.Contains(t, err.Error(), ConfigMapKeyConfig)
		after := env.configMap(t, "live")
		assert.Equal(t, cm.ResourceVersion, after.ResourceVersion, "a corrupt ConfigMap is never overwritten")
		assert.Equal(t, 5, mgr.Capacity(), "the manager keeps the last good config")

		// Deleting it starts over with no dynamic config.
		require.NoError(t, env.client.CoreV1().ConfigMaps(env.ns).Delete(ctx, "live", metav1.DeleteOptions{}))
		waitFor(t, propagationBound, "the store to see the deletion", func() bool {
			c, err := s.Get(ctx)
			return err == nil && c == nil
		})
		waitFor(t, propagationBound, "the manager to drop the deleted config", func() bool { return mgr.Stored() == nil })
		_, _, err = s.Update(ctx, AuditInfo{}, setTo(capacityConfig(7)))
		require.NoError(t, err)
		assert.Equal(t, 7, mgr.Capacity())
	})
}

// The watch resumes by itself after the apiserver restarts; meanwhile reads
// answer from the cache and writes fail cleanly.
func TestConfigMapStoreSurvivesAPIServerRestart(t *testing.T) {
	env := newCMEnv(t)
	ctx := context.Background()
	a := env.open(t, ConfigMapStoreConfig{})
	b := env.open(t, ConfigMapStoreConfig{})
	_, _, err := a.Update(ctx, AuditInfo{}, setTo(capacityConfig(1)))
	require.NoError(t, err)
	waitFor(t, propagationBound, "B to see capacity 1", func() bool {
		c, err := b.Get(ctx)
		return err == nil && c != nil && *c.Capacity == 1
	})
	seen := make(chan int, 10)
	cancel := b.Subscribe(func(c *ExecutionConfig) {
		if c != nil && c.Capacity != nil {
			seen <- *c.Capacity
		}
	})
	defer cancel()

	env.c.StopAPIServer()
	restarted := false
	defer func() {
		if !restarted { // leave the shared cluster usable for the next tests
			_ = env.c.StartAPIServer(context.Background())
		}
	}()
	got, err := b.Get(ctx)
	require.NoError(t, err, "reads are served from the watch cache while the apiserver is down")
	assert.Equal(t, 1, *got.Capacity)
	short, cancelShort := context.WithTimeout(ctx, 2*time.Second)
	_, _, err = a.Update(short, AuditInfo{}, setTo(capacityConfig(99)))
	cancelShort()
	require.Error(t, err, "no write without an apiserver")

	startCtx, cancelStart := context.WithTimeout(ctx, 60*time.Second)
	defer cancelStart()
	require.NoError(t, env.c.StartAPIServer(startCtx))
	restarted = true
	up := time.Now()

	// Write on A once the apiserver answers again, then wait for B's watch.
	var writeStart, written time.Time
	waitFor(t, 30*time.Second, "A's write after the restart", func() bool {
		wctx, c := context.WithTimeout(ctx, 5*time.Second)
		defer c()
		writeStart = time.Now()
		_, _, err := a.Update(wctx, AuditInfo{Comment: "after restart"}, setTo(capacityConfig(2)))
		if err != nil {
			t.Logf("write after restart: %v", err)
			return false
		}
		written = time.Now()
		return true
	})
	select {
	case c := <-seen:
		require.Equal(t, 2, c, "the failed write left nothing behind")
		t.Logf("after the apiserver restart: A's write began %s after it was ready and took %s (it waits for A's own watch); B notified %s after the apiserver was ready",
			writeStart.Sub(up), written.Sub(writeStart), time.Since(up))
	case <-time.After(30 * time.Second):
		t.Fatal("B's watch did not resume within 30s of the apiserver restart")
	}
	got, err = b.Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, *got.Capacity)
	hist, err := b.History(ctx, HistoryQuery{Count: 10})
	require.NoError(t, err)
	assert.Equal(t, []string{"after restart", ""}, comments(hist))

	// And the watch keeps working.
	_, _, err = a.Update(ctx, AuditInfo{}, setTo(capacityConfig(3)))
	require.NoError(t, err)
	select {
	case c := <-seen:
		assert.Equal(t, 3, c)
	case <-time.After(propagationBound):
		t.Fatal("B did not hear of the second write after the restart within a second")
	}
}

// spread summarises durations as min / median / p95 / max.
func spread(d []time.Duration) string {
	d = slices.Clone(d)
	slices.Sort(d)
	pct := func(p int) time.Duration { return d[(len(d)-1)*p/100] }
	r := func(x time.Duration) time.Duration { return x.Round(10 * time.Microsecond) }
	return fmt.Sprintf("min %s, median %s, p95 %s, max %s", r(d[0]), r(pct(50)), r(pct(95)), r(d[len(d)-1]))
}

// configMapStoreRBACRules are the least privileges the store needs in its
// namespace: create cannot be limited to a name, the rest can (list and
// watch carry the metadata.name field selector).
func configMapStoreRBACRules(name string) []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{name}, Verbs: []string{"get", "list", "watch", "update"}},
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"create"}},
	}
}

func TestConfigMapStoreLeastPrivilege(t *testing.T) {
	env := newCMEnv(t)
	ctx := context.Background()
	const user = "taskgate-gateway"
	_, err := env.client.RbacV1().Roles(env.ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "taskgate-dynconfig"},
		Rules:      configMapStoreRBACRules(DefaultConfigMapName),
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = env.client.RbacV1().RoleBindings(env.ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "taskgate-dynconfig"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "taskgate-dynconfig"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: "rbac.authorization.k8s.io", Name: user}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	rc, err := env.c.UserRESTConfig(user)
	require.NoError(t, err)
	gw := cmEnv{c: env.c, client: kubernetes.NewForConfigOrDie(rc), ns: env.ns}

	// RBAC changes reach the authorizer's cache asynchronously.
	waitFor(t, 10*time.Second, "the role to take effect", func() bool {
		_, err := gw.client.CoreV1().ConfigMaps(env.ns).Get(ctx, DefaultConfigMapName, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	a, b := gw.open(t, ConfigMapStoreConfig{}), gw.open(t, ConfigMapStoreConfig{})
	_, _, err = a.Update(ctx, AuditInfo{}, setTo(capacityConfig(1)))
	require.NoError(t, err, "create")
	_, _, err = a.Update(ctx, AuditInfo{}, increment)
	require.NoError(t, err, "update")
	waitFor(t, propagationBound, "the other store to see the change", func() bool {
		c, err := b.Get(ctx)
		return err == nil && c != nil && *c.Capacity == 2
	})

	// Another ConfigMap name is outside the grant, and the error says so.
	_, err = OpenConfigMapStore(ctx, gw.client, ConfigMapStoreConfig{Namespace: env.ns, Name: "other"})
	require.Error(t, err)
	assert.True(t, apierrors.IsForbidden(err), err.Error())
	assert.Contains(t, err.Error(), env.ns+"/other")
}

// gateway is one replica's dynamic-config stack: store, manager, endpoints.
type gateway struct {
	store *ConfigMapStore[ExecutionConfig]
	mgr   *Manager
	url   string
}

func (e cmEnv) gateway(t *testing.T, templateKeys []string) gateway {
	t.Helper()
	s := e.open(t, ConfigMapStoreConfig{})
	m, err := NewManager(context.Background(), ManagerConfig{TemplateKeys: templateKeys}, s)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	r := mux.NewRouter()
	NewHandlers(m).Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return gateway{store: s, mgr: m, url: srv.URL}
}

func (g gateway) do(t *testing.T, method, path, body string, headers map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, g.url+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// The acceptance: two gateway instances on one ConfigMap store; a
// POST on one changes the template the other picks for its next task.
func TestConfigMapStoreTwoGatewaysPostOnOneSelectsOnOther(t *testing.T) {
	env := newCMEnv(t)
	keys := []string{"podSpec1", "podSpec2"}
	a, b := env.gateway(t, keys), env.gateway(t, keys)
	avail := templates(keys...)
	kafka := mkTask(t, "index_kafka", "metrics", "")
	wiki := mkTask(t, "index_parallel", "wikipedia", `{"userProvidedTag":"tag1"}`)
	selectB := func(tk string) string {
		picked := map[string]*task.Task{"kafka": kafka, "wiki": wiki}[tk]
		key, _, err := b.mgr.Selector().SelectTemplate(picked, avail)
		require.NoError(t, err)
		return key
	}
	require.Equal(t, BaseTemplateKey, selectB("kafka"))
	require.Equal(t, BaseTemplateKey, selectB("wiki"))

	start := time.Now()
	code, body := a.do(t, http.MethodPost, PathExecutionConfig, druidDocsExample, map[string]string{HeaderAuthor: "ops", HeaderComment: "split kafka"})
	require.Equal(t, http.StatusOK, code, body)
	waitFor(t, propagationBound, "gateway B's next index_kafka task to get podSpec2", func() bool { return selectB("kafka") == "podSpec2" })
	t.Logf("POST on gateway A → gateway B selects podSpec2 for its next task: %s", time.Since(start))
	assert.Equal(t, "podSpec1", selectB("wiki"))

	code, body = b.do(t, http.MethodGet, PathExecutionConfig, "", nil)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"selectionKey":"podSpec2"`)
	code, body = b.do(t, http.MethodGet, PathExecutionConfigHistory+"?count=5", "", nil)
	require.Equal(t, http.StatusOK, code)
	var hist []AuditEntry
	require.NoError(t, json.Unmarshal([]byte(body), &hist))
	require.Len(t, hist, 1)
	assert.Equal(t, "ops", hist[0].AuditInfo.Author)
	assert.Equal(t, "split kafka", hist[0].AuditInfo.Comment)

	// A bad POST on B stores nothing, on either replica.
	before := env.configMap(t, DefaultConfigMapName)
	code, body = b.do(t, http.MethodPost, PathExecutionConfig,
		`{"type":"default","podTemplateSelectStrategy":{"type":"selectorBased","selectors":[{"selectionKey":"missing"}]}}`, nil)
	assert.Equal(t, http.StatusBadRequest, code, body)
	assert.Equal(t, before.ResourceVersion, env.configMap(t, DefaultConfigMapName).ResourceVersion)
	assert.Equal(t, "podSpec2", selectB("kafka"))
}
