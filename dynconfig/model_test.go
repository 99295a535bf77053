package dynconfig

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseErrorsNameTheField(t *testing.T) {
	sb := func(sel string) string {
		return `{"podTemplateSelectStrategy":{"type":"selectorBased","selectors":[{"selectionKey":"a"},` + sel + `]}}`
	}
	tests := []struct {
		name, body, field, reason string
	}{
		{"empty body", ``, "", "empty"},
		{"bad JSON", `{"type":`, "", "invalid JSON"},
		{"trailing data", `{} {}`, "", "unexpected data"},
		{"not an object", `[1]`, "", "must be a JSON object"},
		{"null body", `null`, "", "must be a JSON object"},
		{"unknown config type", `{"type":"fancy"}`, "type", `unknown execution config type "fancy"`},
		{"config type not string", `{"type":1}`, "type", "must be a string"},
		{"strategy not object", `{"podTemplateSelectStrategy":"x"}`, "podTemplateSelectStrategy", "must be an object"},
		{"unknown strategy type", `{"podTemplateSelectStrategy":{"type":"magic"}}`, "podTemplateSelectStrategy.type", `unknown strategy type "magic"`},
		{"selectors missing", `{"podTemplateSelectStrategy":{"type":"selectorBased"}}`, "podTemplateSelectStrategy.selectors", "required"},
		{"selectors null", `{"podTemplateSelectStrategy":{"type":"selectorBased","selectors":null}}`, "podTemplateSelectStrategy.selectors", "required"},
		{"selectors not list", `{"podTemplateSelectStrategy":{"type":"selectorBased","selectors":{}}}`, "podTemplateSelectStrategy.selectors", "must be a list"},
		{"selector not object", sb(`"x"`), "podTemplateSelectStrategy.selectors[1]", "must be an object"},
		{"selectionKey missing", sb(`{}`), "podTemplateSelectStrategy.selectors[1].selectionKey", "required"},
		{"selectionKey number", sb(`{"selectionKey":5}`), "podTemplateSelectStrategy.selectors[1].selectionKey", "must be a string, got a number"},
		{"selectionKey empty", sb(`{"selectionKey":""}`), "podTemplateSelectStrategy.selectors[1].selectionKey", "must not be empty"},
		{"type string", sb(`{"selectionKey":"b","type":"index"}`), "podTemplateSelectStrategy.selectors[1].type", "must be a list of strings"},
		{"type element", sb(`{"selectionKey":"b","type":["index",3]}`), "podTemplateSelectStrategy.selectors[1].type[1]", "must be a string"},
		{"dataSource object", sb(`{"selectionKey":"b","dataSource":{}}`), "podTemplateSelectStrategy.selectors[1].dataSource", "must be a list"},
		{"tags list", sb(`{"selectionKey":"b","context.tags":[]}`), "podTemplateSelectStrategy.selectors[1].context.tags", "must be an object"},
		{"tag values null", sb(`{"selectionKey":"b","context.tags":{"t":null}}`), "podTemplateSelectStrategy.selectors[1].context.tags.t", "not null"},
		{"tag values string", sb(`{"selectionKey":"b","context.tags":{"t":"x"}}`), "podTemplateSelectStrategy.selectors[1].context.tags.t", "must be a list"},
		{"capacity string", `{"capacity":"5"}`, "capacity", "must be an integer"},
		{"capacity fraction", `{"capacity":1.5}`, "capacity", "must be an integer"},
		{"capacity zero", `{"capacity":0}`, "capacity", "between 1 and"},
		{"capacity huge", `{"capacity":2147483648}`, "capacity", "between 1 and"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, err := Parse([]byte(tc.body))
			require.Error(t, err)
			assert.Nil(t, cfg)
			var fe *FieldError
			require.True(t, errors.As(err, &fe), "%T %v", err, err)
			assert.Equal(t, tc.field, fe.Field)
			assert.Contains(t, err.Error(), tc.reason)
		})
	}
}

func TestParseIgnoresUnknownFieldsWithWarnings(t *testing.T) {
	cfg, warnings, err := Parse([]byte(`{"extra":1,"podTemplateSelectStrategy":{"type":"selectorBased","note":"x",
		"selectors":[{"selectionKey":"a","datasource":["typo"]}]}}`))
	require.NoError(t, err)
	assert.Equal(t, []string{
		"unknown field extra ignored",
		"unknown field podTemplateSelectStrategy.note ignored",
		"unknown field podTemplateSelectStrategy.selectors[0].datasource ignored",
	}, warnings)
	assert.Nil(t, cfg.PodTemplateSelectStrategy.Selectors[0].DataSource)
}

func TestValidateTemplateKeys(t *testing.T) {
	cfg, _, err := Parse([]byte(`{"podTemplateSelectStrategy":{"type":"selectorBased","selectors":[
		{"selectionKey":"base"},{"selectionKey":"podSpec1"},{"selectionKey":"missing"}]}}`))
	require.NoError(t, err)
	err = cfg.Validate([]string{"podSpec1"})
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "podTemplateSelectStrategy.selectors[2].selectionKey", fe.Field)
	assert.Contains(t, fe.Reason, `druid.indexer.runner.k8s.podTemplate.missing`)
	assert.NoError(t, cfg.Validate([]string{"podSpec1", "missing"}))
	assert.NoError(t, cfg.Validate(nil), "nil keys skip the template check")
}

func TestMarshalRoundTripDruidShape(t *testing.T) {
	cfg, _, err := Parse([]byte(druidDocsExample))
	require.NoError(t, err)
	out, err := json.Marshal(cfg)
	require.NoError(t, err)
	assert.JSONEq(t, `{"type":"default","capacity":null,"podTemplateSelectStrategy":{"type":"selectorBased","selectors":[
		{"selectionKey":"podSpec1","context.tags":{"userProvidedTag":["tag1","tag2"]},"type":null,"dataSource":["wikipedia"]},
		{"selectionKey":"podSpec2","context.tags":null,"type":["index_kafka"],"dataSource":null}]}}`, string(out))
	again, _, err := Parse(out)
	require.NoError(t, err)
	assert.Equal(t, cfg, again)

	cfg, _, err = Parse([]byte(`{"podTemplateSelectStrategy":{"type":"taskType"},"capacity":7}`))
	require.NoError(t, err)
	out, err = json.Marshal(cfg)
	require.NoError(t, err)
	assert.JSONEq(t, `{"type":"default","podTemplateSelectStrategy":{"type":"default"},"capacity":7}`, string(out))
}

func TestMergeKeepsUnsetFields(t *testing.T) {
	seven, nine := 7, 9
	sb := &Strategy{Type: StrategyTypeSelectorBased, Selectors: []Selector{{SelectionKey: "a"}}}
	cur := &ExecutionConfig{PodTemplateSelectStrategy: sb, Capacity: &seven}
	tests := []struct {
		name   string
		cur    *ExecutionConfig
		update *ExecutionConfig
		want   *ExecutionConfig
	}{
		{"nothing stored", nil, &ExecutionConfig{Capacity: &nine}, &ExecutionConfig{Capacity: &nine}},
		{"capacity only", cur, &ExecutionConfig{Capacity: &nine}, &ExecutionConfig{PodTemplateSelectStrategy: sb, Capacity: &nine}},
		{"strategy only", cur, &ExecutionConfig{PodTemplateSelectStrategy: DefaultStrategy()}, &ExecutionConfig{PodTemplateSelectStrategy: DefaultStrategy(), Capacity: &seven}},
		{"neither", cur, &ExecutionConfig{}, cur},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.cur.Merge(tc.update))
		})
	}
	assert.Equal(t, 7, *cur.Capacity, "merge must not modify its receiver")
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(druidDocsExample))
	f.Add([]byte(`{"type":"default","podTemplateSelectStrategy":{"type":"default"},"capacity":3}`))
	f.Add([]byte(`{"podTemplateSelectStrategy":{"type":"selectorBased","selectors":[{"selectionKey":"a","context.tags":{"t":[]}}]}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, _, err := Parse(data)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error is %T, want *FieldError: %v", err, err)
			}
			return
		}
		// What parses must serialise and parse back to the same config.
		out, err := json.Marshal(cfg)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, _, err := Parse(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		out2, err := json.Marshal(again)
		if err != nil {
			t.Fatalf("marshal again: %v", err)
		}
		if string(out) != string(out2) {
			t.Fatalf("round trip changed the config:\n%s\n%s", out, out2)
		}
	})
}
