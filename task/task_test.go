package task

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func TestParseDruidExamples(t *testing.T) {
	tests := []struct {
		file       string
		typ        string
		id         string
		group      string
		ds         string
		availGroup string
		priority   int
		tags       map[string]string
	}{
		{
			file: "index-parallel-with-id.json", typ: "index_parallel",
			id:         "index_parallel_wikipedia_short_iajoonnd_2023-07-07T17:53:12.174Z",
			group:      "index_parallel_wikipedia_short_iajoonnd_2023-07-07T17:53:12.174Z",
			ds:         "wikipedia_short",
			availGroup: "index_parallel_wikipedia_short_iajoonnd_2023-07-07T17:53:12.174Z",
			priority:   DefaultBatchIndexPriority, tags: map[string]string{"team": "growth"},
		},
		{
			file: "index-kafka-with-id.json", typ: "index_kafka",
			id: "index_kafka_wiki_0e905aa31037879_nommnaeg", group: "index_kafka_wiki", ds: "wiki",
			availGroup: "index_kafka_wiki_0e905aa31037879", priority: DefaultRealtimePriority,
		},
		{
			file: "kill-with-id.json", typ: "kill",
			id:         "api-issued_kill_wiki_pkjgfhdi_2024-01-01T00:00:00.000Z_2024-02-01T00:00:00.000Z_2024-05-01T10:02:11.000Z",
			group:      "api-issued_kill_wiki_pkjgfhdi_2024-01-01T00:00:00.000Z_2024-02-01T00:00:00.000Z_2024-05-01T10:02:11.000Z",
			ds:         "wiki",
			availGroup: "api-issued_kill_wiki_pkjgfhdi_2024-01-01T00:00:00.000Z_2024-02-01T00:00:00.000Z_2024-05-01T10:02:11.000Z",
			priority:   0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw := readFixture(t, tt.file)
			got, err := Parse(raw)
			require.NoError(t, err)
			assert.Equal(t, tt.typ, got.Type)
			assert.Equal(t, tt.id, got.ID)
			assert.Equal(t, tt.group, got.GroupID)
			assert.Equal(t, tt.ds, got.DataSource)
			assert.Equal(t, tt.availGroup, got.Resource.AvailabilityGroup)
			assert.Equal(t, 1, got.Resource.RequiredCapacity)
			assert.Equal(t, tt.priority, got.Priority)
			assert.Equal(t, tt.tags, got.Tags)
			// The raw JSON is kept byte for byte, and MarshalJSON gives it back.
			assert.Equal(t, raw, got.Raw())
			out, err := json.Marshal(got)
			require.NoError(t, err)
			assert.JSONEq(t, string(raw), string(out))
		})
	}
}

// The quickstart files have no id: the Overlord names them. EnsureID does the
// same, and Parse then sees Druid's defaults.
func TestEnsureIDOnQuickstartTasks(t *testing.T) {
	now := time.Date(2024, 5, 1, 10, 0, 0, 123e6, time.UTC)
	tests := []struct {
		file     string
		typ      string
		prefix   string
		priority int
	}{
		{"task.json", "noop", "noop_", 0},
		{"deletion-kill.json", "kill", "kill_deletion-tutorial_", 0},
		{"compaction-keep-granularity.json", "compact", "compact_compaction-tutorial_", DefaultMergePriority},
		{"compaction-day-granularity.json", "compact", "compact_compaction-tutorial_", DefaultMergePriority},
		{"rollup-index.json", "index_parallel", "index_parallel_rollup-tutorial_", DefaultBatchIndexPriority},
		{"wikipedia-index.json", "index", "index_wikipedia_", DefaultBatchIndexPriority},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw := readFixture(t, tt.file)
			_, err := Parse(raw)
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, "id", fe.Field)

			withID, err := EnsureID(raw, now)
			require.NoError(t, err)
			got, err := Parse(withID)
			require.NoError(t, err)
			assert.Equal(t, tt.typ, got.Type)
			assert.True(t, strings.HasPrefix(got.ID, tt.prefix), got.ID)
			assert.True(t, strings.HasSuffix(got.ID, "_2024-05-01T10:00:00.123Z"), got.ID)
			assert.Equal(t, got.ID, got.GroupID)
			assert.Equal(t, tt.priority, got.Priority)

			// Everything but the inserted id is unchanged.
			var before, after map[string]any
			require.NoError(t, json.Unmarshal(raw, &before))
			require.NoError(t, json.Unmarshal(withID, &after))
			delete(after, "id")
			assert.Equal(t, before, after)
		})
	}
}

func TestEnsureIDKeepsExistingID(t *testing.T) {
	raw := readFixture(t, "index-kafka-with-id.json")
	out, err := EnsureID(raw, time.Now())
	require.NoError(t, err)
	assert.Equal(t, raw, out)
}

func TestEnsureIDEdgeCases(t *testing.T) {
	out, err := EnsureID([]byte(`{"type":"noop"}`), time.Unix(0, 0))
	require.NoError(t, err)
	assert.Regexp(t, `^\{"id":"noop_[a-z]{8}_1970-01-01T00:00:00.000Z","type":"noop"\}$`, string(out))

	_, err = EnsureID([]byte(`{"type":"noop","id":null}`), time.Unix(0, 0))
	assert.ErrorContains(t, err, `"id"`)
	_, err = EnsureID([]byte(`{}`), time.Unix(0, 0))
	assert.ErrorContains(t, err, `"type"`)
	_, err = EnsureID([]byte(`[1]`), time.Unix(0, 0))
	assert.ErrorContains(t, err, "JSON object")
}

func TestParseErrorsNameTheField(t *testing.T) {
	tests := []struct {
		name  string
		json  string
		field string
	}{
		{"empty", ``, "task"},
		{"array", `[]`, "task"},
		{"not json", `{"type":`, "task"},
		{"no type", `{"id":"a"}`, "type"},
		{"type not string", `{"id":"a","type":3}`, "type"},
		{"no id", `{"type":"noop"}`, "id"},
		{"empty id", `{"type":"noop","id":""}`, "id"},
		{"id with slash", `{"type":"noop","id":"a/b"}`, "id"},
		{"id starting with dot", `{"type":"noop","id":".a"}`, "id"},
		{"id with tab", `{"type":"noop","id":"a\tb"}`, "id"},
		{"id with newline", `{"type":"noop","id":"a\nb"}`, "id"},
		{"groupId not string", `{"type":"noop","id":"a","groupId":{}}`, "groupId"},
		{"dataSource not string", `{"type":"noop","id":"a","dataSource":[]}`, "dataSource"},
		{"resource not object", `{"type":"noop","id":"a","resource":"x"}`, "resource"},
		{"requiredCapacity zero", `{"type":"noop","id":"a","resource":{"requiredCapacity":0}}`, "resource.requiredCapacity"},
		{"requiredCapacity string", `{"type":"noop","id":"a","resource":{"requiredCapacity":"2"}}`, "resource.requiredCapacity"},
		{"context not object", `{"type":"noop","id":"a","context":5}`, "context"},
		{"priority not number", `{"type":"noop","id":"a","context":{"priority":"high"}}`, "context.priority"},
		{"priority fraction", `{"type":"noop","id":"a","context":{"priority":1.5}}`, "context.priority"},
		{"tags not object", `{"type":"noop","id":"a","context":{"tags":["x"]}}`, "context.tags"},
		{"tag value object", `{"type":"noop","id":"a","context":{"tags":{"t":{"x":1}}}}`, "context.tags"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.json))
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.field, fe.Field, fe.Error())
			assert.NotEmpty(t, fe.Reason)
		})
	}
}

func TestParseDefaultsAndContext(t *testing.T) {
	got, err := Parse([]byte(`{"type":"index_kafka","id":"t1","groupId":"g","resource":{"availabilityGroup":"ag","requiredCapacity":3},
		"context":{"priority":"90","tags":{"team":"a","n":5,"ok":true,"skip":null},"druid.indexer.runner.javaOpts":"-Xmx2g"}}`))
	require.NoError(t, err)
	assert.Equal(t, "g", got.GroupID)
	assert.Equal(t, Resource{AvailabilityGroup: "ag", RequiredCapacity: 3}, got.Resource)
	assert.Equal(t, 90, got.Priority)
	assert.Equal(t, map[string]string{"team": "a", "n": "5", "ok": "true"}, got.Tags)
	v, ok := got.ContextString("druid.indexer.runner.javaOpts")
	assert.True(t, ok)
	assert.Equal(t, "-Xmx2g", v)
	_, ok = got.ContextString("priority")
	assert.True(t, ok, "priority was given as a string")
	_, ok = got.ContextString("missing")
	assert.False(t, ok)

	got, err = Parse([]byte(`{"type":"index_kafka","id":"t2","groupId":null,"context":{"priority":null}}`))
	require.NoError(t, err)
	assert.Equal(t, "t2", got.GroupID)
	assert.Equal(t, DefaultRealtimePriority, got.Priority)
	assert.Nil(t, got.Tags)
}

func TestDefaultPriorityFor(t *testing.T) {
	tests := map[string]int{
		"index_kafka": 75, "index_kinesis": 75, "index": 50, "index_parallel": 50, "index_hadoop": 50,
		"single_phase_sub_task": 50, "compact": 25, "kill": 0, "noop": 0, "unknown_type": 0,
	}
	for typ, want := range tests {
		assert.Equal(t, want, DefaultPriorityFor(typ), typ)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"index-parallel-with-id.json", "index-kafka-with-id.json", "kill-with-id.json", "task.json", "rollup-index.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"type":"x","id":"y","context":{"tags":{"a":"b"},"priority":"7"},"resource":{"requiredCapacity":2}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := Parse(raw)
		if err != nil {
			var fe *FieldError
			if !errorsAs(err, &fe) || fe.Field == "" {
				t.Fatalf("error without a field: %v", err)
			}
			return
		}
		if got.ID == "" || got.Type == "" || got.GroupID == "" || got.Resource.RequiredCapacity < 1 {
			t.Fatalf("parsed task misses required values: %+v", got)
		}
		if string(got.Raw()) != string(raw) {
			t.Fatal("raw JSON not kept byte-exact")
		}
		withID, err := EnsureID(raw, time.Unix(0, 0))
		if err != nil || string(withID) != string(raw) {
			t.Fatalf("EnsureID changed a task that has an id: %v", err)
		}
	})
}

func FuzzEnsureID(f *testing.F) {
	f.Add([]byte(`{"type":"noop"}`))
	f.Add([]byte(`{ "type" : "kill", "dataSource":"d" }`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, err := EnsureID(raw, time.Unix(0, 0))
		if err != nil {
			return
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("EnsureID produced invalid JSON %q from %q: %v", out, raw, err)
		}
		if _, ok := m["id"].(string); !ok {
			t.Fatalf("EnsureID produced no string id: %q", out)
		}
	})
}
