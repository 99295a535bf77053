package k8srunner

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"
)

type props map[string]string

func (p props) Get(k string) (string, bool) { v, ok := p[k]; return v, ok }

func TestConfigFromPropertiesDefaults(t *testing.T) {
	c, err := ConfigFromProperties(props{PropNamespace: "druid"})
	require.NoError(t, err)
	want := DefaultConfig()
	want.Namespace = "druid"
	assert.Equal(t, want, c)
	assert.Equal(t, math.MaxInt32, c.Capacity, "Druid's Integer.MAX_VALUE")
	assert.Equal(t, time.Hour, c.LaunchTimeout)
	assert.Equal(t, 4*time.Hour, c.MaxTaskDuration)
	assert.Equal(t, 48*time.Hour, c.TaskCleanupDelay)
	assert.Equal(t, 10*time.Minute, c.TaskCleanupInterval)
	assert.Equal(t, time.Minute, c.TaskJoinTimeout)
	assert.False(t, c.DebugJobs)
	assert.True(t, c.AdoptDruidJobs)
	assert.Empty(t, c.OwnerID)
	assert.Equal(t, "druid", c.Owner(), "unset: derived from the namespace")
}

func TestConfigFromPropertiesAllKeys(t *testing.T) {
	c, err := ConfigFromProperties(props{
		PropNamespace:           " peons ",
		PropCapacity:            "12",
		PropLaunchTimeout:       "PT5M",
		PropMaxTaskDuration:     "PT2H",
		PropTaskCleanupDelay:    "P1D",
		PropTaskCleanupInterval: "PT10m",
		PropTaskJoinTimeout:     "PT30S",
		PropDebugJobs:           "true",
		PropClientQPS:           "25.5",
		PropClientBurst:         "40",
		PropWorkers:             "2",
		PropStatusWaitTimeout:   "PT1M",
		PropCompletedRetention:  "PT2H",
		PropCompletedMax:        "500",
		PropOverlordNamespace:   "druid-c1",
		PropOwnerID:             "gw-a",
		PropAdoptDruidJobs:      "false",
	})
	require.NoError(t, err)
	assert.Equal(t, Config{
		Namespace: "peons", Capacity: 12, LaunchTimeout: 5 * time.Minute, MaxTaskDuration: 2 * time.Hour,
		TaskCleanupDelay: 24 * time.Hour, TaskCleanupInterval: 10 * time.Minute, TaskJoinTimeout: 30 * time.Second,
		DebugJobs: true, ClientQPS: 25.5, ClientBurst: 40, Workers: 2, StatusWaitTimeout: time.Minute,
		CompletedRetention: 2 * time.Hour, CompletedMax: 500,
		OverlordNamespace: "druid-c1", OwnerID: "gw-a", AdoptDruidJobs: false,
	}, c)
	assert.Equal(t, "gw-a", c.Owner())
	var rc rest.Config
	c.ApplyTo(&rc)
	assert.Equal(t, float32(25.5), rc.QPS)
	assert.Equal(t, 40, rc.Burst)
}

func TestConfigErrorsNameTheProperty(t *testing.T) {
	tests := []struct {
		name  string
		props props
		want  string
	}{
		{"namespace missing", props{}, PropNamespace + ": is required"},
		{"capacity zero", props{PropNamespace: "n", PropCapacity: "0"}, PropCapacity + ": must be at least 1"},
		{"capacity not a number", props{PropNamespace: "n", PropCapacity: "many"}, PropCapacity + `: must be an integer, got "many"`},
		{"capacity over int32", props{PropNamespace: "n", PropCapacity: "2147483648"}, PropCapacity},
		{"bad period", props{PropNamespace: "n", PropLaunchTimeout: "1h"}, PropLaunchTimeout},
		{"zero period", props{PropNamespace: "n", PropTaskCleanupInterval: "PT0S"}, PropTaskCleanupInterval + ": must be a positive duration"},
		{"debugJobs", props{PropNamespace: "n", PropDebugJobs: "yes please"}, PropDebugJobs + ": must be true or false"},
		{"qps", props{PropNamespace: "n", PropClientQPS: "fast"}, PropClientQPS + ": must be a number"},
		{"burst", props{PropNamespace: "n", PropClientBurst: "0"}, PropClientBurst + ": must be at least 1"},
		{"workers", props{PropNamespace: "n", PropWorkers: "1000"}, PropWorkers + ": must be between 1 and 64"},
		{"owner id", props{PropNamespace: "n", PropOwnerID: "a/b"}, PropOwnerID + `: "a/b" is not a valid label value`},
		{"adopt", props{PropNamespace: "n", PropAdoptDruidJobs: "maybe"}, PropAdoptDruidJobs + ": must be true or false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ConfigFromProperties(tt.props)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// The owner id defaults to the namespace Druid uses as a cluster's
// identity: overlordNamespace when set (tasks in a shared namespace), else
// the task namespace.
func TestOwnerDefaults(t *testing.T) {
	c := DefaultConfig()
	c.Namespace = "tasks"
	assert.Equal(t, "tasks", c.Owner())
	assert.Equal(t, "tasks", c.overlordNamespace())
	c.OverlordNamespace = "druid-c1"
	assert.Equal(t, "druid-c1", c.Owner())
	assert.Equal(t, "druid-c1", c.overlordNamespace())
	c.OwnerID = "gw-a"
	assert.Equal(t, "gw-a", c.Owner())
}

func TestNewRejectsMissingDeps(t *testing.T) {
	cfg := DefaultConfig()
	_, err := New(cfg, Deps{})
	require.ErrorContains(t, err, PropNamespace)
	cfg.Namespace = "n"
	_, err = New(cfg, Deps{})
	require.ErrorContains(t, err, "Deps.Client")
}
