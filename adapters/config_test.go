package adapters

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParsePeriod(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"PT4H", 4 * time.Hour},
		{"P2D", 48 * time.Hour},
		{"PT10m", 10 * time.Minute}, // Druid's own default spelling
		{"PT300S", 300 * time.Second},
		{"P1W", 7 * 24 * time.Hour},
		{"P1DT2H3M4S", 26*time.Hour + 3*time.Minute + 4*time.Second},
		{"PT1.5S", 1500 * time.Millisecond},
		{"pt1h", time.Hour},
		{" PT1M ", time.Minute},
		{"PT0S", 0},
	}
	for _, tt := range tests {
		got, err := parsePeriod(tt.in)
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
	for _, bad := range []string{"", "4h", "P", "PT", "P1M", "P1Y", "PT-1H", "P1H", "PT1D", "PT1H1H", "PT1M1H", "P1.5D", "PTXH", "P99999999999999999999D", "PT1HT"} {
		_, err := parsePeriod(bad)
		assert.Error(t, err, "%q should not parse", bad)
	}
}

func TestConfigFromPropertiesDefaults(t *testing.T) {
	c, err := ConfigFromProperties(MapProperties{})
	require.NoError(t, err)
	assert.Equal(t, DefaultConfig(), c)
	assert.Equal(t, TypeSingleContainer, c.AdapterType)
	assert.Equal(t, 4*time.Hour, c.MaxTaskDuration)
	assert.Equal(t, 48*time.Hour, c.TaskCleanupDelay)
	assert.Equal(t, DefaultKubexitImage, c.KubexitImage)
	assert.Equal(t, "/tmp/persistent/task", c.taskBaseDir())
}

func TestConfigFromProperties(t *testing.T) {
	base := filepath.Join("testdata", "podtemplates", "base.yaml")
	p := MapProperties{
		PropAdapterType:                       TypeCustomTemplate,
		PropNamespace:                         "druid",
		PropOverlordNamespace:                 "druid-master",
		PropK8sTaskPodNamePrefix:              "prod",
		PropDebugJobs:                         "TRUE",
		PropPrimaryContainerName:              "druid",
		PropKubexitImage:                      "example/kubexit:1",
		PropGraceTerminationPeriodSeconds:     "15",
		PropDisableClientProxy:                "true",
		PropMaxTaskDuration:                   "PT8H",
		PropTaskCleanupDelay:                  "P1D",
		PropPeonMonitors:                      `["a.B"]`,
		PropJavaOptsArray:                     `["-Xmx3g","-XX:MaxDirectMemorySize=1g"]`,
		PropCPUCoreInMicro:                    "2500",
		PropLabels:                            `{"team":"ingest"}`,
		PropAnnotations:                       `{"example.com/a":"b"}`,
		PropPodTemplatePrefix + "base":        base,
		PropPodTemplatePrefix + "index_kafka": filepath.Join("testdata", "podtemplates", "index_kafka.yaml"),
		PropTaskBaseDir:                       "/data",
		PropTaskBaseTaskDir:                   "var/druid/task",
		PropEnableTLSPort:                     "true",
	}
	c, err := ConfigFromProperties(p)
	require.NoError(t, err)
	grace := int64(15)
	want := Config{
		AdapterType:                   TypeCustomTemplate,
		Namespace:                     "druid",
		OverlordNamespace:             "druid-master",
		K8sTaskPodNamePrefix:          "prod",
		DebugJobs:                     true,
		PrimaryContainerName:          "druid",
		KubexitImage:                  "example/kubexit:1",
		GraceTerminationPeriodSeconds: &grace,
		DisableClientProxy:            true,
		MaxTaskDuration:               8 * time.Hour,
		TaskCleanupDelay:              24 * time.Hour,
		PeonMonitors:                  []string{"a.B"},
		JavaOptsArray:                 []string{"-Xmx3g", "-XX:MaxDirectMemorySize=1g"},
		CPUCoreInMicro:                2500,
		Labels:                        map[string]string{"team": "ingest"},
		Annotations:                   map[string]string{"example.com/a": "b"},
		PodTemplates: map[string]string{
			"base":        base,
			"index_kafka": filepath.Join("testdata", "podtemplates", "index_kafka.yaml"),
		},
		BaseDir:       "/data",
		BaseTaskDir:   "var/druid/task",
		EnableTLSPort: true,
		// Unset ownerId: the overlord namespace (apache/druid#17738's
		// cluster identity).
		OwnerID:              "druid-master",
		TemplateReloadPeriod: DefaultTemplateReloadPeriod,
	}
	assert.Equal(t, want, c)
	assert.Equal(t, "/opt/druid/var/druid/task", c.taskBaseDir())
}

func TestConfigSidecarSupport(t *testing.T) {
	c, err := ConfigFromProperties(MapProperties{PropSidecarSupport: "true"})
	require.NoError(t, err)
	assert.Equal(t, TypeMultiContainer, c.AdapterType)

	_, err = ConfigFromProperties(MapProperties{PropSidecarSupport: "true", PropAdapterType: TypeSingleContainer})
	assert.ErrorContains(t, err, PropSidecarSupport)
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name  string
		props MapProperties
		want  []string // every one must appear in the error
	}{
		{"javaOpts rejected", MapProperties{PropJavaOpts: "-Xmx1g"}, []string{PropJavaOpts, PropJavaOptsArray, "JSON array"}},
		{"unknown adapter", MapProperties{PropAdapterType: "overlordSingle"}, []string{PropAdapterType, "overlordSingle"}},
		{"custom without base", MapProperties{PropAdapterType: TypeCustomTemplate}, []string{"druid.indexer.runner.k8s.podTemplate.base", "required"}},
		{"template key with dot", MapProperties{PropPodTemplatePrefix + "a.b": "/x"}, []string{"must not contain '.'"}},
		{"bad period", MapProperties{PropMaxTaskDuration: "4 hours"}, []string{PropMaxTaskDuration, "ISO-8601"}},
		{"months", MapProperties{PropTaskCleanupDelay: "P1M"}, []string{PropTaskCleanupDelay, "months"}},
		{"zero duration", MapProperties{PropMaxTaskDuration: "PT0S"}, []string{PropMaxTaskDuration, "at least one second"}},
		{"bad bool", MapProperties{PropDebugJobs: "yes"}, []string{PropDebugJobs, "true or false"}},
		{"bad array", MapProperties{PropJavaOptsArray: "-Xmx1g"}, []string{PropJavaOptsArray, "JSON array"}},
		{"bad map", MapProperties{PropLabels: `["a"]`}, []string{PropLabels, "JSON object"}},
		{"bad label value", MapProperties{PropLabels: `{"a":"not valid!"}`}, []string{PropLabels, "not valid!"}},
		{"bad label key", MapProperties{PropLabels: `{"-a":"b"}`}, []string{PropLabels, "-a"}},
		{"bad annotation key", MapProperties{PropAnnotations: `{"a b":"c"}`}, []string{PropAnnotations, "a b"}},
		{"negative cpu", MapProperties{PropCPUCoreInMicro: "-1"}, []string{PropCPUCoreInMicro}},
		{"bad cpu", MapProperties{PropCPUCoreInMicro: "1.5"}, []string{PropCPUCoreInMicro}},
		{"negative grace", MapProperties{PropGraceTerminationPeriodSeconds: "-3"}, []string{PropGraceTerminationPeriodSeconds}},
		{"empty base dir", MapProperties{PropTaskBaseDir: " "}, []string{PropTaskBaseDir, "must not be empty"}},
		{"cleanup delay overflows int32", MapProperties{PropTaskCleanupDelay: "P30000D"}, []string{PropTaskCleanupDelay}},
		{"bad owner id", MapProperties{PropOwnerID: "team a/b"}, []string{PropOwnerID, "team a/b", "not a valid label value"}},
		{"long owner id", MapProperties{PropOwnerID: strings.Repeat("a", 64)}, []string{PropOwnerID, "63"}},
		{"bad reload period", MapProperties{PropTemplateReloadPeriod: "10s"}, []string{PropTemplateReloadPeriod, "ISO-8601"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ConfigFromProperties(tt.props)
			require.Error(t, err)
			for _, w := range tt.want {
				assert.ErrorContains(t, err, w)
			}
		})
	}
}

// The owner id labels every Job (LabelOwner). Unset, it is derived from
// the namespace Druid uses as a cluster's identity, so every replica of a
// gateway derives the same one.
func TestOwnerID(t *testing.T) {
	tests := []struct {
		name  string
		props MapProperties
		want  string
	}{
		{"explicit", MapProperties{PropOwnerID: "ingest-a", PropNamespace: "druid"}, "ingest-a"},
		{"overlord namespace", MapProperties{PropOverlordNamespace: "druid-c1", PropNamespace: "tasks"}, "druid-c1"},
		{"namespace", MapProperties{PropNamespace: "druid"}, "druid"},
		{"made a label value", MapProperties{PropOverlordNamespace: "-druid.c1/", PropNamespace: "tasks"}, "druid.c1"},
		{"nothing set", MapProperties{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ConfigFromProperties(tt.props)
			require.NoError(t, err)
			assert.Equal(t, tt.want, c.OwnerID)
		})
	}
}

func TestMapPropertiesKeys(t *testing.T) {
	p := MapProperties{"a.b": "1", "a.c": "2", "b.a": "3"}
	assert.Equal(t, []string{"a.b", "a.c"}, p.Keys("a."))
}
