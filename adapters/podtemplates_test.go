package adapters

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func getPodTemplates(t *testing.T, h http.Handler) (int, []byte) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + PathPodTemplates)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body json.RawMessage
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	return resp.StatusCode, body
}

func TestPodTemplatesEndpoint(t *testing.T) {
	_, c := copyTemplates(t)
	a := newTestAdapter(t, c, Deps{})
	status, body := getPodTemplates(t, NewPodTemplatesHandler(a))
	require.Equal(t, http.StatusOK, status)

	// Druid's PodTemplateWithName: a JSON array of {"name", "podTemplate"}.
	var got []struct {
		Name        string `json:"name"`
		PodTemplate struct {
			Kind     string `json:"kind"`
			Template struct {
				Spec struct {
					Containers []struct {
						Image string `json:"image"`
					} `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"podTemplate"`
	}
	require.NoError(t, json.Unmarshal(body, &got))
	require.Len(t, got, 2)
	assert.Equal(t, "base", got[0].Name)
	assert.Equal(t, "index_kafka", got[1].Name)
	require.NotEmpty(t, got[0].PodTemplate.Template.Spec.Containers)
	assert.Equal(t, "apache/druid:34.0.0", got[0].PodTemplate.Template.Spec.Containers[0].Image)

	// The list shows what the adapter last loaded: an edited file appears
	// once a task has re-read it.
	file := c.PodTemplates["base"]
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, []byte(strings.ReplaceAll(string(data), "apache/druid:34.0.0", "apache/druid:35.0.0")), 0o644))
	later := time.Now().Add(time.Minute)
	require.NoError(t, os.Chtimes(file, later, later))
	tk, _ := loadTask(t, "compact")
	_, err = a.(*templateAdapter).Render(tk)
	require.NoError(t, err)
	_, body = getPodTemplates(t, NewPodTemplatesHandler(a))
	require.NoError(t, json.Unmarshal(body, &got))
	assert.Equal(t, "apache/druid:35.0.0", got[0].PodTemplate.Template.Spec.Containers[0].Image)
}

func TestPodTemplatesEndpointOtherAdapters(t *testing.T) {
	for _, typ := range []string{TypeSingleContainer, TypeMultiContainer} {
		t.Run(typ, func(t *testing.T) {
			a := newTestAdapter(t, goldenConfig(t, typ), Deps{})
			status, body := getPodTemplates(t, NewPodTemplatesHandler(a))
			assert.Equal(t, http.StatusNotFound, status)
			var e map[string]any
			require.NoError(t, json.Unmarshal(body, &e))
			assert.Equal(t, "druidException", e["error"])
			assert.Equal(t, "NOT_FOUND", e["category"])
			assert.Equal(t, "OPERATOR", e["persona"])
			assert.Equal(t, "Pod templates are only available when the k8s task adapter type is [customTemplateAdapter]", e["errorMessage"])
		})
	}
}
