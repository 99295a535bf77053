package smile

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// DecodeOptions tunes ToJSON. The zero value is Jackson's SmileParser
// default: the 4-byte header is required.
type DecodeOptions struct {
	// AllowMissingHeader accepts content without the header, with the
	// specification's defaults for headerless content: shared property names
	// may occur, shared string values may not.
	AllowMissingHeader bool
	// MaxDepth bounds nesting; 0 means DefaultMaxDepth.
	MaxDepth int
	// MaxOutputBytes bounds the JSON produced; 0 means DefaultMaxOutputBytes.
	MaxOutputBytes int
}

// ToJSON decodes one Smile document, which must start with the header, to
// compact JSON. An optional end-of-content marker (0xFF) may follow the root
// value; anything after it is ignored, as the specification says.
func ToJSON(data []byte) ([]byte, error) { return DecodeOptions{}.ToJSON(data) }

// ToJSON decodes one Smile document to compact JSON; see the package ToJSON.
func (o DecodeOptions) ToJSON(data []byte) ([]byte, error) {
	return o.AppendJSON(make([]byte, 0, len(data)+len(data)/2+16), data)
}

// AppendJSON decodes one Smile document and appends its JSON to dst.
func (o DecodeOptions) AppendJSON(dst, data []byte) ([]byte, error) {
	d := decoder{in: data, out: dst, base: len(dst), maxDepth: o.MaxDepth, maxOut: o.MaxOutputBytes}
	if d.maxDepth <= 0 {
		d.maxDepth = DefaultMaxDepth
	}
	if d.maxOut <= 0 {
		d.maxOut = DefaultMaxOutputBytes
	}
	if err := d.header(o.AllowMissingHeader); err != nil {
		return dst, err
	}
	if err := d.document(); err != nil {
		return dst, err
	}
	return d.out, nil
}

// span is a range of the output: the quoted JSON form of a string that a
// back reference may repeat. The output only grows, so spans stay valid and
// shared strings cost no allocation.
type span struct{ start, end int }

// Container states on the decoder's stack.
const (
	inArray       = 0
	inObject      = 1
	containerUsed = 2 // at least one element written: the next needs a comma
)

type decoder struct {
	in       []byte
	pos      int
	out      []byte
	base     int // len(out) before this document
	maxOut   int
	maxDepth int

	namesOn  bool
	valuesOn bool
	names    []span
	values   []span
	stack    []byte
	scratch  []byte
}

func (d *decoder) fail(off int, format string, args ...any) error {
	return &Error{Input: "smile", Offset: off, Reason: fmt.Sprintf(format, args...)}
}

func (d *decoder) limit(off int, format string, args ...any) error {
	return &Error{Input: "smile", Offset: off, Reason: fmt.Sprintf(format, args...), Err: ErrLimit}
}

func (d *decoder) tooLarge(off int) error {
	return &Error{Input: "smile", Offset: off, Reason: fmt.Sprintf("JSON output exceeds %d bytes", d.maxOut), Err: ErrOutputTooLarge}
}

func (d *decoder) eof(what string) error {
	return d.fail(len(d.in), "unexpected end of input in %s", what)
}

func (d *decoder) header(optional bool) error {
	in := d.in
	if len(in) >= 1 && in[0] == header0 {
		switch {
		case len(in) < 4:
			return d.eof("header")
		case in[1] != header1 || in[2] != header2:
			return d.fail(1, "malformed header: 0x3A followed by 0x%02X 0x%02X, want 0x29 0x0A", in[1], in[2])
		case in[3]>>4 != 0:
			return d.fail(3, "header version %d not supported; only version 0 exists", in[3]>>4)
		}
		d.namesOn = in[3]&flagSharedNames != 0
		d.valuesOn = in[3]&flagSharedValues != 0
		d.pos = 4
		return nil
	}
	if !optional {
		if len(in) == 0 {
			return d.fail(0, "empty input: no Smile header")
		}
		return d.fail(0, "no Smile header: first byte 0x%02X, want 0x3A 0x29 0x0A", in[0])
	}
	// Headerless defaults: names may be shared, values not.
	d.namesOn = true
	return nil
}

// document decodes the root value iteratively: the stack, not Go's call
// stack, holds the nesting, so depth costs one byte per level.
func (d *decoder) document() error {
	if d.pos >= len(d.in) {
		return d.fail(d.pos, "no content after the header")
	}
	if d.in[d.pos] == markerEndOfContent {
		return d.fail(d.pos, "no content: end-of-content marker before any value")
	}
	for {
		if len(d.out)-d.base > d.maxOut {
			return d.tooLarge(d.pos)
		}
		if n := len(d.stack); n > 0 {
			top := &d.stack[n-1]
			if d.pos >= len(d.in) {
				if *top&inObject != 0 {
					return d.eof("object")
				}
				return d.eof("array")
			}
			b := d.in[d.pos]
			if *top&inObject != 0 {
				if b == tokEndObject {
					d.pos++
					d.out = append(d.out, '}')
					if d.pop() {
						return d.trailer()
					}
					continue
				}
				if *top&containerUsed != 0 {
					d.out = append(d.out, ',')
				}
				*top |= containerUsed
				if err := d.key(); err != nil {
					return err
				}
				d.out = append(d.out, ':')
			} else {
				if b == tokEndArray {
					d.pos++
					d.out = append(d.out, ']')
					if d.pop() {
						return d.trailer()
					}
					continue
				}
				if *top&containerUsed != 0 {
					d.out = append(d.out, ',')
				}
				*top |= containerUsed
			}
		}
		opened, err := d.value()
		if err != nil {
			return err
		}
		if !opened && len(d.stack) == 0 {
			return d.trailer()
		}
	}
}

// pop closes the innermost container and reports whether the root closed.
func (d *decoder) pop() bool {
	d.stack = d.stack[:len(d.stack)-1]
	return len(d.stack) == 0
}

func (d *decoder) push(kind byte) error {
	if len(d.stack) >= d.maxDepth {
		return d.limit(d.pos-1, "nesting deeper than %d levels", d.maxDepth)
	}
	d.stack = append(d.stack, kind)
	return nil
}

// trailer accepts the end of input or an end-of-content marker (after which
// the specification treats the rest as absent).
func (d *decoder) trailer() error {
	if d.pos < len(d.in) && d.in[d.pos] != markerEndOfContent {
		return d.fail(d.pos, "trailing byte 0x%02X after the root value (only one document is read)", d.in[d.pos])
	}
	if len(d.out)-d.base > d.maxOut {
		return d.tooLarge(d.pos)
	}
	return nil
}

// value decodes one value-mode token at d.pos. opened reports a new array or
// object (its contents follow).
func (d *decoder) value() (opened bool, err error) {
	if d.pos >= len(d.in) {
		return false, d.eof("value")
	}
	start := d.pos
	b := d.in[d.pos]
	d.pos++
	switch {
	case b == 0x00:
		return false, d.fail(start, "invalid value token 0x00")
	case b < 0x20: // short shared value reference
		return false, d.sharedValue(start, int(b)-1)
	case b == tokEmptyString:
		d.out = append(d.out, '"', '"')
	case b == tokNull:
		d.out = append(d.out, "null"...)
	case b == tokFalse:
		d.out = append(d.out, "false"...)
	case b == tokTrue:
		d.out = append(d.out, "true"...)
	case b == tokInt32:
		v, err := d.vint(5, "int32")
		if err != nil {
			return false, err
		}
		// Bits beyond 32 are unused and ignored, as Jackson does.
		d.out = strconv.AppendInt(d.out, int64(unzigzag32(uint32(v))), 10)
	case b == tokInt64:
		v, err := d.vint(10, "int64")
		if err != nil {
			return false, err
		}
		d.out = strconv.AppendInt(d.out, unzigzag64(v), 10)
	case b == tokBigInteger:
		mag, err := d.bigMagnitude(start, "BigInteger")
		if err != nil {
			return false, err
		}
		d.out = fromTwosComplement(mag).Append(d.out, 10)
	case b == tokFloat32:
		raw, err := d.fixed7(5, "float32")
		if err != nil {
			return false, err
		}
		d.out = appendFloat(d.out, float64(math.Float32frombits(uint32(raw))), 32)
	case b == tokFloat64:
		raw, err := d.fixed7(10, "float64")
		if err != nil {
			return false, err
		}
		d.out = appendFloat(d.out, math.Float64frombits(raw), 64)
	case b == tokBigDecimal:
		s, err := d.vint(5, "BigDecimal scale")
		if err != nil {
			return false, err
		}
		mag, err := d.bigMagnitude(start, "BigDecimal")
		if err != nil {
			return false, err
		}
		d.out = appendBigDecimal(d.out, fromTwosComplement(mag), unzigzag32(uint32(s)))
	case b == header0:
		return false, d.fail(start, "value token 0x3A starts a second document; only one is read")
	case b < 0x40:
		return false, d.fail(start, "invalid value token 0x%02X (reserved)", b)
	case b < 0x80: // tiny and short ASCII, 1-64 bytes
		return false, d.shortString(start, int(b&0x3F)+1, true)
	case b < 0xC0: // tiny and short Unicode, 2-65 bytes
		return false, d.shortString(start, int(b&0x3F)+2, false)
	case b < 0xE0: // small int
		d.out = strconv.AppendInt(d.out, int64(unzigzag32(uint32(b&0x1F))), 10)
	case b == tokLongASCII || b == tokLongUnicode:
		return false, d.longString(start, b == tokLongASCII)
	case b == tokBinary7Bit:
		return false, d.binary7(start)
	case b >= prefixSharedValue2 && b <= prefixSharedValue2+3:
		if d.pos >= len(d.in) {
			return false, d.eof("shared value reference")
		}
		idx := int(b&0x03)<<8 | int(d.in[d.pos])
		d.pos++
		return false, d.sharedValue(start, idx)
	case b == tokStartArray:
		if err := d.push(inArray); err != nil {
			return false, err
		}
		d.out = append(d.out, '[')
		return true, nil
	case b == tokStartObject:
		if err := d.push(inObject); err != nil {
			return false, err
		}
		d.out = append(d.out, '{')
		return true, nil
	case b == tokEndArray:
		return false, d.fail(start, "end-of-array 0xF9 outside an array")
	case b == tokEndObject:
		return false, d.fail(start, "end-of-object 0xFB where a value is expected")
	case b == tokBinaryRaw:
		return false, d.binaryRaw(start)
	case b == markerEndOfContent:
		return false, d.fail(start, "end-of-content marker 0xFF inside an unfinished value")
	default:
		return false, d.fail(start, "invalid value token 0x%02X (reserved)", b)
	}
	return false, nil
}

// key decodes one key-mode token (the caller handled end-of-object) and
// appends the quoted name.
func (d *decoder) key() error {
	start := d.pos
	b := d.in[d.pos]
	d.pos++
	switch {
	case b == keyEmpty:
		d.out = append(d.out, '"', '"')
		return nil
	case b >= prefixKeyShared2 && b <= prefixKeyShared2+3:
		if d.pos >= len(d.in) {
			return d.eof("shared name reference")
		}
		idx := int(b&0x03)<<8 | int(d.in[d.pos])
		d.pos++
		return d.sharedName(start, idx)
	case b == keyLong:
		end := bytes.IndexByte(d.in[d.pos:], markerEndOfString)
		if end < 0 {
			return d.fail(start, "long property name without end-of-string marker 0xFC")
		}
		s := d.in[d.pos : d.pos+end]
		if !utf8.Valid(s) {
			return d.fail(d.pos+invalidUTF8At(s), "property name is not valid UTF-8")
		}
		d.pos += end + 1
		d.addName(d.appendQuoted(s))
		return nil
	case b >= prefixKeyShared1 && b < prefixKeyASCII:
		return d.sharedName(start, int(b&0x3F))
	case b >= prefixKeyASCII && b < prefixKeyUnicode:
		s, err := d.take(int(b&0x3F)+1, "property name")
		if err != nil {
			return err
		}
		if i := nonASCIIAt(s); i >= 0 {
			return d.fail(start+1+i, "byte 0x%02X in a property name marked ASCII", s[i])
		}
		d.addName(d.appendQuoted(s))
		return nil
	case b >= prefixKeyUnicode && b <= 0xF7:
		s, err := d.take(int(b&0x3F)+2, "property name")
		if err != nil {
			return err
		}
		if !utf8.Valid(s) {
			return d.fail(start+1+invalidUTF8At(s), "property name is not valid UTF-8")
		}
		d.addName(d.appendQuoted(s))
		return nil
	case b == markerEndOfContent:
		return d.fail(start, "end-of-content marker 0xFF inside an object")
	default:
		return d.fail(start, "invalid property name token 0x%02X", b)
	}
}

func (d *decoder) take(n int, what string) ([]byte, error) {
	if n > len(d.in)-d.pos {
		return nil, d.eof(what)
	}
	s := d.in[d.pos : d.pos+n]
	d.pos += n
	return s, nil
}

func (d *decoder) shortString(start, n int, ascii bool) error {
	s, err := d.take(n, "string")
	if err != nil {
		return err
	}
	if ascii {
		if i := nonASCIIAt(s); i >= 0 {
			return d.fail(start+1+i, "byte 0x%02X in a string marked ASCII", s[i])
		}
	} else if !utf8.Valid(s) {
		return d.fail(start+1+invalidUTF8At(s), "string is not valid UTF-8")
	}
	sp := d.appendQuoted(s)
	if d.valuesOn {
		// Every length-prefixed string takes a table slot, as in Jackson's
		// parser (the encoder only shares strings of at most 64 bytes).
		d.values = addShared(d.values, sp)
	}
	return nil
}

func (d *decoder) longString(start int, ascii bool) error {
	end := bytes.IndexByte(d.in[d.pos:], markerEndOfString)
	if end < 0 {
		return d.fail(start, "long string without end-of-string marker 0xFC")
	}
	s := d.in[d.pos : d.pos+end]
	if ascii {
		if i := nonASCIIAt(s); i >= 0 {
			return d.fail(d.pos+i, "byte 0x%02X in a string marked ASCII", s[i])
		}
	} else if !utf8.Valid(s) {
		return d.fail(d.pos+invalidUTF8At(s), "string is not valid UTF-8")
	}
	d.pos += end + 1
	d.appendQuoted(s)
	return nil
}

func (d *decoder) sharedValue(start, idx int) error {
	return d.shared(start, idx, d.valuesOn, d.values, "string value", "values")
}

func (d *decoder) sharedName(start, idx int) error {
	return d.shared(start, idx, d.namesOn, d.names, "property name", "names")
}

// shared copies entry idx of a back-reference table (its JSON text is
// already in the output) after checking the header enabled the table.
func (d *decoder) shared(start, idx int, on bool, table []span, what, plural string) error {
	if !on {
		return d.fail(start, "shared %s reference %d, but the header does not enable shared %s", what, idx, plural)
	}
	if idx >= len(table) {
		return d.fail(start, "shared %s reference %d, but only %d %s are in the table", what, idx, len(table), plural)
	}
	sp := table[idx]
	d.out = append(d.out, d.out[sp.start:sp.end]...)
	return nil
}

func (d *decoder) addName(sp span) {
	if d.namesOn {
		d.names = addShared(d.names, sp)
	}
}

// addShared appends to a back-reference table, starting it over when it
// holds maxShared entries (indexes are absolute, not relative).
func addShared(t []span, sp span) []span {
	if len(t) >= maxShared {
		t = t[:0]
	}
	return append(t, sp)
}

// vint reads an unsigned VInt of at most maxLen bytes: 7 bits per byte, big
// endian, the last byte marked by bit 7 and carrying 6 bits. Bits beyond 64
// are dropped (they are unused in every valid encoding).
func (d *decoder) vint(maxLen int, what string) (uint64, error) {
	start := d.pos
	var v uint64
	for i := 0; i < maxLen; i++ {
		if d.pos >= len(d.in) {
			return 0, d.eof(what)
		}
		c := d.in[d.pos]
		d.pos++
		if c&0x80 != 0 {
			return v<<6 | uint64(c&0x3F), nil
		}
		v = v<<7 | uint64(c)
	}
	return 0, d.fail(start, "%s VInt longer than %d bytes", what, maxLen)
}

// length reads an unsigned VInt length and checks that the input can hold
// encLen(n) more bytes, so no buffer is sized from a lie.
func (d *decoder) length(what string, encLen func(uint64) uint64) (int, error) {
	start := d.pos
	n, err := d.vint(5, what+" length")
	if err != nil {
		return 0, err
	}
	if encLen(n) > uint64(len(d.in)-d.pos) {
		return 0, d.fail(start, "%s length %d exceeds the %d bytes left in the input", what, n, len(d.in)-d.pos)
	}
	return int(n), nil
}

func rawLen(n uint64) uint64 { return n }

// sevenBitLen is the encoded size of n bytes in "safe" 7-bit encoding: 8
// bytes per 7, and r+1 bytes for a tail of r.
func sevenBitLen(n uint64) uint64 {
	l := n / 7 * 8
	if r := n % 7; r > 0 {
		l += r + 1
	}
	return l
}

// fixed7 reads n bytes of 7 bits each, big endian, right-aligned (float32:
// 5 bytes, float64: 10). Unused high bits are ignored.
func (d *decoder) fixed7(n int, what string) (uint64, error) {
	s, err := d.take(n, what)
	if err != nil {
		return 0, err
	}
	var v uint64
	for _, c := range s {
		v = v<<7 | uint64(c&0x7F)
	}
	return v, nil
}

// sevenBit decodes "safe" 7-bit data of n raw bytes from the input into
// d.scratch: full groups of 8 bytes carry 7, and a tail of r raw bytes uses
// r+1 bytes whose last holds r bits, right-aligned (spec 1.0.5 and later;
// what Jackson writes).
func (d *decoder) sevenBit(n int) []byte {
	out := d.scratch[:0]
	in := d.in[d.pos : d.pos+int(sevenBitLen(uint64(n)))]
	d.pos += len(in)
	for n >= 7 {
		var v uint64
		for _, c := range in[:8] {
			v = v<<7 | uint64(c&0x7F)
		}
		out = append(out, byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
		in, n = in[8:], n-7
	}
	if n > 0 {
		// n raw bytes = n*8 bits: n groups of 7 bits, then n bits.
		var v uint64
		for _, c := range in[:n] {
			v = v<<7 | uint64(c&0x7F)
		}
		v = v<<uint(n) | uint64(in[n]&(1<<uint(n)-1))
		for i := n - 1; i >= 0; i-- {
			out = append(out, byte(v>>(8*uint(i))))
		}
	}
	d.scratch = out
	return out
}

func (d *decoder) bigMagnitude(start int, what string) ([]byte, error) {
	n, err := d.length(what, sevenBitLen)
	if err != nil {
		return nil, err
	}
	switch {
	case n == 0:
		return nil, d.fail(start, "%s with an empty magnitude", what)
	case n > maxBigBytes:
		return nil, d.limit(start, "%s magnitude of %d bytes exceeds the limit of %d", what, n, maxBigBytes)
	}
	return d.sevenBit(n), nil
}

func (d *decoder) binary7(start int) error {
	n, err := d.length("7-bit binary", sevenBitLen)
	if err != nil {
		return err
	}
	if base64.StdEncoding.EncodedLen(n) > d.maxOut {
		return d.tooLarge(start)
	}
	d.appendBase64(d.sevenBit(n))
	return nil
}

// binaryRaw reads 0xFD binary. Jackson's parser accepts it whatever the
// header's raw-binary bit says, and so does this decoder.
func (d *decoder) binaryRaw(start int) error {
	n, err := d.length("raw binary", rawLen)
	if err != nil {
		return err
	}
	if base64.StdEncoding.EncodedLen(n) > d.maxOut {
		return d.tooLarge(start)
	}
	d.appendBase64(d.in[d.pos : d.pos+n])
	d.pos += n
	return nil
}

func (d *decoder) appendBase64(b []byte) {
	d.out = append(d.out, '"')
	d.out = base64.StdEncoding.AppendEncode(d.out, b)
	d.out = append(d.out, '"')
}

// appendQuoted appends s (valid UTF-8) as a JSON string and returns its span.
func (d *decoder) appendQuoted(s []byte) span {
	start := len(d.out)
	d.out = appendJSONString(d.out, s)
	return span{start, len(d.out)}
}

func unzigzag32(v uint32) int32 { return int32(v>>1) ^ -int32(v&1) }
func unzigzag64(v uint64) int64 { return int64(v>>1) ^ -int64(v&1) }

func nonASCIIAt(s []byte) int {
	for i, c := range s {
		if c >= 0x80 {
			return i
		}
	}
	return -1
}

func invalidUTF8At(s []byte) int {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(s)
}

const hexDigits = "0123456789abcdef"

// jsonSafe[c] is true for ASCII bytes a JSON string holds as is.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendJSONString appends s, valid UTF-8, as a quoted JSON string, escaping
// only what JSON requires plus U+2028 and U+2029 (as encoding/json does, so
// the output is also safe JavaScript).
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		// U+2028/U+2029 are E2 80 A8 / E2 80 A9.
		if c == 0xE2 && i+2 < len(s) && s[i+1] == 0x80 && s[i+2]&^1 == 0xA8 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[s[i+2]&0xF])
			i += 3
			start = i
			continue
		}
		i++
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
