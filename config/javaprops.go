package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/magiconair/properties"
)

// ParseProperties parses the text of a Java .properties file the way Druid
// reads runtime.properties (java.util.Properties.load over a UTF-8 reader):
// key and value separated by '=', ':' or whitespace; '#' and '!' comment
// lines; a line ending in an odd number of backslashes continues on the next
// line, whose leading whitespace is dropped; \t \n \r \f \uXXXX escapes
// (surrogate pairs combine); a backslash before any other character is
// dropped; the last of duplicate keys wins; trailing whitespace of a value is
// kept. ${...} in values is left alone here (Druid resolves ${env:...} itself
// later; see Load). A leading UTF-8 byte-order mark is ignored.
//
// The parser is github.com/magiconair/properties with its own ${key}
// expansion turned off (it would rewrite Druid's ${env:NAME} references);
// logical lines are assembled first so that continuations, CR/LF line ends
// and surrogate pairs follow Java exactly. An empty key and a malformed
// \uXXXX escape are errors naming the line.
func ParseProperties(data []byte) (map[string]string, error) {
	text, err := javaLogicalLines(string(data))
	if err != nil {
		return nil, err
	}
	loader := properties.Loader{Encoding: properties.UTF8, DisableExpansion: true}
	p, err := loader.LoadBytes([]byte(text))
	if err != nil {
		return nil, fmt.Errorf("parse properties: %w", err)
	}
	out := make(map[string]string, p.Len())
	for _, k := range p.Keys() {
		v, _ := p.Get(k)
		out[k] = v
	}
	return out, nil
}

// javaLogicalLines rewrites Java properties text into one logical line per
// property, joined by "\n", with comments and blank lines dropped,
// continuations joined and surrogate-pair escapes decoded. The result has
// nothing left that magiconair/properties reads differently from Java, and
// nothing it rejects: its lexer reports errors by leaving a goroutine behind,
// so malformed input is caught here first.
func javaLogicalLines(s string) (string, error) {
	s = strings.TrimPrefix(s, "\uFEFF")
	var out strings.Builder
	out.Grow(len(s))
	lineNo := 0
	rest := s
	nextLine := func() (string, bool) {
		if rest == "" {
			return "", false
		}
		lineNo++
		i := strings.IndexAny(rest, "\r\n")
		if i < 0 {
			line := rest
			rest = ""
			return line, true
		}
		line := rest[:i]
		if rest[i] == '\r' && i+1 < len(rest) && rest[i+1] == '\n' {
			rest = rest[i+2:]
		} else {
			rest = rest[i+1:]
		}
		return line, true
	}
	for {
		line, ok := nextLine()
		if !ok {
			break
		}
		line = trimJavaSpace(line)
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		start := lineNo
		var logical strings.Builder
		for {
			if !endsInContinuation(line) {
				logical.WriteString(line)
				break
			}
			logical.WriteString(line[:len(line)-1])
			next, ok := nextLine()
			if !ok {
				// Java drops a backslash that continues past the end of input.
				break
			}
			line = trimJavaSpace(next)
		}
		decoded, err := decodeSurrogateEscapes(logical.String())
		if err != nil {
			return "", fmt.Errorf("parse properties: line %d: %w", start, err)
		}
		switch {
		case decoded == "":
			// Only a continuation into a blank line: nothing to set.
			continue
		case decoded[0] == '=' || decoded[0] == ':':
			return "", fmt.Errorf("parse properties: line %d: property name is empty", start)
		case decoded[0] == '#' || decoded[0] == '!':
			// Java decides comment lines before joining continuations, so
			// "\\\n#x" is the key "#x"; keep the parser from seeing a comment.
			out.WriteByte('\\')
		}
		out.WriteString(decoded)
		out.WriteByte('\n')
	}
	return out.String(), nil
}

// trimJavaSpace drops the leading whitespace Java skips on every natural line.
func trimJavaSpace(s string) string {
	return strings.TrimLeft(s, " \t\f")
}

// endsInContinuation reports whether line ends in an odd number of
// backslashes: an even run is escaped backslashes.
func endsInContinuation(line string) bool {
	n := 0
	for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// decodeSurrogateEscapes replaces \uHHHH\uLLLL surrogate-pair escapes with
// the character they encode (Java strings are UTF-16, so a pair is one
// character there) and checks that every \u escape has four hex digits.
// Other escapes are copied unchanged for the properties parser.
func decodeSurrogateEscapes(s string) (string, error) {
	if !strings.Contains(s, `\u`) {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		if s[i+1] != 'u' {
			b.WriteString(s[i : i+2])
			i++
			continue
		}
		hi, ok := hex4(s, i+2)
		if !ok {
			return "", fmt.Errorf(`malformed \uXXXX escape %q`, clip(s[i:], 6))
		}
		if utf16.IsSurrogate(rune(hi)) && hi < 0xDC00 && i+11 < len(s) && s[i+6] == '\\' && s[i+7] == 'u' {
			if lo, ok := hex4(s, i+8); ok && lo >= 0xDC00 && lo <= 0xDFFF {
				b.WriteRune(utf16.DecodeRune(rune(hi), rune(lo)))
				i += 11
				continue
			}
		}
		b.WriteString(s[i : i+6])
		i += 5
	}
	return b.String(), nil
}

// hex4 parses the four hex digits at s[at:at+4].
func hex4(s string, at int) (uint16, bool) {
	if at+4 > len(s) {
		return 0, false
	}
	v, err := strconv.ParseUint(s[at:at+4], 16, 16)
	if err != nil {
		return 0, false
	}
	return uint16(v), true
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// FormatProperties renders m as Java properties text, one "key=value" line per
// entry sorted by key, escaped so that ParseProperties (and Java) read back
// exactly m. Non-ASCII text is written as UTF-8, which Druid reads; control
// characters and the byte-order mark are written as \uXXXX escapes.
func FormatProperties(m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		escapeProperty(&b, k, true)
		b.WriteByte('=')
		escapeProperty(&b, m[k], false)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// escapeProperty writes s escaped as java.util.Properties.store does: in keys
// every space is escaped, in values only a leading one; separators and
// comment characters are escaped everywhere so no reader can misplace them.
func escapeProperty(b *strings.Builder, s string, isKey bool) {
	for i, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case ' ':
			if isKey || i == 0 {
				b.WriteString(`\ `)
			} else {
				b.WriteByte(' ')
			}
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\f':
			b.WriteString(`\f`)
		case '=', ':', '#', '!':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			if r < 0x20 || r == 0x7f || r == '\uFEFF' || r == utf8.RuneError {
				fmt.Fprintf(b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
}
