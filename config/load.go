package config

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/v2"
)

// keyDelim is koanf's path delimiter. Druid keys are flat and full of dots,
// so koanf must never split them: NUL cannot appear in a key (Load rejects
// it), so every key stays one top-level entry and a key that is a prefix of
// another cannot turn into its parent object.
const keyDelim = "\x00"

// Options says where Load reads configuration from. Sources apply in the
// order defaults, Files, Environ, Flags; a later source wins.
type Options struct {
	// Files are Druid runtime.properties files read in order, later files
	// winning, as Druid reads _common/common.runtime.properties and then the
	// service's runtime.properties. A missing file is an error.
	Files []string
	// Environ is the environment in os.Environ form. Variables named druid_*
	// become properties (see EnvToProperty), and ${env:NAME} references are
	// resolved against it. Nil means no environment.
	Environ []string
	// Flags are "key=value" overrides from the command line; the value may
	// contain '='.
	Flags []string
}

// Warning is a problem that does not stop the gateway: an unknown
// druid.indexer.runner.* property, a deprecated one, an odd pod template name.
type Warning struct {
	Key     string
	Source  Source
	Origin  string // see PropertyError.Origin
	Message string
}

func (w Warning) String() string {
	return (&PropertyError{Key: w.Key, Source: w.Source, Origin: w.Origin, Err: errors.New(w.Message)}).Error()
}

// Load merges the sources in opts over the catalogue's defaults, resolves
// ${...} references in catalogued properties, and checks every catalogued
// property that is set: its type, its allowed values, its range, and that it
// is not a rejected one (druid.indexer.runner.javaOpts). All problems are
// reported together as one error joining *PropertyError values, and no
// Properties is returned then. Unknown druid.indexer.runner.* keys and
// deprecated properties come back as warnings; other unknown keys (the rest
// of a Druid runtime.properties) are kept silently.
func Load(opts Options) (*Properties, []Warning, error) {
	k := koanf.NewWithConf(koanf.Conf{Delim: keyDelim})
	sources := map[string]Source{}
	origins := map[string]string{}
	var errs []error

	layer := func(src Source, values map[string]string, origin func(key string) string) error {
		mp := make(map[string]any, len(values))
		for key, v := range values {
			if strings.Contains(key, keyDelim) {
				errs = append(errs, &PropertyError{Key: quote(key), Source: src, Origin: origin(key),
					Err: errors.New("name contains a NUL character")})
				continue
			}
			mp[key] = v
			sources[key] = src
			origins[key] = origin(key)
		}
		if err := k.Load(confmap.Provider(mp, ""), nil); err != nil {
			return fmt.Errorf("merge %s properties: %w", src, err)
		}
		return nil
	}

	defaults := map[string]string{}
	for _, p := range catalogue {
		if !p.Pattern && p.Default != "" {
			defaults[p.Name] = p.Default
		}
	}
	if err := layer(SourceDefault, defaults, func(string) string { return "" }); err != nil {
		return nil, nil, err
	}

	for _, path := range opts.Files {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("read runtime properties: %w", err)
		}
		m, err := ParseProperties(data)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		if err := layer(SourceFile, m, func(string) string { return path }); err != nil {
			return nil, nil, err
		}
	}

	envValues, envNames := envLayer(opts.Environ)
	if err := layer(SourceEnv, envValues, func(key string) string { return envNames[key] }); err != nil {
		return nil, nil, err
	}

	flagValues := map[string]string{}
	flagText := map[string]string{}
	for _, f := range opts.Flags {
		key, value, found := strings.Cut(f, "=")
		key = strings.TrimSpace(key)
		if !found || key == "" {
			errs = append(errs, fmt.Errorf("flag %q: want key=value, e.g. druid.indexer.runner.capacity=10", f))
			continue
		}
		flagValues[key] = value
		flagText[key] = f
	}
	if err := layer(SourceFlag, flagValues, func(key string) string { return flagText[key] }); err != nil {
		return nil, nil, err
	}

	values := make(map[string]string, len(k.Keys()))
	for key, v := range k.All() {
		s, ok := v.(string)
		if !ok {
			return nil, nil, fmt.Errorf("property %s: merged value has type %T, want string", key, v)
		}
		values[key] = s
	}

	p := &Properties{values: values, sources: sources, origins: origins}
	warnings, checkErrs := p.check(newExpander(lookupEnvFunc(opts.Environ)))
	errs = append(errs, checkErrs...)
	if len(errs) > 0 {
		return nil, warnings, errors.Join(errs...)
	}
	return p, warnings, nil
}

// check validates the catalogued properties in p, resolving their ${...}
// references in place, and collects warnings for unknown runner keys.
func (p *Properties) check(exp *expander) ([]Warning, []error) {
	var (
		warnings []Warning
		errs     []error
	)
	warn := func(key, msg string) {
		warnings = append(warnings, Warning{Key: key, Source: p.sources[key], Origin: p.origins[key], Message: msg})
	}
	for _, key := range sortedKeys(p.values) {
		prop, known := lookupProperty(key)
		if !known {
			if strings.HasPrefix(key, runnerPrefix) || strings.HasPrefix(key, taskgatePrefix) {
				warn(key, unknownMessage(key))
			}
			continue
		}
		if prop.Rejected != "" {
			errs = append(errs, p.fail(key, errors.New(prop.Rejected)))
			continue
		}
		if prop.Deprecated != "" && p.sources[key] != SourceDefault {
			warn(key, "deprecated: "+prop.Deprecated)
		}
		v, err := exp.expand(p.values[key])
		if err != nil {
			errs = append(errs, p.fail(key, err))
			continue
		}
		p.values[key] = v
		if err := checkType(prop.Type, v); err != nil {
			errs = append(errs, p.fail(key, err))
			continue
		}
		if len(prop.Allowed) > 0 && !slices.Contains(prop.Allowed, v) {
			errs = append(errs, p.fail(key, fmt.Errorf("%s is not one of %s", quote(v), strings.Join(prop.Allowed, ", "))))
			continue
		}
		if prop.check != nil {
			if err := prop.check(v); err != nil {
				errs = append(errs, p.fail(key, err))
				continue
			}
		}
		if prop.Pattern && prop.Prefix() == podTemplateKey {
			if name := key[len(podTemplateKey):]; strings.Contains(name, ".") {
				last := name[strings.LastIndexByte(name, '.')+1:]
				warn(key, fmt.Sprintf("pod template name %q contains '.'; Druid would read it as %q (the part after the last dot)", name, last))
			}
		}
	}
	return warnings, errs
}

// unknownMessage explains an unknown druid.indexer.runner.* key, suggesting
// the catalogued name it most likely meant.
func unknownMessage(key string) string {
	msg := "unknown property, ignored (not a Kubernetes, k8sAndWorker or worker runner property)"
	if strings.HasPrefix(key, taskgatePrefix) {
		msg = "unknown property, ignored (not one of taskgate's own properties, see docs/configuration.md)"
	}
	lower := strings.ToLower(key)
	if name, ok := lowerNames[lower]; ok {
		return fmt.Sprintf("%s; did you mean %s? Names are case-sensitive", msg, name)
	}
	for _, i := range patternIndexes {
		prop := catalogue[i]
		prefix := prop.Prefix()
		if key+"." == prefix {
			return fmt.Sprintf("%s; did you mean %s?", msg, prop.Name)
		}
		if strings.HasPrefix(lower, strings.ToLower(prefix)) && len(key) > len(prefix) {
			return fmt.Sprintf("%s; did you mean %s%s? Names are case-sensitive", msg, prefix, key[len(prefix):])
		}
	}
	return msg
}
