package config

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The interface other packages declare instead of importing config.
var _ interface{ Get(string) (string, bool) } = (*Properties)(nil)

// props builds Properties directly, bypassing Load's checks, so the getters'
// own error handling is what is tested.
func props(values map[string]string) *Properties {
	p := &Properties{values: values, sources: map[string]Source{}, origins: map[string]string{}}
	for k := range values {
		p.sources[k] = SourceFile
		p.origins[k] = "/etc/druid/runtime.properties"
	}
	return p
}

func TestTypedGetters(t *testing.T) {
	p := props(map[string]string{
		"s":     " text ",
		"i":     " 42 ",
		"l":     "9000000000",
		"b":     "TRUE",
		"bf":    "False",
		"f":     "0.25",
		"d":     "P1DT2H",
		"arr":   `["-Xmx1g", 3, true]`,
		"obj":   `{"a": "b", "n": 1, "t": false}`,
		"empty": "",
	})
	s, err := p.String("s")
	require.NoError(t, err)
	assert.Equal(t, " text ", s, "strings are returned as written")
	i, err := p.Int("i")
	require.NoError(t, err)
	assert.Equal(t, 42, i)
	l, err := p.Int64("l")
	require.NoError(t, err)
	assert.Equal(t, int64(9000000000), l)
	b, err := p.Bool("b")
	require.NoError(t, err)
	assert.True(t, b)
	bf, err := p.Bool("bf")
	require.NoError(t, err)
	assert.False(t, bf)
	f, err := p.Float("f")
	require.NoError(t, err)
	assert.InDelta(t, 0.25, f, 0)
	d, err := p.Duration("d")
	require.NoError(t, err)
	assert.Equal(t, 26*time.Hour, d)
	arr, err := p.JSONArray("arr")
	require.NoError(t, err)
	assert.Equal(t, []string{"-Xmx1g", "3", "true"}, arr)
	obj, err := p.JSONObject("obj")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"a": "b", "n": "1", "t": "false"}, obj)
	raw, err := p.JSONObjectRaw("obj")
	require.NoError(t, err)
	assert.Equal(t, json.RawMessage(`1`), raw["n"])
	assert.Equal(t, json.RawMessage(`"b"`), raw["a"])
	e, err := p.String("empty")
	require.NoError(t, err)
	assert.Equal(t, "", e)
}

func TestTypedGetterErrorsNameTheProperty(t *testing.T) {
	p := props(map[string]string{
		"x.int":    "12abc",
		"x.big":    "2147483648",
		"x.bool":   "yes",
		"x.float":  "Infinity",
		"x.dur":    "PT5X",
		"x.neg":    "-PT5M",
		"x.negdur": "PT-5M",
		"x.arr":    `{"a":1}`,
		"x.obj":    `["a"]`,
		"x.raw":    `null`,
	})
	tests := []struct {
		name    string
		get     func() error
		key     string
		wantErr string
	}{
		{"int", func() error { _, err := p.Int("x.int"); return err }, "x.int", `"12abc" is not an integer`},
		{"int range", func() error { _, err := p.Int("x.big"); return err }, "x.big", "out of range for a 32-bit integer"},
		{"bool", func() error { _, err := p.Bool("x.bool"); return err }, "x.bool", `"yes" is not a boolean (use true or false)`},
		{"float", func() error { _, err := p.Float("x.float"); return err }, "x.float", "not a finite number"},
		{"duration", func() error { _, err := p.Duration("x.dur"); return err }, "x.dur", "is not an ISO-8601 duration"},
		{"duration sign outside", func() error { _, err := p.Duration("x.neg"); return err }, "x.neg", "must start with P"},
		{"negative duration", func() error { _, err := p.Duration("x.negdur"); return err }, "x.negdur", "is negative"},
		{"array", func() error { _, err := p.JSONArray("x.arr"); return err }, "x.arr", "is not a JSON array"},
		{"object", func() error { _, err := p.JSONObject("x.obj"); return err }, "x.obj", "is not a JSON object"},
		{"raw object", func() error { _, err := p.JSONObjectRaw("x.raw"); return err }, "x.raw", "is not a JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.get()
			require.Error(t, err)
			assert.Contains(t, err.Error(), "property "+tc.key+" (file /etc/druid/runtime.properties): ")
			assert.Contains(t, err.Error(), tc.wantErr)
			var pe *PropertyError
			require.True(t, errors.As(err, &pe))
			assert.Equal(t, tc.key, pe.Key)
			assert.False(t, errors.Is(err, ErrNotSet))
		})
	}
}

func TestGettersOnMissingProperty(t *testing.T) {
	p := props(map[string]string{})
	getters := map[string]func() error{
		"String":        func() error { _, err := p.String("k"); return err },
		"Int":           func() error { _, err := p.Int("k"); return err },
		"Int64":         func() error { _, err := p.Int64("k"); return err },
		"Bool":          func() error { _, err := p.Bool("k"); return err },
		"Float":         func() error { _, err := p.Float("k"); return err },
		"Duration":      func() error { _, err := p.Duration("k"); return err },
		"JSONArray":     func() error { _, err := p.JSONArray("k"); return err },
		"JSONObject":    func() error { _, err := p.JSONObject("k"); return err },
		"JSONObjectRaw": func() error { _, err := p.JSONObjectRaw("k"); return err },
	}
	for name, get := range getters {
		t.Run(name, func(t *testing.T) {
			err := get()
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrNotSet))
			assert.Equal(t, "property k: not set", err.Error())
		})
	}
	_, ok := p.Get("k")
	assert.False(t, ok)
	assert.False(t, p.Has("k"))
}

func TestStringMap(t *testing.T) {
	tests := []struct {
		name    string
		values  map[string]string
		want    map[string]string
		wantErr string
	}{
		{"neither form", map[string]string{}, map[string]string{}, ""},
		{"JSON only", map[string]string{"l": `{"a":"1"}`}, map[string]string{"a": "1"}, ""},
		{"dotted only", map[string]string{"l.a": "1", "l.app.kubernetes.io/name": "druid"}, map[string]string{"a": "1", "app.kubernetes.io/name": "druid"}, ""},
		{"JSON wins over dotted", map[string]string{"l": `{"a":"json"}`, "l.a": "dotted", "l.b": "2"}, map[string]string{"a": "json", "b": "2"}, ""},
		{"similar prefix is not a member", map[string]string{"lx": "1", "l.a": "2"}, map[string]string{"a": "2"}, ""},
		{"bad JSON", map[string]string{"l": `{"a":[]}`}, nil, `field "a" is an array`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := props(tc.values).StringMap("l")
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "property l ")
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestKeys(t *testing.T) {
	p := props(map[string]string{"a.b": "1", "a.b.c": "2", "a.bc": "3", "x": "4"})
	assert.Equal(t, []string{"a.b.c"}, p.Keys("a.b."))
	assert.Equal(t, []string{"a.b", "a.b.c", "a.bc"}, p.Keys("a.b"))
	assert.Equal(t, []string{"a.b", "a.b.c", "a.bc", "x"}, p.Keys(""))
	assert.Empty(t, p.Keys("zz"))
}
