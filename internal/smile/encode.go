package smile

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// EncodeOptions tunes FromJSON. The zero value writes what Druid's Smile
// mapper writes: header 3A 29 0A 05 (shared property names on, shared string
// values off, raw binary allowed), no end marker, non-integral numbers as
// doubles.
type EncodeOptions struct {
	// NoHeader omits the 4-byte header (Jackson's WRITE_HEADER off). A reader
	// then assumes shared names may occur and shared values do not, so
	// NoHeader cannot be combined with SharedValues.
	NoHeader bool
	// NoSharedNames writes every property name in full (CHECK_SHARED_NAMES off).
	NoSharedNames bool
	// SharedValues replaces repeated short (≤ 64 byte) string values by back
	// references (CHECK_SHARED_STRING_VALUES on).
	SharedValues bool
	// Binary7Bit clears the header's raw-binary bit, as Jackson's
	// ENCODE_BINARY_AS_7BIT (its own default, not Druid's) does. JSON has no
	// binary values, so only the header byte changes.
	Binary7Bit bool
	// EndMarker appends the end-of-content marker 0xFF (WRITE_END_MARKER).
	EndMarker bool
	// ExactDecimals writes numbers with a fraction or exponent as BigDecimal,
	// keeping every digit and the scale, instead of as the nearest double (as
	// Jackson's USE_BIG_DECIMAL_FOR_FLOATS).
	ExactDecimals bool
	// MaxDepth bounds nesting; 0 means DefaultMaxDepth.
	MaxDepth int
}

func (o EncodeOptions) headerFlags() byte {
	var f byte
	if !o.NoSharedNames {
		f |= flagSharedNames
	}
	if o.SharedValues {
		f |= flagSharedValues
	}
	if !o.Binary7Bit {
		f |= flagRawBinary
	}
	return f
}

// FromJSON converts one JSON value (surrounding whitespace allowed) to a
// Smile document. Strings with invalid UTF-8 or unpaired surrogate escapes
// get U+FFFD, as encoding/json decodes them.
func FromJSON(data []byte, opts EncodeOptions) ([]byte, error) {
	return opts.AppendSmile(make([]byte, 0, len(data)), data)
}

// AppendSmile converts one JSON value to Smile and appends it to dst.
func (o EncodeOptions) AppendSmile(dst, data []byte) ([]byte, error) {
	if o.NoHeader && o.SharedValues {
		return dst, errors.New("smile: encode options: SharedValues needs the header (a headerless reader assumes no shared values)")
	}
	e := encoder{in: data, out: dst, exact: o.ExactDecimals, maxDepth: o.MaxDepth}
	if e.maxDepth <= 0 {
		e.maxDepth = DefaultMaxDepth
	}
	if !o.NoSharedNames {
		e.names = make(map[string]int, 64)
	}
	if o.SharedValues {
		e.values = make(map[string]int, 64)
	}
	if !o.NoHeader {
		e.out = append(e.out, header0, header1, header2, o.headerFlags())
	}
	if err := e.document(); err != nil {
		return dst, err
	}
	if o.EndMarker {
		e.out = append(e.out, markerEndOfContent)
	}
	return e.out, nil
}

type encoder struct {
	in       []byte
	pos      int
	out      []byte
	exact    bool
	maxDepth int

	// names and values map a string to its back-reference index; nil when
	// that sharing is off.
	names      map[string]int
	nameCount  int
	values     map[string]int
	valueCount int

	stack []byte // inArray or inObject per open container
	buf   []byte // unescaped string scratch
}

func (e *encoder) fail(off int, format string, args ...any) error {
	return &Error{Input: "json", Offset: off, Reason: fmt.Sprintf(format, args...)}
}

func (e *encoder) limit(off int, format string, args ...any) error {
	return &Error{Input: "json", Offset: off, Reason: fmt.Sprintf(format, args...), Err: ErrLimit}
}

func (e *encoder) ws() {
	for e.pos < len(e.in) {
		switch e.in[e.pos] {
		case ' ', '\t', '\n', '\r':
			e.pos++
		default:
			return
		}
	}
}

func (e *encoder) describe(off int) string {
	if off >= len(e.in) {
		return "end of input"
	}
	c := e.in[off]
	if c >= 0x20 && c < 0x7F {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte 0x%02X", c)
}

// document parses the JSON iteratively (nesting lives in e.stack) and writes
// Smile tokens as it goes.
func (e *encoder) document() error {
	e.ws()
	if e.pos >= len(e.in) {
		return e.fail(e.pos, "no JSON value")
	}
	for {
		// A value is expected here.
		e.ws()
		if e.pos >= len(e.in) {
			return e.fail(e.pos, "unexpected end of input, want a value")
		}
		switch e.in[e.pos] {
		case '{':
			if err := e.push(inObject); err != nil {
				return err
			}
			e.out = append(e.out, tokStartObject)
			e.pos++
			e.ws()
			if e.pos < len(e.in) && e.in[e.pos] == '}' {
				e.pos++
				e.out = append(e.out, tokEndObject)
				e.stack = e.stack[:len(e.stack)-1]
				break
			}
			if err := e.key(); err != nil {
				return err
			}
			continue
		case '[':
			if err := e.push(inArray); err != nil {
				return err
			}
			e.out = append(e.out, tokStartArray)
			e.pos++
			e.ws()
			if e.pos < len(e.in) && e.in[e.pos] == ']' {
				e.pos++
				e.out = append(e.out, tokEndArray)
				e.stack = e.stack[:len(e.stack)-1]
				break
			}
			continue
		default:
			if err := e.scalar(); err != nil {
				return err
			}
		}
		// A value ended: close containers until one wants another element.
		for {
			e.ws()
			if len(e.stack) == 0 {
				if e.pos < len(e.in) {
					return e.fail(e.pos, "unexpected %s after the JSON value", e.describe(e.pos))
				}
				return nil
			}
			if e.pos >= len(e.in) {
				return e.fail(e.pos, "unexpected end of input inside %s", kindName(e.stack[len(e.stack)-1]))
			}
			c := e.in[e.pos]
			if e.stack[len(e.stack)-1] == inObject {
				if c == '}' {
					e.pos++
					e.out = append(e.out, tokEndObject)
					e.stack = e.stack[:len(e.stack)-1]
					continue
				}
				if c != ',' {
					return e.fail(e.pos, "unexpected %s in object, want ',' or '}'", e.describe(e.pos))
				}
				e.pos++
				if err := e.key(); err != nil {
					return err
				}
				break
			}
			if c == ']' {
				e.pos++
				e.out = append(e.out, tokEndArray)
				e.stack = e.stack[:len(e.stack)-1]
				continue
			}
			if c != ',' {
				return e.fail(e.pos, "unexpected %s in array, want ',' or ']'", e.describe(e.pos))
			}
			e.pos++
			break
		}
	}
}

func kindName(k byte) string {
	if k == inObject {
		return "object"
	}
	return "array"
}

func (e *encoder) push(kind byte) error {
	if len(e.stack) >= e.maxDepth {
		return e.limit(e.pos, "nesting deeper than %d levels", e.maxDepth)
	}
	e.stack = append(e.stack, kind)
	return nil
}

// key parses `"name" :` and writes the name.
func (e *encoder) key() error {
	e.ws()
	if e.pos >= len(e.in) || e.in[e.pos] != '"' {
		return e.fail(e.pos, "unexpected %s, want a property name string", e.describe(e.pos))
	}
	s, err := e.str()
	if err != nil {
		return err
	}
	e.writeName(s)
	e.ws()
	if e.pos >= len(e.in) || e.in[e.pos] != ':' {
		return e.fail(e.pos, "unexpected %s after property name, want ':'", e.describe(e.pos))
	}
	e.pos++
	return nil
}

func (e *encoder) scalar() error {
	start := e.pos
	switch c := e.in[e.pos]; {
	case c == '"':
		s, err := e.str()
		if err != nil {
			return err
		}
		e.writeString(s)
		return nil
	case c == 't':
		return e.literal("true", tokTrue)
	case c == 'f':
		return e.literal("false", tokFalse)
	case c == 'n':
		return e.literal("null", tokNull)
	case c == '-' || c >= '0' && c <= '9':
		return e.number()
	default:
		return e.fail(start, "unexpected %s, want a JSON value", e.describe(start))
	}
}

func (e *encoder) literal(word string, tok byte) error {
	if !bytes.HasPrefix(e.in[e.pos:], []byte(word)) {
		return e.fail(e.pos, "invalid literal, want %s", word)
	}
	e.pos += len(word)
	e.out = append(e.out, tok)
	return nil
}

// number scans a JSON number literal and writes it (see the package doc for
// the type chosen).
func (e *encoder) number() error {
	start := e.pos
	in := e.in
	i := e.pos
	digits := func() int {
		j := i
		for i < len(in) && in[i] >= '0' && in[i] <= '9' {
			i++
		}
		return i - j
	}
	if in[i] == '-' {
		i++
	}
	switch {
	case i < len(in) && in[i] == '0':
		i++
	case digits() == 0:
		return e.fail(i, "invalid number: want a digit after '-'")
	}
	if i < len(in) && in[i] == '.' {
		i++
		if digits() == 0 {
			return e.fail(i, "invalid number: want a digit after '.'")
		}
	}
	if i < len(in) && (in[i] == 'e' || in[i] == 'E') {
		i++
		if i < len(in) && (in[i] == '+' || in[i] == '-') {
			i++
		}
		if digits() == 0 {
			return e.fail(i, "invalid number: want a digit in the exponent")
		}
	}
	e.pos = i
	lit := in[start:i]
	if len(lit) > maxNumberLen {
		return e.limit(start, "number of %d characters exceeds the limit of %d", len(lit), maxNumberLen)
	}
	n := splitNumber(lit)
	if n.isIntegral {
		if v, err := strconv.ParseInt(string(lit), 10, 64); err == nil {
			e.out = appendInteger(e.out, v)
			return nil
		}
		b, _ := new(big.Int).SetString(string(lit), 10)
		e.out = appendBigInteger(e.out, b)
		return nil
	}
	if !e.exact {
		f, err := strconv.ParseFloat(string(lit), 64)
		if err == nil || !math.IsInf(f, 0) {
			e.out = appendFloat64(e.out, f)
			return nil
		}
		// Beyond the double range: keep the value rather than write Infinity.
	}
	unscaled, scale, ok := n.decimal()
	if !ok {
		// Java's BigDecimal cannot hold it either (scale beyond 32 bits).
		return e.limit(start, "number exponent out of range: the scale must fit 32 bits")
	}
	e.out = appendBigDecimalToken(e.out, unscaled, scale)
	return nil
}

// str parses the JSON string at e.pos (the opening quote) and returns its
// UTF-8 content: a slice of the input when nothing needed decoding, else of
// e.buf (valid until the next call).
func (e *encoder) str() ([]byte, error) {
	in := e.in
	start := e.pos + 1
	i := start
	for i < len(in) {
		c := in[i]
		switch {
		case c == '"':
			e.pos = i + 1
			return in[start:i], nil
		case c == '\\':
			return e.strSlow(start, i)
		case c < 0x20:
			return nil, e.fail(i, "control character 0x%02X in string", c)
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(in[i:])
			if r == utf8.RuneError && size == 1 {
				return e.strSlow(start, i)
			}
			i += size
		}
	}
	return nil, e.fail(e.pos, "unterminated string")
}

// strSlow decodes escapes and replaces invalid UTF-8, continuing at i.
func (e *encoder) strSlow(start, i int) ([]byte, error) {
	in := e.in
	b := append(e.buf[:0], in[start:i]...)
	for i < len(in) {
		c := in[i]
		switch {
		case c == '"':
			e.pos = i + 1
			e.buf = b
			return b, nil
		case c == '\\':
			if i+1 >= len(in) {
				return nil, e.fail(i, "unterminated escape")
			}
			switch esc := in[i+1]; esc {
			case '"', '\\', '/':
				b = append(b, esc)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := hex4(in[i+2:])
				if !ok {
					return nil, e.fail(i, "invalid \\u escape, want 4 hex digits")
				}
				i += 6
				if utf16.IsSurrogate(r) {
					// A valid pair is consumed whole; anything else becomes
					// U+FFFD and the next escape is read on its own, as in
					// encoding/json.
					if i+1 < len(in) && in[i] == '\\' && in[i+1] == 'u' {
						if r2, ok := hex4(in[i+2:]); ok {
							if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
								b = utf8.AppendRune(b, dec)
								i += 6
								continue
							}
						}
					}
					r = utf8.RuneError
				}
				b = utf8.AppendRune(b, r)
				continue
			default:
				return nil, e.fail(i, "invalid escape \\%s", string(rune(esc)))
			}
			i += 2
		case c < 0x20:
			return nil, e.fail(i, "control character 0x%02X in string", c)
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRune(in[i:])
			if r == utf8.RuneError && size == 1 {
				b = utf8.AppendRune(b, utf8.RuneError)
			} else {
				b = append(b, in[i:i+size]...)
			}
			i += size
		}
	}
	return nil, e.fail(e.pos, "unterminated string")
}

func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func isASCII(s []byte) bool {
	for _, c := range s {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// writeName writes a property name as Jackson's SmileGenerator does:
// a back reference when shared, else ASCII up to 64 bytes (0x80-0xBF),
// non-ASCII up to 56 bytes (0xC0-0xF6), longer ones as 0x34 … 0xFC; every
// name written in full (short or long) takes a table slot.
func (e *encoder) writeName(s []byte) {
	if len(s) == 0 {
		e.out = append(e.out, keyEmpty)
		return
	}
	if e.names != nil {
		if idx, ok := e.names[string(s)]; ok {
			if idx < 64 {
				e.out = append(e.out, prefixKeyShared1+byte(idx))
			} else {
				e.out = append(e.out, prefixKeyShared2+byte(idx>>8), byte(idx))
			}
			return
		}
	}
	ascii := isASCII(s)
	switch {
	case ascii && len(s) <= maxShortNameASCII:
		e.out = append(e.out, prefixKeyASCII+byte(len(s)-1))
		e.out = append(e.out, s...)
	case !ascii && len(s) <= maxShortNameUTF8:
		e.out = append(e.out, prefixKeyUnicode+byte(len(s)-2))
		e.out = append(e.out, s...)
	default:
		e.out = append(e.out, keyLong)
		e.out = append(e.out, s...)
		e.out = append(e.out, markerEndOfString)
	}
	if e.names != nil {
		e.nameCount = addSeen(e.names, e.nameCount, s)
	}
}

// writeString writes a string value: "" as 0x20, a back reference when
// shared, up to 64 bytes with a length prefix, longer with an end marker.
func (e *encoder) writeString(s []byte) {
	n := len(s)
	if n == 0 {
		e.out = append(e.out, tokEmptyString)
		return
	}
	if e.values != nil && n <= maxShortValue {
		if idx, ok := e.values[string(s)]; ok {
			if idx < 31 {
				e.out = append(e.out, byte(idx+1))
			} else {
				e.out = append(e.out, prefixSharedValue2+byte(idx>>8), byte(idx))
			}
			return
		}
	}
	ascii := isASCII(s)
	if n <= maxShortValue {
		if ascii {
			e.out = append(e.out, prefixTinyASCII+byte(n-1))
		} else {
			// A non-ASCII string has at least 2 bytes.
			e.out = append(e.out, prefixTinyUnicode+byte(n-2))
		}
		e.out = append(e.out, s...)
		if e.values != nil {
			e.valueCount = addSeen(e.values, e.valueCount, s)
		}
		return
	}
	if ascii {
		e.out = append(e.out, tokLongASCII)
	} else {
		e.out = append(e.out, tokLongUnicode)
	}
	e.out = append(e.out, s...)
	e.out = append(e.out, markerEndOfString)
}

// addSeen records s under the next table index and returns the new count.
// A full table (1024) starts over at 0. Indexes whose low byte is 0xFE or
// 0xFF take a slot but are never referenced, so no reference contains those
// bytes (spec 1.0.6 "Avoiding references"; Jackson's _validBackRef).
func addSeen(m map[string]int, count int, s []byte) int {
	if count == maxShared {
		clear(m)
		count = 0
	}
	if count&0xFF < 0xFE {
		m[string(s)] = count
	}
	return count + 1
}
