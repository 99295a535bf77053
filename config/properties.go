package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Source says which configuration source set a property's value.
type Source string

// Sources, from weakest to strongest.
const (
	SourceDefault Source = "default" // the catalogue's default
	SourceFile    Source = "file"    // a runtime.properties file
	SourceEnv     Source = "env"     // a druid_* environment variable
	SourceFlag    Source = "flag"    // a key=value command-line override
)

// ErrNotSet is returned (wrapped in a *PropertyError) by the typed getters
// for a property that no source sets and that has no default.
var ErrNotSet = errors.New("not set")

// PropertyError is a problem with one property: a bad value, a rejected
// property, or a missing one. Errors from Load and from the getters have this
// type; errors.As finds it in a joined error.
type PropertyError struct {
	Key    string
	Source Source // empty when the property is not set
	// Origin details Source: the file path, the environment variable name,
	// or the command-line text.
	Origin string
	Err    error
}

func (e *PropertyError) Error() string {
	where := ""
	switch {
	case e.Origin != "" && e.Source == SourceFlag:
		where = fmt.Sprintf(" (flag %q)", e.Origin)
	case e.Origin != "":
		where = fmt.Sprintf(" (%s %s)", e.Source, e.Origin)
	case e.Source != "":
		where = fmt.Sprintf(" (%s)", e.Source)
	}
	return fmt.Sprintf("property %s%s: %v", e.Key, where, e.Err)
}

func (e *PropertyError) Unwrap() error { return e.Err }

// Entry is one property of the effective configuration.
type Entry struct {
	Key    string
	Value  string
	Source Source
	Origin string // see PropertyError.Origin
}

// Properties is the merged, flat configuration: property name to value, with
// the source of every value. Values of catalogued properties have their
// ${...} references resolved. A Properties is immutable and safe for
// concurrent use.
type Properties struct {
	values  map[string]string
	sources map[string]Source
	origins map[string]string
}

// Get returns the value of key and whether any source (or a default) sets it.
// It is the whole interface other packages need:
// interface{ Get(string) (string, bool) }.
func (p *Properties) Get(key string) (string, bool) {
	v, ok := p.values[key]
	return v, ok
}

// Has reports whether key is set.
func (p *Properties) Has(key string) bool {
	_, ok := p.values[key]
	return ok
}

// Source returns which source set key.
func (p *Properties) Source(key string) (Source, bool) {
	s, ok := p.sources[key]
	return s, ok
}

// Keys returns the set keys that start with prefix, sorted. Include the
// trailing dot to list a family: Keys("druid.indexer.runner.k8s.podTemplate.")
// does not return druid.indexer.runner.k8s.podTemplate itself.
func (p *Properties) Keys(prefix string) []string {
	var out []string
	for k := range p.values {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Effective returns every set property, defaults included, sorted by key.
func (p *Properties) Effective() []Entry {
	out := make([]Entry, 0, len(p.values))
	for _, k := range sortedKeys(p.values) {
		out = append(out, Entry{Key: k, Value: p.values[k], Source: p.sources[k], Origin: p.origins[k]})
	}
	return out
}

// raw returns the value of key or a *PropertyError wrapping ErrNotSet.
func (p *Properties) raw(key string) (string, error) {
	v, ok := p.values[key]
	if !ok {
		return "", &PropertyError{Key: key, Err: ErrNotSet}
	}
	return v, nil
}

func (p *Properties) fail(key string, err error) error {
	return &PropertyError{Key: key, Source: p.sources[key], Origin: p.origins[key], Err: err}
}

// String returns the value of key.
func (p *Properties) String(key string) (string, error) {
	return p.raw(key)
}

// Int returns the value of key as a Java int (32-bit).
func (p *Properties) Int(key string) (int, error) {
	v, err := p.raw(key)
	if err != nil {
		return 0, err
	}
	n, err := parseInteger(v, 32)
	if err != nil {
		return 0, p.fail(key, err)
	}
	return int(n), nil
}

// Int64 returns the value of key as a Java long (64-bit).
func (p *Properties) Int64(key string) (int64, error) {
	v, err := p.raw(key)
	if err != nil {
		return 0, err
	}
	n, err := parseInteger(v, 64)
	if err != nil {
		return 0, p.fail(key, err)
	}
	return n, nil
}

// Bool returns the value of key: true or false in any letter case, as
// Java's Boolean.parseBoolean reads true; anything else is an error rather
// than false.
func (p *Properties) Bool(key string) (bool, error) {
	v, err := p.raw(key)
	if err != nil {
		return false, err
	}
	b, err := parseBool(v)
	if err != nil {
		return false, p.fail(key, err)
	}
	return b, nil
}

// Float returns the value of key as a finite float64.
func (p *Properties) Float(key string) (float64, error) {
	v, err := p.raw(key)
	if err != nil {
		return 0, err
	}
	f, err := parseFloat(v)
	if err != nil {
		return 0, p.fail(key, err)
	}
	return f, nil
}

// Duration returns the value of key, an ISO-8601 period such as PT4H, P2D or
// PT0.5S (see ParseISODuration), as a non-negative duration.
func (p *Properties) Duration(key string) (time.Duration, error) {
	v, err := p.raw(key)
	if err != nil {
		return 0, err
	}
	d, err := parseDurationValue(v)
	if err != nil {
		return 0, p.fail(key, err)
	}
	return d, nil
}

// JSONArray returns the value of key, a JSON array of strings such as
// ["-Xmx1g","-Xms1g"]. Number and boolean elements are returned as written.
func (p *Properties) JSONArray(key string) ([]string, error) {
	v, err := p.raw(key)
	if err != nil {
		return nil, err
	}
	a, err := parseJSONArray(v)
	if err != nil {
		return nil, p.fail(key, err)
	}
	return a, nil
}

// JSONObject returns the value of key, a JSON object with string values such
// as {"team":"ingest"}. Number and boolean values are returned as written.
func (p *Properties) JSONObject(key string) (map[string]string, error) {
	v, err := p.raw(key)
	if err != nil {
		return nil, err
	}
	m, err := parseJSONObject(v)
	if err != nil {
		return nil, p.fail(key, err)
	}
	return m, nil
}

// JSONObjectRaw returns the value of key, a JSON object, with each field's
// value undecoded.
func (p *Properties) JSONObjectRaw(key string) (map[string]json.RawMessage, error) {
	v, err := p.raw(key)
	if err != nil {
		return nil, err
	}
	m, err := parseJSONObjectRaw(v)
	if err != nil {
		return nil, p.fail(key, err)
	}
	return m, nil
}

// StringMap returns the map Druid builds for labels and annotations: the JSON
// object at key (if set) plus one entry per key.<name> property; the JSON
// object wins where both set the same name. It is empty, not an error, when
// neither form is set.
func (p *Properties) StringMap(key string) (map[string]string, error) {
	out := map[string]string{}
	prefix := key + "."
	for _, k := range p.Keys(prefix) {
		out[k[len(prefix):]] = p.values[k]
	}
	if _, ok := p.values[key]; ok {
		m, err := p.JSONObject(key)
		if err != nil {
			return nil, err
		}
		for name, v := range m {
			out[name] = v
		}
	}
	return out, nil
}
