package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskgate/taskgate/adapters"
	"github.com/taskgate/taskgate/k8srunner"
)

// The gateway serves Druid's pod template list, and a POSTed execution
// config capacity (apache/druid#18591) changes the Kubernetes runner's
// capacity without a restart.
func TestServePodTemplatesAndLiveCapacity(t *testing.T) {
	g, stop := startK8sGateway(t, "")
	defer stop()
	base := g.base
	client := &http.Client{Timeout: 10 * time.Second}

	resp, err := client.Get(base + adapters.PathPodTemplates)
	require.NoError(t, err)
	var templates []struct {
		Name        string         `json:"name"`
		PodTemplate map[string]any `json:"podTemplate"`
	}
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&templates))
	resp.Body.Close()
	require.Len(t, templates, 1)
	assert.Equal(t, "base", templates[0].Name)
	assert.Equal(t, "peon-base", templates[0].PodTemplate["metadata"].(map[string]any)["name"])

	totalSlots := func() int {
		resp, err := client.Get(base + "/taskgate/v1/capacity")
		require.NoError(t, err)
		defer resp.Body.Close()
		var cap struct {
			TotalSlots map[string]int `json:"totalSlots"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&cap))
		return cap.TotalSlots[k8srunner.WorkerCategory]
	}
	assert.Equal(t, 4, totalSlots(), "static capacity before any execution config")

	resp, err = client.Post(base+"/druid/indexer/v1/k8s/taskrunner/executionconfig", "application/json", strings.NewReader(`{"capacity":2}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Eventually(t, func() bool { return totalSlots() == 2 }, 10*time.Second, 50*time.Millisecond, "posted capacity in force without a restart")
}
