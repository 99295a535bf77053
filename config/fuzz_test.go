package config

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Fuzz targets; `make fuzz` runs each briefly. Besides "no panic" they check
// round trips: what the parser accepts, the formatter writes back the same.

func FuzzParseProperties(f *testing.F) {
	for _, seed := range []string{
		"a=b\n",
		"a b\nc:d\n",
		"# comment\n! comment\nkey = value with spaces  \n",
		"a=one,\\\n   two\\\r\n three\n",
		"ke\\\n y=v",
		`a=caf\u00e9 \uD83D\uDE00 \\u0041 \t\n`,
		`a\=b\:c\ d=e`,
		"druid.indexer.runner.labels={\"a\":\"b\"}\n",
		"\uFEFFa=b\r\n=c\n",
		"a=\\u12",
		"a=b\\",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseProperties(data)
		if err != nil {
			// Only the pre-pass may reject input: an error from magiconair's
			// lexer would leave its goroutine blocked forever.
			if strings.Contains(err.Error(), "properties: Line") {
				t.Fatalf("magiconair rejected %q: %v", data, err)
			}
			return
		}
		for k := range m {
			if k == "" {
				t.Fatalf("empty key parsed from %q", data)
			}
		}
		if !utf8.Valid(data) {
			return // invalid bytes became U+FFFD; the text no longer matches
		}
		text := FormatProperties(m)
		again, err := ParseProperties(text)
		if err != nil {
			t.Fatalf("formatted text does not parse: %v\ninput %q\nformatted %q", err, data, text)
		}
		if len(again) != len(m) {
			t.Fatalf("round trip changed the keys: %q -> %q", m, again)
		}
		for k, v := range m {
			if again[k] != v {
				t.Fatalf("round trip changed %q: %q -> %q (formatted %q)", k, v, again[k], text)
			}
		}
	})
}

func FuzzEnvToProperty(f *testing.F) {
	for _, seed := range []string{
		"druid_indexer_runner_capacity",
		"druid_indexer_runner_k8s_podTemplate_index__kafka",
		"druid_a___b",
		"druid_x%UNDERSCORE%y",
		"DRUID_XMX",
		"druid.indexer.runner.k8s.podTemplate.index_kafka",
		"druid.a._b",
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// s as an environment variable name.
		if key, ok := EnvToProperty(s); ok {
			// "druid__x" is "druid_x" in druid.sh too, so only "druid" is certain.
			if !strings.HasPrefix(key, "druid") {
				t.Fatalf("EnvToProperty(%q) = %q, not a druid key", s, key)
			}
			if name, ok := PropertyToEnv(key); ok {
				if back, _ := EnvToProperty(name); back != key {
					t.Fatalf("%q -> %q -> %q -> %q", s, key, name, back)
				}
			}
		} else if strings.HasPrefix(s, "druid_") {
			t.Fatalf("EnvToProperty(%q) refused a druid_ name", s)
		}
		// s as a property name.
		if name, ok := PropertyToEnv(s); ok {
			back, ok := EnvToProperty(name)
			if !ok || back != s {
				t.Fatalf("PropertyToEnv(%q) = %q, which reads back as %q", s, name, back)
			}
		}
	})
}

func FuzzParseISODuration(f *testing.F) {
	for _, seed := range []string{
		"PT4H", "P2D", "PT5M", "PT0.5S", "P1DT2H", "P1W", "PT10m", "PT-1H30M",
		"P1Y", "P1M", "PT", "P", "PT1.2345S", "PT2147483647S", "P106752D", "",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseISODuration(s)
		if err != nil {
			return
		}
		if d%time.Millisecond != 0 {
			t.Fatalf("ParseISODuration(%q) = %v, finer than Joda's milliseconds", s, d)
		}
		text := FormatISODuration(d)
		back, err := ParseISODuration(text)
		if err != nil {
			t.Fatalf("FormatISODuration(%v) = %q does not parse: %v", d, text, err)
		}
		if back != d {
			t.Fatalf("%q -> %v -> %q -> %v", s, d, text, back)
		}
	})
}

func FuzzExpand(f *testing.F) {
	for _, seed := range []string{
		"${env:A}", "x${env:B:-d}y", "$${env:A}", "${env:${env:A}}", "${", "${}", "${:-}",
		"${env:LOOP}", "${sys:x:-${env:A}}", "${file:UTF-8:}",
	} {
		f.Add(seed)
	}
	env := map[string]string{"A": "a", "B": "${env:A}", "LOOP": "${env:LOOP}"}
	e := &expander{
		lookupEnv: func(name string) (string, bool) { v, ok := env[name]; return v, ok },
		readFile:  func(string) ([]byte, error) { return []byte("file"), nil },
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := e.expand(s)
		if err == nil && !strings.Contains(s, "${") && out != s {
			t.Fatalf("expand changed %q without references to %q", s, out)
		}
	})
}
