package config

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCatalogueEntriesAreWellFormed(t *testing.T) {
	groups := []Group{GroupKubernetes, GroupHybrid, GroupWorkerRunner, GroupTask, GroupTaskLogs, GroupTaskgate}
	types := []Type{TypeString, TypeInt, TypeLong, TypeBool, TypeFloat, TypeDuration, TypeJSONArray, TypeJSONObject}
	seen := map[string]bool{}
	for _, p := range Catalogue() {
		t.Run(p.Name, func(t *testing.T) {
			assert.False(t, seen[p.Name], "duplicate")
			seen[p.Name] = true
			if p.Group == GroupTaskgate {
				assert.True(t, strings.HasPrefix(p.Name, "taskgate."), "taskgate's own properties are named taskgate.*")
			} else {
				assert.True(t, strings.HasPrefix(p.Name, "druid."))
			}
			assert.NotEmpty(t, p.Doc)
			assert.Contains(t, groups, p.Group)
			assert.Contains(t, types, p.Type)
			assert.Equal(t, p.Pattern, strings.Contains(p.Name, "<"), "patterns and only patterns have a <placeholder>")
			if p.Pattern {
				assert.True(t, strings.HasSuffix(p.Prefix(), "."))
				assert.Empty(t, p.Default, "a pattern has no default")
			}
			if p.Default != "" {
				require.NoError(t, checkType(p.Type, p.Default), "default must be a valid %s", p.Type)
				if len(p.Allowed) > 0 {
					assert.Contains(t, p.Allowed, p.Default)
				}
				if p.check != nil {
					assert.NoError(t, p.check(p.Default))
				}
			}
		})
	}
}

// The property tables of Druid's k8s-jobs.md and the fields of
// KubernetesTaskRunnerStaticConfig / KubernetesAndWorkerTaskRunnerConfig, plus
// the worker runner's (druid-worker-protocol.md 2.14): each must be known.
func TestCatalogueCoversDruid(t *testing.T) {
	runner := []string{
		"namespace", "overlordNamespace", "k8sTaskPodNamePrefix", "debugJobs", "sidecarSupport",
		"primaryContainerName", "kubexitImage", "disableClientProxy", "maxTaskDuration",
		"taskCleanupDelay", "taskCleanupInterval", "taskJoinTimeout", "k8sjobLaunchTimeout",
		"logSaveTimeout", "javaOptsArray", "labels", "annotations", "peonMonitors",
		"graceTerminationPeriodSeconds", "capacity", "cpuCoreInMicro", "useK8sSharedInformers",
		"k8sSharedInformerResyncPeriod", "k8s.adapter.type", "type",
		"k8sAndWorker.runnerStrategy.type", "k8sAndWorker.runnerStrategy.workerType",
		"k8sAndWorker.runnerStrategy.taskType.default", "k8sAndWorker.runnerStrategy.taskType.overrides",
		// worker runner
		"taskAssignmentTimeout", "taskCleanupTimeout", "pendingTasksRunnerNumThreads",
		"maxRetriesBeforeBlacklist", "workerBlackListBackoffTime", "workerBlackListCleanupPeriod",
		"maxPercentageBlacklistWorkers", "workerSyncNumThreads", "shutdownRequestMaxRetries",
		"shutdownRequestHttpTimeout", "assignRequestMaxRetries", "assignRequestHttpTimeout",
		"syncRequestTimeout", "serverUnstabilityTimeout", "minWorkerVersion",
	}
	for _, name := range runner {
		p, ok := LookupProperty("druid.indexer.runner." + name)
		assert.True(t, ok, name)
		assert.Equal(t, "druid.indexer.runner."+name, p.Name)
	}
	for _, key := range []string{
		"druid.indexer.runner.k8s.podTemplate.base",
		"druid.indexer.runner.k8s.podTemplate.index_kafka",
		"druid.indexer.task.baseTaskDir",
		"druid.indexer.task.encapsulatedTask",
		"druid.indexer.logs.type",
		"druid.indexer.logs.directory",
		"druid.indexer.logs.s3Bucket",
		"druid.indexer.logs.s3Prefix",
	} {
		_, ok := LookupProperty(key)
		assert.True(t, ok, key)
	}
}

func TestCatalogueDefaultsMatchDruid(t *testing.T) {
	want := map[string]string{
		"druid.indexer.runner.maxTaskDuration":                        "PT4H",
		"druid.indexer.runner.taskCleanupDelay":                       "P2D",
		"druid.indexer.runner.taskCleanupInterval":                    "PT10M",
		"druid.indexer.runner.k8sjobLaunchTimeout":                    "PT1H",
		"druid.indexer.runner.taskJoinTimeout":                        "PT1M",
		"druid.indexer.runner.capacity":                               "2147483647",
		"druid.indexer.runner.kubexitImage":                           "karlkfi/kubexit:v0.3.2",
		"druid.indexer.runner.k8sAndWorker.runnerStrategy.type":       "k8s",
		"druid.indexer.runner.k8sAndWorker.runnerStrategy.workerType": "httpRemote",
		"druid.indexer.runner.taskCleanupTimeout":                     "PT15M",
		"druid.indexer.runner.taskAssignmentTimeout":                  "PT5M",
	}
	for name, def := range want {
		p, ok := LookupProperty(name)
		require.True(t, ok, name)
		assert.Equal(t, def, p.Default, name)
	}
	p, _ := LookupProperty("druid.indexer.runner.javaOpts")
	assert.NotEmpty(t, p.Rejected)
	p, _ = LookupProperty("druid.indexer.runner.sidecarSupport")
	assert.NotEmpty(t, p.Deprecated)
}

func TestLookupProperty(t *testing.T) {
	tests := []struct {
		key      string
		wantName string
		wantOK   bool
	}{
		{"druid.indexer.runner.capacity", "druid.indexer.runner.capacity", true},
		{"druid.indexer.runner.k8s.podTemplate.base", "druid.indexer.runner.k8s.podTemplate.<taskType>", true},
		{"druid.indexer.runner.labels", "druid.indexer.runner.labels", true},
		{"druid.indexer.runner.labels.team", "druid.indexer.runner.labels.<name>", true},
		{"druid.indexer.runner.k8s.podTemplate", "", false},
		{"druid.indexer.runner.k8s.podTemplate.", "", false},
		{"druid.indexer.runner.Capacity", "", false},
		{"druid.host", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			p, ok := LookupProperty(tc.key)
			assert.Equal(t, tc.wantOK, ok)
			assert.Equal(t, tc.wantName, p.Name)
		})
	}
}

func TestCatalogueIsACopy(t *testing.T) {
	c := Catalogue()
	i := slices.IndexFunc(c, func(p Property) bool { return len(p.Allowed) > 0 })
	require.GreaterOrEqual(t, i, 0)
	name := c[i].Name
	c[i].Allowed[0] = "changed"
	c[i].Default = "changed"
	p, ok := LookupProperty(name)
	require.True(t, ok)
	assert.NotEqual(t, "changed", p.Allowed[0])
	assert.NotEqual(t, "changed", p.Default)
}
