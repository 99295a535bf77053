package config

import "strings"

// envPrefix is the only prefix Druid's Docker entry point (distribution/docker/druid.sh)
// turns into properties: `env | grep ^druid_`, case-sensitive. Upper-case
// DRUID_* variables (DRUID_XMX, DRUID_LOG4J, ...) mean other things there.
const envPrefix = "druid_"

// underscoreMarker is the placeholder druid.sh uses while it rewrites
// underscores; reproducing its three sed steps keeps even the odd cases
// (three underscores in a row) identical.
const underscoreMarker = "%UNDERSCORE%"

// EnvToProperty converts an environment variable name to the runtime
// property it sets, exactly as Druid's Docker image does: only names that
// start with "druid_" (lower case) count; "__" stands for a literal "_" and
// every other "_" becomes ".", and letter case is kept. So
// druid_indexer_runner_capacity is druid.indexer.runner.capacity and
// druid_indexer_runner_k8s_podTemplate_index__kafka is
// druid.indexer.runner.k8s.podTemplate.index_kafka. Three underscores in a
// row read as "_." (the first two pair up), as in druid.sh.
func EnvToProperty(name string) (key string, ok bool) {
	if !strings.HasPrefix(name, envPrefix) {
		return "", false
	}
	key = strings.ReplaceAll(name, "__", underscoreMarker)
	key = strings.ReplaceAll(key, "_", ".")
	key = strings.ReplaceAll(key, underscoreMarker, "_")
	return key, true
}

// PropertyToEnv returns the environment variable name that EnvToProperty
// turns into key. It reports false when no name can: the key does not start
// with "druid.", contains "._" or ".." (druid.sh would read the resulting
// "___" as "_." and "__" as "_"), contains '%' (which could combine with druid.sh's internal
// %UNDERSCORE% marker), or contains '=' or NUL, which cannot appear in a
// variable name.
func PropertyToEnv(key string) (name string, ok bool) {
	if !strings.HasPrefix(key, "druid.") ||
		strings.Contains(key, "._") ||
		strings.Contains(key, "..") ||
		strings.ContainsAny(key, "%=\x00") {
		return "", false
	}
	name = strings.ReplaceAll(key, "_", "__")
	name = strings.ReplaceAll(name, ".", "_")
	return name, true
}

// envLayer converts environ ("NAME=value" entries, as os.Environ returns
// them) to properties, later entries winning, and remembers which variable
// set each key. Values are taken verbatim.
func envLayer(environ []string) (values, origins map[string]string) {
	values = make(map[string]string)
	origins = make(map[string]string)
	for _, kv := range environ {
		name, value, found := strings.Cut(kv, "=")
		if !found {
			continue
		}
		key, ok := EnvToProperty(name)
		if !ok {
			continue
		}
		values[key] = value
		origins[key] = name
	}
	return values, origins
}

// lookupEnvFunc returns a lookup over environ for ${env:NAME} references,
// the last entry of a name winning as in a process environment.
func lookupEnvFunc(environ []string) func(string) (string, bool) {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if name, value, found := strings.Cut(kv, "="); found {
			m[name] = value
		}
	}
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}
