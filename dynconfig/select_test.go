package dynconfig

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/taskgate/taskgate/task"
)

// druidDocsExample is the selectorBased example from Druid's k8s-jobs docs.
const druidDocsExample = `{
  "type": "default",
  "podTemplateSelectStrategy": {
    "type": "selectorBased",
    "selectors": [
      {"selectionKey": "podSpec1", "context.tags": {"userProvidedTag": ["tag1", "tag2"]}, "dataSource": ["wikipedia"]},
      {"selectionKey": "podSpec2", "type": ["index_kafka"]}
    ]
  }
}`

func templates(keys ...string) map[string]*corev1.PodTemplate {
	m := map[string]*corev1.PodTemplate{BaseTemplateKey: {}}
	for _, k := range keys {
		m[k] = &corev1.PodTemplate{}
	}
	return m
}

// mkTask builds a task; tags is the raw JSON of context.tags ("" for none).
func mkTask(t *testing.T, typ, dataSource, tags string) *task.Task {
	t.Helper()
	ctx := "{}"
	if tags != "" {
		ctx = `{"tags":` + tags + `}`
	}
	ds := ""
	if dataSource != "" {
		ds = fmt.Sprintf(`,"dataSource":%q`, dataSource)
	}
	tk, err := task.Parse([]byte(fmt.Sprintf(`{"type":%q,"id":"t1"%s,"context":%s}`, typ, ds, ctx)))
	require.NoError(t, err)
	return tk
}

func TestDruidDocsExample(t *testing.T) {
	cfg, warnings, err := Parse([]byte(druidDocsExample))
	require.NoError(t, err)
	require.Empty(t, warnings)
	require.NoError(t, cfg.Validate([]string{"podSpec1", "podSpec2"}))
	avail := templates("podSpec1", "podSpec2", "index_kafka")
	tests := []struct {
		name, typ, ds, tags, want string
	}{
		{"wikipedia tag1 kafka", "index_kafka", "wikipedia", `{"userProvidedTag":"tag1"}`, "podSpec1"},
		{"wikipedia tag2 batch", "index_parallel", "wikipedia", `{"userProvidedTag":"tag2"}`, "podSpec1"},
		{"kafka other datasource", "index_kafka", "other", `{"userProvidedTag":"tag1"}`, "podSpec2"},
		{"kafka wikipedia no tags", "index_kafka", "wikipedia", "", "podSpec2"},
		{"kafka wikipedia wrong tag value", "index_kafka", "wikipedia", `{"userProvidedTag":"tag3"}`, "podSpec2"},
		{"kafka wikipedia other tag name", "index_kafka", "wikipedia", `{"other":"tag1"}`, "podSpec2"},
		{"kafka wikipedia empty tags", "index_kafka", "wikipedia", `{}`, "podSpec2"},
		{"batch other datasource", "index_parallel", "other", `{"userProvidedTag":"tag1"}`, BaseTemplateKey},
		{"batch wikipedia no tags", "index_parallel", "wikipedia", "", BaseTemplateKey},
		{"compact no datasource", "compact", "", "", BaseTemplateKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, reason, err := cfg.Strategy().SelectTemplate(mkTask(t, tc.typ, tc.ds, tc.tags), avail)
			require.NoError(t, err)
			assert.Equal(t, tc.want, key, reason)
			assert.NotEmpty(t, reason)
		})
	}
}

func TestSelectorConditionEquivalences(t *testing.T) {
	kafka := mkTask(t, "index_kafka", "wikipedia", `{"team":"a"}`)
	noDS := mkTask(t, "kill", "", "")
	tests := []struct {
		name     string
		selector string
		tk       *task.Task
		want     bool
	}{
		{"no conditions", `{"selectionKey":"k"}`, kafka, true},
		{"all null", `{"selectionKey":"k","type":null,"dataSource":null,"context.tags":null}`, kafka, true},
		{"all empty", `{"selectionKey":"k","type":[],"dataSource":[],"context.tags":{}}`, kafka, true},
		{"empty lists match a task without datasource", `{"selectionKey":"k","type":[],"dataSource":[]}`, noDS, true},
		{"type listed", `{"selectionKey":"k","type":["index","index_kafka"]}`, kafka, true},
		{"type not listed", `{"selectionKey":"k","type":["index"]}`, kafka, false},
		{"datasource listed", `{"selectionKey":"k","dataSource":["wikipedia"]}`, kafka, true},
		{"datasource not listed", `{"selectionKey":"k","dataSource":["koala"]}`, kafka, false},
		{"task without datasource never matches a datasource list", `{"selectionKey":"k","dataSource":[""]}`, noDS, false},
		{"tag value allowed", `{"selectionKey":"k","context.tags":{"team":["a","b"]}}`, kafka, true},
		{"tag value not allowed", `{"selectionKey":"k","context.tags":{"team":["b"]}}`, kafka, false},
		{"tag with empty allowed list never matches", `{"selectionKey":"k","context.tags":{"team":[]}}`, kafka, false},
		{"every tag must match", `{"selectionKey":"k","context.tags":{"team":["a"],"tier":["x"]}}`, kafka, false},
		{"task without tags fails a tag condition", `{"selectionKey":"k","context.tags":{"team":["a"]}}`, noDS, false},
		{"all conditions must match", `{"selectionKey":"k","type":["index_kafka"],"dataSource":["koala"]}`, kafka, false},
		{"all conditions match", `{"selectionKey":"k","type":["index_kafka"],"dataSource":["wikipedia"],"context.tags":{"team":["a"]}}`, kafka, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, err := Parse([]byte(`{"podTemplateSelectStrategy":{"type":"selectorBased","selectors":[` + tc.selector + `]}}`))
			require.NoError(t, err)
			sel := cfg.PodTemplateSelectStrategy.Selectors[0]
			assert.Equal(t, tc.want, sel.Matches(tc.tk))
			key, _, err := cfg.Strategy().SelectTemplate(tc.tk, templates("k"))
			require.NoError(t, err)
			if tc.want {
				assert.Equal(t, "k", key)
			} else {
				assert.Equal(t, BaseTemplateKey, key)
			}
		})
	}
}

func TestFirstMatchingSelectorWins(t *testing.T) {
	cfg, _, err := Parse([]byte(`{"podTemplateSelectStrategy":{"type":"selectorBased","selectors":[
		{"selectionKey":"first","type":["index_kafka"]},
		{"selectionKey":"second","type":["index_kafka"]}]}}`))
	require.NoError(t, err)
	key, reason, err := cfg.Strategy().SelectTemplate(mkTask(t, "index_kafka", "x", ""), templates("first", "second"))
	require.NoError(t, err)
	assert.Equal(t, "first", key)
	assert.Contains(t, reason, "selector 0")
}

func TestSelectedKeyWithoutTemplateFallsBackToBase(t *testing.T) {
	cfg, _, err := Parse([]byte(`{"podTemplateSelectStrategy":{"type":"selectorBased","selectors":[{"selectionKey":"gone"}]}}`))
	require.NoError(t, err)
	key, reason, err := cfg.Strategy().SelectTemplate(mkTask(t, "index", "x", ""), templates())
	require.NoError(t, err)
	assert.Equal(t, BaseTemplateKey, key)
	assert.Contains(t, reason, "gone")
}

func TestTaskTypeStrategy(t *testing.T) {
	for _, body := range []string{`{}`, `{"type":"default"}`, `{"podTemplateSelectStrategy":{"type":"default"}}`,
		`{"podTemplateSelectStrategy":{"type":"taskType"}}`, `{"podTemplateSelectStrategy":{}}`} {
		cfg, _, err := Parse([]byte(body))
		require.NoError(t, err, body)
		s := cfg.Strategy()
		assert.Equal(t, StrategyTypeDefault, s.Type, body)
		key, _, err := s.SelectTemplate(mkTask(t, "index_kafka", "x", ""), templates("index_kafka"))
		require.NoError(t, err)
		assert.Equal(t, "index_kafka", key, body)
		key, _, err = s.SelectTemplate(mkTask(t, "index", "x", ""), templates("index_kafka"))
		require.NoError(t, err)
		assert.Equal(t, BaseTemplateKey, key, body)
	}
}

// templateSelector is adapters.TemplateSelector's method set (dynconfig may
// not import adapters); these lines fail to compile if the two drift apart.
type templateSelector interface {
	SelectTemplate(t *task.Task, available map[string]*corev1.PodTemplate) (key, reason string, err error)
}

var (
	_ templateSelector = (*Strategy)(nil)
	_ templateSelector = LiveSelector{}
)
