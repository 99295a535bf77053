package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The expectations follow java.util.Properties.load (Druid reads
// runtime.properties with it, over a UTF-8 reader).
func TestParsePropertiesJavaSyntax(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{"equals", "a=b", map[string]string{"a": "b"}},
		{"colon", "a:b", map[string]string{"a": "b"}},
		{"space separator", "a b", map[string]string{"a": "b"}},
		{"tab separator", "a\tb", map[string]string{"a": "b"}},
		{"form feed separator", "a\fb", map[string]string{"a": "b"}},
		{"spaces around separator", "a   =   b", map[string]string{"a": "b"}},
		{"space then colon", "a : b", map[string]string{"a": "b"}},
		{"only the first separator counts", "a=b=c:d", map[string]string{"a": "b=c:d"}},
		{"second separator kept after whitespace separator", "a = = b", map[string]string{"a": "= b"}},
		{"leading whitespace skipped", "   \t a=b", map[string]string{"a": "b"}},
		{"trailing whitespace of value kept", "a=b  ", map[string]string{"a": "b  "}},
		{"key without value", "a", map[string]string{"a": ""}},
		{"key with trailing separator", "a=", map[string]string{"a": ""}},
		{"key followed by spaces", "a   ", map[string]string{"a": ""}},
		{"hash comment", "# c\na=b", map[string]string{"a": "b"}},
		{"bang comment", "! c\na=b", map[string]string{"a": "b"}},
		{"indented comment", "   # c\na=b", map[string]string{"a": "b"}},
		{"hash inside value is text", "a=b # not a comment", map[string]string{"a": "b # not a comment"}},
		{"blank lines", "\n\n  \na=b\n\n", map[string]string{"a": "b"}},
		{"continuation drops next line's indent", "a=one,\\\n    two", map[string]string{"a": "one,two"}},
		{"continuation over several lines", "a=1\\\n 2\\\n\t3", map[string]string{"a": "123"}},
		{"continued line starting with hash is text", "a=b\\\n  #c", map[string]string{"a": "b#c"}},
		{"continuation in a key", "ke\\\n  y=v", map[string]string{"key": "v"}},
		{"escaped backslash at end is not a continuation", "a=b\\\\\nc=d", map[string]string{"a": `b\`, "c": "d"}},
		{"three backslashes continue", "a=b\\\\\\\nc", map[string]string{"a": `b\c`}},
		{"continuation into a blank line ends the value", "a=b\\\n\nc=d", map[string]string{"a": "b", "c": "d"}},
		{"continuation at end of input", "a=b\\", map[string]string{"a": "b"}},
		{"comment line ending in backslash does not continue", "# c\\\na=b", map[string]string{"a": "b"}},
		{"continued line starting with hash is a key", "\\\n#x=1", map[string]string{"#x": "1"}},
		{"continuation into blank line sets nothing", "\\\n   \na=b", map[string]string{"a": "b"}},
		{"CRLF line ends", "a=b\r\nc=d\r\n", map[string]string{"a": "b", "c": "d"}},
		{"CR line ends", "a=b\rc=d", map[string]string{"a": "b", "c": "d"}},
		{"CRLF continuation", "a=b\\\r\n  c", map[string]string{"a": "bc"}},
		{"escapes in value", `a=x\ty\nz\r\f`, map[string]string{"a": "x\ty\nz\r\f"}},
		{"unicode escape", `a=caf\u00e9`, map[string]string{"a": "café"}},
		{"unicode escape upper-case hex", `a=\u00C9`, map[string]string{"a": "É"}},
		{"surrogate pair escape", `a=\uD83D\uDE00`, map[string]string{"a": "😀"}},
		{"escaped backslash before u is not an escape", `a=\\u0041`, map[string]string{"a": `\u0041`}},
		{"raw UTF-8", "a=日本", map[string]string{"a": "日本"}},
		{"unknown escape drops the backslash", `a=\q\z`, map[string]string{"a": "qz"}},
		{"Windows path loses backslashes as in Java", `a=C:\dir\sub`, map[string]string{"a": "C:dirsub"}},
		{"escaped separators in key", `a\=b\:c=d`, map[string]string{"a=b:c": "d"}},
		{"escaped space in key", `a\ b=c`, map[string]string{"a b": "c"}},
		{"escaped leading space in value", `a=\ b`, map[string]string{"a": " b"}},
		{"escaped hash starts a key", `\#a=b`, map[string]string{"#a": "b"}},
		{"duplicate keys: last wins", "a=1\na=2", map[string]string{"a": "2"}},
		{"dollar references left alone", "a=${env:HOME}\nb=${b}", map[string]string{"a": "${env:HOME}", "b": "${b}"}},
		{"byte-order mark ignored", "\uFEFFa=b", map[string]string{"a": "b"}},
		{"JSON value", `druid.indexer.runner.labels={"a":"b","c":"d"}`, map[string]string{"druid.indexer.runner.labels": `{"a":"b","c":"d"}`}},
		{"dotted keys that prefix each other", "x.y=1\nx.y.z=2", map[string]string{"x.y": "1", "x.y.z": "2"}},
		{"empty input", "", map[string]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseProperties([]byte(tc.in))
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParsePropertiesErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{"empty key", "a=b\n=value", "line 2: property name is empty"},
		{"empty key after indent", "  : value", "line 1: property name is empty"},
		{"empty key after continuation", "\\\n=0", "line 1: property name is empty"},
		{"malformed unicode escape", "a=b\nc=\\u12G4", `line 2: malformed \uXXXX escape`},
		{"short unicode escape at end", `a=\u12`, `line 1: malformed \uXXXX escape`},
		{"line number counts continued lines", "a=1\\\n2\n\\uZZZZ=x", "line 3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseProperties([]byte(tc.in))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func TestFormatPropertiesRoundTrip(t *testing.T) {
	m := map[string]string{
		"plain":           "value",
		"a key with = : ": " leading and trailing spaces ",
		"#comment-like":   "!bang",
		"tabs\tnewlines":  "line1\nline2\r\f",
		"backslash":       `C:\dir\`,
		"unicode":         "日本 😀 é",
		"control":         "\x00\x01\x7f",
		"\uFEFFbom":       "\uFEFF",
		"json":            `{"a":["b","c"]}`,
		"continuation":    "ends with \\",
		"empty":           "",
	}
	text := FormatProperties(m)
	got, err := ParseProperties(text)
	require.NoError(t, err)
	assert.Equal(t, m, got)
	assert.Contains(t, string(text), "plain=value\n", "simple entries stay readable")
}
