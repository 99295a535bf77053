package adapters

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/taskgate/taskgate/dynconfig"
)

// configMapDir lays out files as the kubelet mounts a ConfigMap: each file
// is a symlink through ..data to a timestamped folder, and an update writes
// a new folder and swaps ..data atomically.
type configMapDir struct {
	t   *testing.T
	dir string
	n   int
}

func newConfigMapDir(t *testing.T, files map[string]string) *configMapDir {
	d := &configMapDir{t: t, dir: t.TempDir()}
	d.update(files)
	for name := range files {
		require.NoError(t, os.Symlink(filepath.Join("..data", name), filepath.Join(d.dir, name)))
	}
	return d
}

func (d *configMapDir) path(name string) string { return filepath.Join(d.dir, name) }

// update writes a new version of every file and swaps ..data to it.
func (d *configMapDir) update(files map[string]string) {
	d.t.Helper()
	d.n++
	ts := fmt.Sprintf("..2026_11_25_10_00_%02d.%d", d.n, d.n)
	require.NoError(d.t, os.Mkdir(filepath.Join(d.dir, ts), 0o755))
	for name, body := range files {
		require.NoError(d.t, os.WriteFile(filepath.Join(d.dir, ts, name), []byte(body), 0o644))
	}
	tmp := filepath.Join(d.dir, "..data_tmp")
	require.NoError(d.t, os.Symlink(ts, tmp))
	require.NoError(d.t, os.Rename(tmp, filepath.Join(d.dir, "..data")))
}

func templateWithImage(image string) string {
	return "apiVersion: v1\nkind: PodTemplate\ntemplate:\n  spec:\n    containers:\n      - name: main\n        image: " + image + "\n"
}

const (
	alwaysTemplate   = "apiVersion: v1\nkind: PodTemplate\ntemplate:\n  spec:\n    restartPolicy: Always\n    containers:\n      - name: main\n        image: bad\n"
	sidecarTemplate  = "apiVersion: v1\nkind: PodTemplate\ntemplate:\n  spec:\n    containers:\n      - name: main\n        image: peon\n      - name: istio-proxy\n        image: proxy\n"
	notYAMLTemplate  = "template: [unclosed\n"
	reloadErrorsName = MetricTemplateReloadErrors
)

// capture is a slog handler that keeps records.
type capture struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (c *capture) Enabled(context.Context, slog.Level) bool { return true }
func (c *capture) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recs = append(c.recs, r)
	return nil
}
func (c *capture) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *capture) WithGroup(string) slog.Handler      { return c }

func (c *capture) count(level slog.Level, msgPart string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.recs {
		if r.Level == level && strings.Contains(r.Message, msgPart) {
			n++
		}
	}
	return n
}

func reloadErrors(t *testing.T, reader *sdkmetric.ManualReader, key string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != reloadErrorsName {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				if v, ok := dp.Attributes.Value("template"); ok && v.AsString() == key {
					return dp.Value
				}
			}
		}
	}
	return 0
}

type reloadRig struct {
	cm     *configMapDir
	a      Adapter
	logs   *capture
	reader *sdkmetric.ManualReader
}

func newReloadRig(t *testing.T, files map[string]string) *reloadRig {
	t.Helper()
	cm := newConfigMapDir(t, files)
	c := DefaultConfig()
	c.AdapterType = TypeCustomTemplate
	c.PodTemplates = map[string]string{}
	for name := range files {
		c.PodTemplates[strings.TrimSuffix(name, ".yaml")] = cm.path(name)
	}
	logs := &capture{}
	reader := sdkmetric.NewManualReader()
	a, err := New(c, Deps{Logger: slog.New(logs), MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))})
	require.NoError(t, err)
	return &reloadRig{cm: cm, a: a, logs: logs, reader: reader}
}

func (r *reloadRig) image(t *testing.T) (image, reason string) {
	t.Helper()
	tk, _ := loadTask(t, "compact")
	out, err := r.a.Render(tk)
	require.NoError(t, err)
	return out.Job.Spec.Template.Spec.Containers[0].Image, out.TemplateReason
}

func (r *reloadRig) status(t *testing.T, key string) TemplateStatus {
	t.Helper()
	for _, s := range r.a.(TemplateStatusReporter).TemplateStatuses() {
		if s.Name == key {
			return s
		}
	}
	t.Fatalf("no status for template %q", key)
	return TemplateStatus{}
}

// Template reload (apache/druid#17701): an edit that arrives through a
// ConfigMap's symlink swap is used by the next task; an edit that does not
// parse, or fails the lint, is refused and the last good template stays in
// use, with the error logged once, counted and shown, until a fixed file
// brings the new version in.
func TestTemplateReloadKeepsLastGood(t *testing.T) {
	for _, bad := range []struct{ name, body, want string }{
		{"lint error", alwaysTemplate, "template.spec.restartPolicy: is Always"},
		{"not yaml", notYAMLTemplate, "not a PodTemplate"},
		{"not a PodTemplate", "apiVersion: v1\nkind: Pod\n", "kind must be PodTemplate"},
	} {
		t.Run(bad.name, func(t *testing.T) {
			r := newReloadRig(t, map[string]string{"base.yaml": templateWithImage("druid:v1")})
			img, _ := r.image(t)
			assert.Equal(t, "druid:v1", img)
			first := r.status(t, "base")
			assert.Empty(t, first.Error)

			r.cm.update(map[string]string{"base.yaml": templateWithImage("druid:v2")})
			img, _ = r.image(t)
			assert.Equal(t, "druid:v2", img, "a good edit is used by the next task without a restart")

			r.cm.update(map[string]string{"base.yaml": bad.body})
			img, reason := r.image(t)
			assert.Equal(t, "druid:v2", img, "the last good template stays in use")
			assert.Contains(t, reason, "refused")
			for range 3 {
				r.image(t)
			}
			st := r.status(t, "base")
			assert.Contains(t, st.Error, bad.want)
			assert.Contains(t, st.Error, "druid.indexer.runner.k8s.podTemplate.base")
			require.NotNil(t, st.ErrorAt)
			assert.Equal(t, int64(1), st.ReloadErrors)
			assert.Equal(t, int64(1), reloadErrors(t, r.reader, "base"), "one bad version counts once, however many tasks come")
			assert.Equal(t, 1, r.logs.count(slog.LevelError, "refused"), "and is logged once")
			assert.Equal(t, []string{"base"}, r.a.(TemplateReloader).ReloadTemplates())

			r.cm.update(map[string]string{"base.yaml": templateWithImage("druid:v3")})
			img, reason = r.image(t)
			assert.Equal(t, "druid:v3", img, "the fixed file is used")
			assert.NotContains(t, reason, "refused")
			st = r.status(t, "base")
			assert.Empty(t, st.Error)
			assert.Nil(t, st.ErrorAt)
			assert.Equal(t, int64(1), st.ReloadErrors)
			assert.Equal(t, 1, r.logs.count(slog.LevelInfo, "fixed"))
			assert.Empty(t, r.a.(TemplateReloader).ReloadTemplates())
		})
	}
}

// An in-place write (not a symlink swap) is seen too, by size or time.
func TestTemplateReloadInPlaceWrite(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "base.yaml")
	require.NoError(t, os.WriteFile(file, []byte(templateWithImage("druid:v1")), 0o644))
	c := DefaultConfig()
	c.AdapterType = TypeCustomTemplate
	c.PodTemplates = map[string]string{"base": file}
	a, err := New(c, Deps{Logger: slog.New(&capture{})})
	require.NoError(t, err)
	r := &reloadRig{a: a}
	require.NoError(t, os.WriteFile(file, []byte(alwaysTemplate), 0o644))
	img, _ := r.image(t)
	assert.Equal(t, "druid:v1", img)
	assert.Contains(t, r.status(t, "base").Error, "restartPolicy")
}

// Lint warnings of a loaded template are logged once per load, not per task.
func TestTemplateLintWarningsLoggedOncePerLoad(t *testing.T) {
	r := newReloadRig(t, map[string]string{"base.yaml": sidecarTemplate})
	assert.Equal(t, 1, r.logs.count(slog.LevelWarn, "lint warning"))
	for range 3 {
		r.image(t)
	}
	assert.Equal(t, 1, r.logs.count(slog.LevelWarn, "lint warning"))
	st := r.status(t, "base")
	require.Len(t, st.Warnings, 1)
	assert.Equal(t, "template.spec.containers[1]", st.Warnings[0].Field)

	r.cm.update(map[string]string{"base.yaml": sidecarTemplate + "    nodeSelector: {pool: ingest}\n"})
	r.image(t)
	assert.Equal(t, 2, r.logs.count(slog.LevelWarn, "lint warning"), "a new version is linted and its warnings logged again")
}

// WatchTemplates reports a bad edit without waiting for a task.
func TestWatchTemplatesReportsWithoutATask(t *testing.T) {
	r := newReloadRig(t, map[string]string{"base.yaml": templateWithImage("druid:v1")})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		WatchTemplates(ctx, r.a, 10*time.Millisecond)
	}()
	r.cm.update(map[string]string{"base.yaml": alwaysTemplate})
	assert.Eventually(t, func() bool { return reloadErrors(t, r.reader, "base") == 1 }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, 1, r.logs.count(slog.LevelError, "refused"))
	cancel()
	<-done

	// Nothing to watch for the overlord adapters: it returns at once.
	c := goldenConfig(t, TypeSingleContainer)
	WatchTemplates(context.Background(), newTestAdapter(t, c, Deps{}), time.Millisecond)
}

func TestPodTemplateStatusHandler(t *testing.T) {
	r := newReloadRig(t, map[string]string{"base.yaml": templateWithImage("druid:v1")})
	r.cm.update(map[string]string{"base.yaml": alwaysTemplate})
	rec := httptest.NewRecorder()
	NewPodTemplateStatusHandler(r.a).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, PathPodTemplateStatus, nil))
	require.Equal(t, http.StatusOK, rec.Code)
	var body struct {
		Templates []TemplateStatus `json:"templates"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.Len(t, body.Templates, 1)
	assert.Equal(t, "base", body.Templates[0].Name)
	assert.Contains(t, body.Templates[0].Error, "restartPolicy")
	assert.Equal(t, int64(1), body.Templates[0].ReloadErrors)

	rec = httptest.NewRecorder()
	NewPodTemplateStatusHandler(newTestAdapter(t, goldenConfig(t, TypeSingleContainer), Deps{})).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, PathPodTemplateStatus, nil))
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.True(t, bytes.Contains(rec.Body.Bytes(), []byte(TypeCustomTemplate)))
}

// The execution config hook refuses a selector naming a template that is
// missing or whose file is refused, naming the selector's field.
func TestCheckExecutionConfig(t *testing.T) {
	r := newReloadRig(t, map[string]string{
		"base.yaml":    templateWithImage("druid:v1"),
		"gpu.yaml":     templateWithImage("druid:gpu"),
		"sidecar.yaml": sidecarTemplate,
	})
	checker := r.a.(ExecutionConfigChecker)
	selectors := func(keys ...string) *dynconfig.ExecutionConfig {
		s := &dynconfig.Strategy{Type: dynconfig.StrategyTypeSelectorBased}
		for _, k := range keys {
			s.Selectors = append(s.Selectors, dynconfig.Selector{SelectionKey: k, Type: []string{"index"}})
		}
		return &dynconfig.ExecutionConfig{PodTemplateSelectStrategy: s}
	}
	fieldErr := func(t *testing.T, err error, field string, parts ...string) {
		t.Helper()
		var fe *dynconfig.FieldError
		require.True(t, errors.As(err, &fe), "want a *dynconfig.FieldError, got %v", err)
		assert.Equal(t, field, fe.Field)
		for _, p := range parts {
			assert.Contains(t, fe.Reason, p)
		}
	}

	warnings, err := checker.CheckExecutionConfig(selectors("gpu", "base"))
	require.NoError(t, err)
	assert.Empty(t, warnings)

	_, err = checker.CheckExecutionConfig(selectors("gpu", "tpu"))
	fieldErr(t, err, "podTemplateSelectStrategy.selectors[1].selectionKey", `"tpu"`, "druid.indexer.runner.k8s.podTemplate.tpu")

	warnings, err = checker.CheckExecutionConfig(selectors("sidecar"))
	require.NoError(t, err)
	require.Len(t, warnings, 1)
	assert.Contains(t, warnings[0], "podTemplateSelectStrategy.selectors[0].selectionKey")
	assert.Contains(t, warnings[0], "istio-proxy")

	// The gpu file is edited into one with lint errors: selecting it is
	// refused at once (the check looks at the files), other configs pass.
	r.cm.update(map[string]string{
		"base.yaml":    templateWithImage("druid:v1"),
		"gpu.yaml":     alwaysTemplate,
		"sidecar.yaml": sidecarTemplate,
	})
	_, err = checker.CheckExecutionConfig(selectors("base", "gpu"))
	fieldErr(t, err, "podTemplateSelectStrategy.selectors[1].selectionKey", `"gpu"`, "refused", "restartPolicy")
	_, err = checker.CheckExecutionConfig(selectors("base"))
	require.NoError(t, err)

	// The task-type strategy and a capacity-only config select nothing.
	warnings, err = checker.CheckExecutionConfig(&dynconfig.ExecutionConfig{PodTemplateSelectStrategy: dynconfig.DefaultStrategy()})
	require.NoError(t, err)
	require.Len(t, warnings, 1, "but a refused template is worth a warning")
	assert.Contains(t, warnings[0], `"gpu"`)
	n := 3
	warnings, err = checker.CheckExecutionConfig(&dynconfig.ExecutionConfig{Capacity: &n})
	require.NoError(t, err)
	assert.Empty(t, warnings)
	warnings, err = checker.CheckExecutionConfig(nil)
	require.NoError(t, err)
	assert.Empty(t, warnings)

	// The overlord adapters accept any strategy, with a warning.
	ov := newTestAdapter(t, goldenConfig(t, TypeSingleContainer), Deps{}).(ExecutionConfigChecker)
	warnings, err = ov.CheckExecutionConfig(selectors("gpu"))
	require.NoError(t, err)
	require.Len(t, warnings, 1)
	assert.Contains(t, warnings[0], "no effect")
}
