package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const capacityKey = "druid.indexer.runner.capacity"

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestLoadPrecedence(t *testing.T) {
	common := "druid.indexer.runner.capacity=1\n"
	service := "druid.indexer.runner.capacity=2\n"
	tests := []struct {
		name       string
		files      []string // contents
		env        []string
		flags      []string
		wantValue  string
		wantSource Source
	}{
		{"default only", nil, nil, nil, "2147483647", SourceDefault},
		{"file beats default", []string{common}, nil, nil, "1", SourceFile},
		{"later file beats earlier file", []string{common, service}, nil, nil, "2", SourceFile},
		{"env beats file", []string{common}, []string{"druid_indexer_runner_capacity=3"}, nil, "3", SourceEnv},
		{"flag beats env", []string{common}, []string{"druid_indexer_runner_capacity=3"}, []string{capacityKey + "=4"}, "4", SourceFlag},
		{"flag beats file", []string{common}, nil, []string{capacityKey + "=4"}, "4", SourceFlag},
		{"later flag beats earlier flag", nil, nil, []string{capacityKey + "=4", capacityKey + "=5"}, "5", SourceFlag},
		{"env beats default", nil, []string{"druid_indexer_runner_capacity=3"}, nil, "3", SourceEnv},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var files []string
			for i, c := range tc.files {
				files = append(files, writeFile(t, "runtime"+string(rune('a'+i))+".properties", c))
			}
			p, warnings, err := Load(Options{Files: files, Environ: tc.env, Flags: tc.flags})
			require.NoError(t, err)
			assert.Empty(t, warnings)
			v, ok := p.Get(capacityKey)
			require.True(t, ok)
			assert.Equal(t, tc.wantValue, v)
			src, ok := p.Source(capacityKey)
			require.True(t, ok)
			assert.Equal(t, tc.wantSource, src)
		})
	}
}

func TestLoadOriginsInEffective(t *testing.T) {
	path := writeFile(t, "runtime.properties", "druid.indexer.runner.namespace=from-file\ndruid.host=overlord\n")
	p, _, err := Load(Options{
		Files:   []string{path},
		Environ: []string{"druid_indexer_runner_debugJobs=true", "HOME=/root"},
		Flags:   []string{"druid.indexer.runner.capacity=9"},
	})
	require.NoError(t, err)
	byKey := map[string]Entry{}
	var keys []string
	for _, e := range p.Effective() {
		byKey[e.Key] = e
		keys = append(keys, e.Key)
	}
	assert.IsIncreasing(t, keys, "Effective is sorted by key")
	assert.Equal(t, Entry{Key: "druid.indexer.runner.namespace", Value: "from-file", Source: SourceFile, Origin: path}, byKey["druid.indexer.runner.namespace"])
	assert.Equal(t, Entry{Key: "druid.host", Value: "overlord", Source: SourceFile, Origin: path}, byKey["druid.host"], "non-runner keys are kept")
	assert.Equal(t, Entry{Key: "druid.indexer.runner.debugJobs", Value: "true", Source: SourceEnv, Origin: "druid_indexer_runner_debugJobs"}, byKey["druid.indexer.runner.debugJobs"])
	assert.Equal(t, Entry{Key: capacityKey, Value: "9", Source: SourceFlag, Origin: capacityKey + "=9"}, byKey[capacityKey])
	assert.Equal(t, Entry{Key: "druid.indexer.runner.maxTaskDuration", Value: "PT4H", Source: SourceDefault}, byKey["druid.indexer.runner.maxTaskDuration"])
	_, ok := byKey["HOME"]
	assert.False(t, ok, "only druid_ variables become properties")
}

func TestLoadDefaults(t *testing.T) {
	p, warnings, err := Load(Options{})
	require.NoError(t, err)
	assert.Empty(t, warnings)
	for _, prop := range Catalogue() {
		v, ok := p.Get(prop.Name)
		if prop.Pattern || prop.Default == "" {
			assert.False(t, ok, "%s has no default and must stay unset", prop.Name)
			continue
		}
		assert.True(t, ok, prop.Name)
		assert.Equal(t, prop.Default, v, prop.Name)
		src, _ := p.Source(prop.Name)
		assert.Equal(t, SourceDefault, src, prop.Name)
	}
	d, err := p.Duration("druid.indexer.runner.taskCleanupDelay")
	require.NoError(t, err)
	assert.Equal(t, 48*time.Hour, d)
}

func TestLoadTypeErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		key, value, wantErr string
	}{
		{capacityKey, "abc", `"abc" is not an integer`},
		{capacityKey, "0", "must be at least 1"},
		{capacityKey, "3000000000", "out of range for a 32-bit integer"},
		{capacityKey, "", "value is empty"},
		{"druid.indexer.runner.cpuCoreInMicro", "-1", "must be at least 0"},
		{"druid.indexer.runner.debugJobs", "yes", `"yes" is not a boolean`},
		{"druid.indexer.runner.maxTaskDuration", "4h", "is not an ISO-8601 duration"},
		{"druid.indexer.runner.maxTaskDuration", "P1M", "years and months have no fixed length"},
		{"druid.indexer.runner.maxTaskDuration", "PT-1H", "is negative"},
		{"druid.indexer.runner.taskCleanupDelay", "", "value is empty"},
		{"druid.indexer.runner.javaOptsArray", "-Xmx1g", "is not a JSON array"},
		{"druid.indexer.runner.javaOptsArray", `["-Xmx1g", {"a":1}]`, "element 1 is an object"},
		{"druid.indexer.runner.javaOptsArray", `["-Xmx1g"] ["x"]`, "unexpected"},
		{"druid.indexer.runner.peonMonitors", `[null]`, "element 0 is null"},
		{"druid.indexer.runner.labels", `["a"]`, "is not a JSON object"},
		{"druid.indexer.runner.labels", `{"a":{"b":"c"}}`, `field "a" is an object`},
		{"druid.indexer.runner.annotations", `{"a":`, "is not a JSON object"},
		{"druid.indexer.runner.graceTerminationPeriodSeconds", "PT30S", "is not an integer"},
		{"druid.indexer.runner.graceTerminationPeriodSeconds", "-5", "must be at least 0"},
		{"druid.indexer.runner.maxPercentageBlacklistWorkers", "101", "must be between 0 and 100"},
		{"druid.indexer.runner.parallelIndexTaskSlotRatio", "NaN", "is not a finite number"},
		{"druid.indexer.runner.parallelIndexTaskSlotRatio", "1.5", "must be between 0 and 1"},
		{"druid.indexer.runner.taskAssignmentTimeout", "300", "must start with P"},
		{"druid.indexer.runner.k8sAndWorker.runnerStrategy.type", "tasktype", "is not one of k8s, worker, taskType"},
		{"druid.indexer.runner.k8sAndWorker.runnerStrategy.workerType", "zk", "is not one of httpRemote, remote"},
		{"druid.indexer.runner.k8sAndWorker.runnerStrategy.taskType.default", "K8S", "is not one of k8s, worker"},
		{"druid.indexer.runner.k8sAndWorker.runnerStrategy.taskType.overrides", `{"index_kafka":"middleManager"}`, `task type "index_kafka" maps to unknown runner "middleManager"`},
		{"druid.indexer.runner.k8sAndWorker.runnerStrategy.taskType.overrides", `{"index_kafka":["k8s"]}`, "is an array"},
		{"druid.indexer.runner.k8s.adapter.type", "custom", "is not one of overlordSingleContainer"},
		{"druid.indexer.runner.k8sAndWorker.http.httpClientType", "apache", "is not one of vertx, okhttp, jdk"},
		{"druid.indexer.task.encapsulatedTask", "1", "is not a boolean"},
	}
	for _, tc := range tests {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			flag := tc.key + "=" + tc.value
			p, _, err := Load(Options{Flags: []string{flag}})
			require.Error(t, err)
			assert.Nil(t, p)
			assert.Contains(t, err.Error(), "property "+tc.key+" (flag ")
			assert.Contains(t, err.Error(), tc.wantErr)
			var pe *PropertyError
			require.True(t, errors.As(err, &pe))
			assert.Equal(t, tc.key, pe.Key)
			assert.Equal(t, SourceFlag, pe.Source)
			assert.Equal(t, flag, pe.Origin)
		})
	}
}

func TestLoadReportsEveryBadProperty(t *testing.T) {
	_, _, err := Load(Options{
		Environ: []string{"druid_indexer_runner_capacity=lots"},
		Flags:   []string{"druid.indexer.runner.debugJobs=maybe", "druid.indexer.runner.maxTaskDuration=forever"},
	})
	require.Error(t, err)
	var joined interface{ Unwrap() []error }
	require.True(t, errors.As(err, &joined))
	var keys []string
	for _, e := range joined.Unwrap() {
		var pe *PropertyError
		require.True(t, errors.As(e, &pe))
		keys = append(keys, pe.Key)
	}
	assert.ElementsMatch(t, []string{capacityKey, "druid.indexer.runner.debugJobs", "druid.indexer.runner.maxTaskDuration"}, keys)
	assert.Contains(t, err.Error(), "property druid.indexer.runner.capacity (env druid_indexer_runner_capacity)")
}

func TestLoadRejectsJavaOpts(t *testing.T) {
	file := writeFile(t, "runtime.properties", "druid.indexer.runner.javaOpts=-Xmx1g -Xms1g\n")
	tests := []struct {
		name       string
		opts       Options
		wantSource Source
	}{
		{"file", Options{Files: []string{file}}, SourceFile},
		{"env", Options{Environ: []string{"druid_indexer_runner_javaOpts=-Xmx1g"}}, SourceEnv},
		{"flag", Options{Flags: []string{"druid.indexer.runner.javaOpts=-Xmx1g"}}, SourceFlag},
		{"even next to javaOptsArray", Options{Flags: []string{"druid.indexer.runner.javaOpts=-Xmx1g", `druid.indexer.runner.javaOptsArray=["-Xmx1g"]`}}, SourceFlag},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Load(tc.opts)
			require.Error(t, err)
			var pe *PropertyError
			require.True(t, errors.As(err, &pe))
			assert.Equal(t, "druid.indexer.runner.javaOpts", pe.Key)
			assert.Equal(t, tc.wantSource, pe.Source)
			assert.Contains(t, err.Error(), "set druid.indexer.runner.javaOptsArray to a JSON array")
		})
	}
}

func TestLoadWarnings(t *testing.T) {
	p, warnings, err := Load(Options{Flags: []string{
		"druid.indexer.runner.capacitty=5",                       // typo
		"druid.indexer.runner.K8sjobLaunchTimeout=PT1H",          // wrong case
		"druid.indexer.runner.k8s.podtemplate.base=/t/base.yaml", // wrong case in a pattern
		"druid.indexer.runner.k8s.podTemplate=/t/base.yaml",      // pattern without a name
		"druid.indexer.runner.sidecarSupport=true",               // deprecated
		"druid.indexer.runner.k8s.podTemplate.a.b=/t/ab.yaml",    // Druid reads the name as "b"
		// Known keys: no warning.
		"druid.indexer.runner.k8s.podTemplate.base=/t/base.yaml",
		"druid.indexer.runner.taskAssignmentTimeout=PT5M",
		"druid.indexer.runner.taskCleanupTimeout=PT15M",
		"druid.indexer.runner.minWorkerVersion=0",
		"druid.indexer.runner.maxRetriesBeforeBlacklist=5",
		"druid.indexer.runner.workerBlackListBackoffTime=PT15M",
		"druid.indexer.runner.workerBlackListCleanupPeriod=PT5M",
		"druid.indexer.runner.maxPercentageBlacklistWorkers=20",
		"druid.indexer.runner.pendingTasksRunnerNumThreads=1",
		"druid.indexer.runner.syncRequestTimeout=PT3M",
		"druid.indexer.runner.labels.team=ingest",
		// Outside druid.indexer.runner: kept, no warning.
		"druid.host=overlord.example",
		"druid.zk.service.host=zk",
	}})
	require.NoError(t, err)
	got := map[string]string{}
	for _, w := range warnings {
		assert.Equal(t, SourceFlag, w.Source)
		got[w.Key] = w.Message
	}
	assert.Len(t, got, 6, "warnings: %v", warnings)
	assert.Contains(t, got["druid.indexer.runner.capacitty"], "unknown property")
	assert.Contains(t, got["druid.indexer.runner.K8sjobLaunchTimeout"], "did you mean druid.indexer.runner.k8sjobLaunchTimeout?")
	assert.Contains(t, got["druid.indexer.runner.k8s.podtemplate.base"], "did you mean druid.indexer.runner.k8s.podTemplate.base?")
	assert.Contains(t, got["druid.indexer.runner.k8s.podTemplate"], "did you mean druid.indexer.runner.k8s.podTemplate.<taskType>?")
	assert.Contains(t, got["druid.indexer.runner.sidecarSupport"], "deprecated: set druid.indexer.runner.k8s.adapter.type=overlordMultiContainer")
	assert.Contains(t, got["druid.indexer.runner.k8s.podTemplate.a.b"], `Druid would read it as "b"`)
	assert.Contains(t, warnings[0].String(), "property "+warnings[0].Key+" (flag ")

	v, ok := p.Get("druid.host")
	assert.True(t, ok)
	assert.Equal(t, "overlord.example", v)
}

func TestLoadKeepsPrefixKeysFlat(t *testing.T) {
	p, _, err := Load(Options{
		Flags:   []string{"druid.indexer.runner.k8s.podTemplate=/bare.yaml", "druid.indexer.runner.k8s.podTemplate.base=/base.yaml"},
		Environ: []string{"druid_indexer_runner_k8s_podTemplate_index__kafka=/kafka.yaml"},
	})
	require.NoError(t, err)
	bare, ok := p.Get("druid.indexer.runner.k8s.podTemplate")
	require.True(t, ok)
	assert.Equal(t, "/bare.yaml", bare)
	base, ok := p.Get("druid.indexer.runner.k8s.podTemplate.base")
	require.True(t, ok)
	assert.Equal(t, "/base.yaml", base)
	assert.Equal(t, []string{
		"druid.indexer.runner.k8s.podTemplate.base",
		"druid.indexer.runner.k8s.podTemplate.index_kafka",
	}, p.Keys("druid.indexer.runner.k8s.podTemplate."))
}

func TestLoadResolvesReferences(t *testing.T) {
	secret := writeFile(t, "ns", "from-file")
	env := []string{"NS=from-env", "CAP=12", "druid_indexer_runner_logSaveTimeout=${env:SAVE:-PT1M}"}
	tests := []struct {
		name, key, value, want, wantErr string
	}{
		{"env", "druid.indexer.runner.namespace", "${env:NS}", "from-env", ""},
		{"env inside text", "druid.indexer.runner.namespace", "ns-${env:NS}-1", "ns-from-env-1", ""},
		{"typed value", capacityKey, "${env:CAP}", "12", ""},
		{"default", "druid.indexer.runner.namespace", "${env:MISSING:-fallback}", "fallback", ""},
		{"file", "druid.indexer.runner.namespace", "${file:UTF-8:" + secret + "}", "from-file", ""},
		{"escaped", "druid.indexer.runner.namespace", "$${env:NS}", "${env:NS}", ""},
		{"unclosed is literal", "druid.indexer.runner.namespace", "a${env:NS", "a${env:NS", ""},
		{"undefined", "druid.indexer.runner.namespace", "${env:MISSING}", "", "environment variable MISSING is not set"},
		{"no lookup", "druid.indexer.runner.namespace", "${NS}", "", "write ${env:NAME}"},
		{"sys", "druid.indexer.runner.namespace", "${sys:user.name}", "", "Java system properties do not exist"},
		{"unknown lookup", "druid.indexer.runner.namespace", "${vault:x}", "", `unknown lookup "vault"`},
		{"missing file", "druid.indexer.runner.namespace", "${file:UTF-8:/nonexistent/x}", "", "read /nonexistent/x"},
		{"nested", "druid.indexer.runner.namespace", "${env:${env:NS}}", "", "nested reference"},
		{"type checked after resolving", capacityKey, "${env:NS}", "", `"from-env" is not an integer`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, _, err := Load(Options{Environ: env, Flags: []string{tc.key + "=" + tc.value}})
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "property "+tc.key)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			v, _ := p.Get(tc.key)
			assert.Equal(t, tc.want, v)
		})
	}

	t.Run("env variables are resolved too, uncatalogued keys are not", func(t *testing.T) {
		p, _, err := Load(Options{Environ: env, Flags: []string{"druid.other=${env:NS}"}})
		require.NoError(t, err)
		d, err := p.Duration("druid.indexer.runner.logSaveTimeout")
		require.NoError(t, err)
		assert.Equal(t, time.Minute, d)
		v, _ := p.Get("druid.other")
		assert.Equal(t, "${env:NS}", v, "Druid resolves references only in the properties it binds")
	})
}

func TestLoadSourceErrors(t *testing.T) {
	t.Run("missing file", func(t *testing.T) {
		_, _, err := Load(Options{Files: []string{filepath.Join(t.TempDir(), "absent.properties")}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "absent.properties")
	})
	t.Run("malformed file", func(t *testing.T) {
		path := writeFile(t, "bad.properties", "a=1\n=2\n")
		_, _, err := Load(Options{Files: []string{path}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), path+": parse properties: line 2: property name is empty")
	})
	t.Run("flags", func(t *testing.T) {
		_, _, err := Load(Options{Flags: []string{"druid.indexer.runner.capacity", "=5", " = x"}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), `flag "druid.indexer.runner.capacity": want key=value`)
		assert.Contains(t, err.Error(), `flag "=5": want key=value`)
		assert.Contains(t, err.Error(), `flag " = x": want key=value`)
	})
	t.Run("flag value may contain =", func(t *testing.T) {
		p, _, err := Load(Options{Flags: []string{`druid.indexer.runner.labels={"a":"b=c"}`}})
		require.NoError(t, err)
		m, err := p.JSONObject("druid.indexer.runner.labels")
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"a": "b=c"}, m)
	})
	t.Run("NUL in a key", func(t *testing.T) {
		_, _, err := Load(Options{Flags: []string{"druid.indexer\x00.runner=1"}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "name contains a NUL character")
	})
}

func TestLoadExampleFile(t *testing.T) {
	path := filepath.Join("..", "configs", "runtime.properties.example")
	p, warnings, err := Load(Options{Files: []string{path}})
	require.NoError(t, err)
	assert.Empty(t, warnings)

	runnerType, _ := p.Get("druid.indexer.runner.type")
	assert.Equal(t, "k8sAndWorker", runnerType)
	strategy, _ := p.Get(strategyPrefix + "type")
	assert.Equal(t, "taskType", strategy)
	overrides, err := p.JSONObject(keyOverrides)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"index_parallel": "k8s", "single_phase_sub_task": "k8s", "compact": "k8s", "kill": "k8s"}, overrides)
	opts, err := p.JSONArray("druid.indexer.runner.javaOptsArray")
	require.NoError(t, err)
	assert.Contains(t, opts, "-Xmx1g")
	templates := p.Keys(podTemplateKey)
	assert.Equal(t, []string{podTemplateKey + "base", podTemplateKey + "index_parallel"}, templates)
	launch, err := p.Duration("druid.indexer.runner.k8sjobLaunchTimeout")
	require.NoError(t, err)
	assert.Equal(t, 30*time.Minute, launch)

	// Every property line of the sample is a catalogued property.
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	m, err := ParseProperties(data)
	require.NoError(t, err)
	for key := range m {
		_, ok := LookupProperty(key)
		assert.True(t, ok, key)
		assert.False(t, strings.Contains(m[key], "\\"), "%s: continuation backslashes are gone", key)
	}
}

func TestUnknownTaskgatePropertyWarns(t *testing.T) {
	_, warnings, err := Load(Options{Flags: []string{"taskgate.auth.enable=true", "taskgate.auth.enabled=true"}})
	require.NoError(t, err)
	require.Len(t, warnings, 1)
	assert.Equal(t, "taskgate.auth.enable", warnings[0].Key)
	assert.Contains(t, warnings[0].Message, "taskgate's own properties")
}
