package smile

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rep is n copies of s.
func rep(s string, n int) string { return strings.Repeat(s, n) }

// hexOf is the hex of a string's bytes, for building expected sequences.
func hexOf(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteString(" ")
		b.WriteString(strings.ToUpper(hexByte(s[i])))
	}
	return b.String()
}

func hexByte(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&0xF]})
}

// TestGolden checks token bytes against the specification. Each case is a
// JSON document and its Smile body (after the header 3A 29 0A 05). Cases
// with encode set are checked both ways (FromJSON must write exactly these
// bytes, as Jackson's generator would); the others are decode-only (valid
// Smile that FromJSON writes differently or never writes).
func TestGolden(t *testing.T) {
	a32, a33, a64, a65 := rep("a", 32), rep("a", 33), rep("a", 64), rep("a", 65)
	e32, e33 := rep("é", 32), rep("é", 33) // 64 and 66 UTF-8 bytes
	u65 := "a" + rep("é", 32)              // 65 UTF-8 bytes
	k56, k58 := rep("é", 28), rep("é", 29) // 56 and 58 bytes
	k57 := "a" + rep("é", 28)              // 57 bytes

	cases := []struct {
		name   string
		json   string
		smile  string // body after the header, hex
		encode bool
		opts   EncodeOptions
	}{
		// Spec "High-level format": header 3A 29 0A + flags; Druid's mapper
		// writes 0x05 (shared names 0x01 | raw binary 0x04). Reference 11:
		// {"type":"metadata","disabled":false}.
		{"cheat sheet example", `{"type":"metadata","disabled":false}`,
			"FA 83 74 79 70 65 47 6D 65 74 61 64 61 74 61 87 64 69 73 61 62 6C 65 64 22 FB", true, EncodeOptions{}},
		// "Token class: Simple literals, numbers": 0x20 "", 0x21 null, 0x22/0x23 false/true;
		// "Tokens: value mode" misc: 0xF8/0xF9 array start/end.
		{"literals", `["",null,false,true]`, "F8 20 21 22 23 F9", true, EncodeOptions{}},
		// "Token class: Small integers": 0xC0-0xDF, zigzag in 5 LSB, -16..15.
		{"small ints", `[0,-1,1,15,-16]`, "F8 C0 C1 C2 DE DF F9", true, EncodeOptions{}},
		// 0x24 32-bit integer, zigzag VInt (Appendix A): last byte bit 7 set, 6 data bits.
		{"int32 VInts", `[16,-17,32,2147483647,-2147483648]`,
			"F8 24 A0 24 A1 24 01 80 24 1F 7F 7F 7F BE 24 1F 7F 7F 7F BF F9", true, EncodeOptions{}},
		// 0x25 64-bit integer, 5-10 data bytes.
		{"int64 VInts", `[2147483648,-2147483649,9223372036854775807,-9223372036854775808]`,
			"F8 25 20 00 00 00 80 25 20 00 00 00 81 25 03 7F 7F 7F 7F 7F 7F 7F 7F BE 25 03 7F 7F 7F 7F 7F 7F 7F 7F BF F9", true, EncodeOptions{}},
		// 0x26 BigInteger: unsigned VInt byte length, then the two's complement
		// bytes in 7-bit encoding (tail right-aligned, spec 1.0.5).
		{"BigInteger", `[9223372036854775808,-9223372036854775809]`,
			"F8 26 89 00 20 00 00 00 00 00 00 00 00 00 26 89 7F 5F 7F 7F 7F 7F 7F 7F 7F 7F 03 F9", true, EncodeOptions{}},
		// 0x29 64-bit double: 10 bytes of 7 bits, big endian, right-aligned.
		{"doubles", `[1.5,-0.0]`,
			"F8 29 00 3F 7C 00 00 00 00 00 00 00 29 01 00 00 00 00 00 00 00 00 00 F9", true, EncodeOptions{}},
		// 0x28 32-bit float. The spec's example lists the five 7-bit groups of
		// 29.9510 least significant first (0x26 0x37 0x3E 0x0F 0x04); on the
		// wire they are big endian ("fixed-length big-endian encoding"), as
		// Jackson writes them.
		{"float32 spec example", `29.951`, "28 04 0F 3E 37 26", false, EncodeOptions{}},
		// Jackson sign-extends a negative float into the unused bits of the
		// first byte (0x7B for -1.0f); "unused bits MUST be ignored".
		{"float32 unused bits", `[-1.0,-1.0]`, "F8 28 7B 7C 00 00 00 28 0B 7C 00 00 00 F9", false, EncodeOptions{}},
		// 0x2A BigDecimal: zigzag scale, then the unscaled value as BigInteger.
		{"BigDecimal", `[0.25,-1.5E+10]`, "F8 2A 84 81 0C 01 2A 91 81 78 01 F9", true, EncodeOptions{ExactDecimals: true}},
		{"BigDecimal beyond double range", `1E+400`, "2A 0C 9F 81 00 01", true, EncodeOptions{}},
		// "Token classes: Tiny ASCII, Short ASCII": 0x40 + len-1 (1-32), 0x60 + len-33 (33-64);
		// "0xE0: Long (variable length) ASCII text" ended by 0xFC.
		{"ASCII strings", `["a","` + a32 + `","` + a33 + `","` + a64 + `","` + a65 + `"]`,
			"F8 40 61 5F" + hexOf(a32) + " 60" + hexOf(a33) + " 7F" + hexOf(a64) + " E0" + hexOf(a65) + " FC F9", true, EncodeOptions{}},
		// "Token classes: Tiny Unicode, Short Unicode": 0x80 + len-2 (2-33), 0xA0 + len-34;
		// 0xE4 long Unicode text ended by 0xFC.
		{"Unicode strings", `["é","` + e32 + `","` + e33 + `"]`,
			"F8 80 C3 A9 BE" + hexOf(e32) + " E4" + hexOf(e33) + " FC F9", true, EncodeOptions{}},
		// 0xBF (65 bytes) is valid Smile; Jackson writes 65 bytes as long text.
		{"Unicode 65 bytes", `"` + u65 + `"`, "BF" + hexOf(u65), false, EncodeOptions{}},
		// "Tokens: key mode": 0x20 "", 0x80 + len-1 ASCII names (1-64), 0xC0 + len-2
		// Unicode names (2-57, Jackson writes up to 56), 0x34 long name … 0xFC, 0xFB end.
		{"property names", `{"":1,"a":2,"` + a64 + `":3,"` + a65 + `":4,"é":5,"` + k56 + `":6,"` + k58 + `":7}`,
			"FA 20 C2 80 61 C4 BF" + hexOf(a64) + " C6 34" + hexOf(a65) + " FC C8 C0 C3 A9 CA F6" + hexOf(k56) + " CC 34" + hexOf(k58) + " FC CE FB", true, EncodeOptions{}},
		{"Unicode name 57 bytes", `{"` + k57 + `":1}`, "FA F7" + hexOf(k57) + " C2 FB", false, EncodeOptions{}},
		// "Shared key name Strings": 0x40-0x7F short references to names 0-63.
		{"shared names", `{"a":{"a":1},"b":[{"a":2,"b":3}]}`,
			"FA 80 61 FA 40 C2 FB 80 62 F8 FA 40 C4 41 C6 FB F9 FB", true, EncodeOptions{}},
		// Long names take table slots too: the second occurrence is 0x40.
		{"shared long name", `{"` + a65 + `":1,"x":{"` + a65 + `":2}}`,
			"FA 34" + hexOf(a65) + " FC C2 80 78 FA 40 C4 FB FB", true, EncodeOptions{}},
		{"empty containers", `{"e":[],"o":{}}`, "FA 80 65 F8 F9 80 6F FA FB FB", true, EncodeOptions{}},
		// 0xFD raw binary: VInt length, raw bytes; JSON gets base64 as Jackson writes byte[].
		{"raw binary", `"AQID"`, "FD 83 01 02 03", false, EncodeOptions{}},
		// 0xE8 7-bit binary: 3 bytes → 3 bytes of 7 bits + one of 3 bits (right-aligned).
		{"7-bit binary", `["AQID",""]`, "F8 E8 83 00 40 40 03 E8 80 F9", false, EncodeOptions{}},
		// Optional end-of-content marker 0xFF.
		{"end marker", `[1]`, "F8 C2 F9 FF", true, EncodeOptions{EndMarker: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := hx(tc.smile)
			var compact bytes.Buffer
			require.NoError(t, json.Compact(&compact, []byte(tc.json)))
			got, err := ToJSON(cat(hdr, body))
			require.NoError(t, err)
			assert.Equal(t, compact.String(), string(got))
			if tc.encode {
				enc, err := FromJSON([]byte(tc.json), tc.opts)
				require.NoError(t, err)
				assert.Equal(t, cat(hdr, body), enc)
			}
		})
	}
}

func TestHeaderVariants(t *testing.T) {
	cases := []struct {
		name string
		opts EncodeOptions
		want string
	}{
		{"Druid default", EncodeOptions{}, "3A 29 0A 05"},
		{"no shared names", EncodeOptions{NoSharedNames: true}, "3A 29 0A 04"},
		{"shared values", EncodeOptions{SharedValues: true}, "3A 29 0A 07"},
		{"Jackson default (7-bit binary)", EncodeOptions{Binary7Bit: true}, "3A 29 0A 01"},
		{"no header", EncodeOptions{NoHeader: true}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FromJSON([]byte(`1`), tc.opts)
			require.NoError(t, err)
			assert.Equal(t, cat(hx(tc.want), hx("C2")), got)
		})
	}
	_, err := FromJSON([]byte(`1`), EncodeOptions{NoHeader: true, SharedValues: true})
	assert.ErrorContains(t, err, "SharedValues needs the header")
}

func TestHeaderless(t *testing.T) {
	body := hx("FA 80 61 FA 40 C2 FB FB")
	_, err := ToJSON(body)
	assert.ErrorContains(t, err, "no Smile header")
	got, err := DecodeOptions{AllowMissingHeader: true}.ToJSON(body)
	require.NoError(t, err)
	assert.Equal(t, `{"a":{"a":1}}`, string(got), "headerless content may use shared names")
	// Without a header shared values are off: a value reference is an error.
	_, err = DecodeOptions{AllowMissingHeader: true}.ToJSON(hx("F8 40 78 01 F9"))
	assert.ErrorContains(t, err, "does not enable shared values")
}

func TestSharedValues(t *testing.T) {
	// "Shared value Strings": 0x01-0x1F refer to values 0-30, 0xEC-0xEF + byte to 31-1023.
	enc, err := FromJSON([]byte(`["x","x","yy","x",""]`), EncodeOptions{SharedValues: true})
	require.NoError(t, err)
	assert.Equal(t, hx("3A 29 0A 07 F8 40 78 01 41 79 79 01 20 F9"), enc)

	// 40 distinct values then references to 0, 30, 31 and 39: 31+ are long references.
	var vals []string
	for i := 0; i < 40; i++ {
		vals = append(vals, `"v`+hexByte(byte(i))+`"`)
	}
	doc := "[" + strings.Join(vals, ",") + `,"v00","v1e","v1f","v27"]`
	enc, err = FromJSON([]byte(doc), EncodeOptions{SharedValues: true})
	require.NoError(t, err)
	assert.True(t, bytes.HasSuffix(enc, hx("01 1F EC 1F EC 27 F9")), "% X", enc[len(enc)-8:])
	got, err := ToJSON(enc)
	require.NoError(t, err)
	assert.Equal(t, doc, string(got))

	// Long strings are never shared (and take no slot).
	long := `"` + rep("z", 65) + `"`
	enc, err = FromJSON([]byte("["+long+","+long+`,"a","a"]`), EncodeOptions{SharedValues: true})
	require.NoError(t, err)
	assert.Equal(t, 2, bytes.Count(enc, []byte(rep("z", 65))))
	assert.True(t, bytes.HasSuffix(enc, hx("40 61 01 F9")))
}

// keys returns `"k0000":0,"k0001":0,…` for n names.
func keys(from, n int) string {
	var b strings.Builder
	for i := from; i < from+n; i++ {
		if i > from {
			b.WriteByte(',')
		}
		b.WriteString(`"k`)
		b.WriteString(pad4(i))
		b.WriteString(`":0`)
	}
	return b.String()
}

func pad4(i int) string {
	s := "000" + itoa(i)
	return s[len(s)-4:]
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var d []byte
	for ; i > 0; i /= 10 {
		d = append([]byte{byte('0' + i%10)}, d...)
	}
	return string(d)
}

// nameLit is the literal key token for a 5-byte ASCII name.
func nameLit(n string) string { return "84" + hexOf(n) }

func TestSharedNameTable(t *testing.T) {
	t.Run("references above 63 and skipped low bytes 0xFE/0xFF", func(t *testing.T) {
		// Names k0000-k0299 take indexes 0-299, "z" 300. Index 254 (0x0FE)
		// and 255 (0x0FF) are never referenced (spec 1.0.6 "Avoiding
		// references"), so k0254/k0255 are written again and take 301/302.
		doc := `{` + keys(0, 300) + `,"z":{"k0253":0,"k0254":0,"k0255":0,"k0256":0,"k0064":0,"k0063":0,"y":{"k0254":0,"k0255":0}}}`
		enc, err := FromJSON([]byte(doc), EncodeOptions{})
		require.NoError(t, err)
		tail := hx("80 7A FA" + // "z" (literal, index 300), {
			" 30 FD C0" + // k0253 → long reference 0x0FD
			" " + nameLit("k0254") + " C0" + // literal, index 301
			" " + nameLit("k0255") + " C0" + // literal, index 302
			" 31 00 C0" + // k0256 → 0x100
			" 30 40 C0" + // k0064 → 0x040 (long form from 64 on)
			" 7F C0" + // k0063 → short reference 63
			" 80 79 FA" + // "y" index 303
			" 31 2D C0" + // k0254 → its new index 301 (0x12D)
			" 31 2E C0" + // k0255 → 302
			" FB FB FB")
		assert.True(t, bytes.HasSuffix(enc, tail), "got tail % X", enc[len(enc)-len(tail):])
		got, err := ToJSON(enc)
		require.NoError(t, err)
		assert.Equal(t, doc, string(got))
	})
	t.Run("table starts over after 1024 names", func(t *testing.T) {
		// k0000-k1023 fill indexes 0-1023; k1024 starts the table over at 0,
		// k1029 is 5, "z" 6. Then k1024 is reference 0, k0000 is no longer
		// known (written in full, index 7), k1029 is reference 5.
		doc := `{` + keys(0, 1030) + `,"z":{"k1024":0,"k0000":0,"k1029":0,"k0000":1}}`
		enc, err := FromJSON([]byte(doc), EncodeOptions{})
		require.NoError(t, err)
		tail := hx("80 7A FA 40 C0 " + nameLit("k0000") + " C0 45 C0 47 C2 FB FB")
		assert.True(t, bytes.HasSuffix(enc, tail), "got tail % X", enc[len(enc)-len(tail):])
		got, err := ToJSON(enc)
		require.NoError(t, err)
		assert.Equal(t, doc, string(got))

		// A decoder that did not start over would resolve 0x40 to k0000.
		_, err = ToJSON(cat(enc[:len(enc)-len(tail)], hx("80 7A FA 30 80 C0 FB FB")))
		assert.ErrorContains(t, err, "shared property name reference 128, but only 7 names are in the table")
	})
	t.Run("shared values start over too", func(t *testing.T) {
		var vals []string
		for i := 0; i < 1030; i++ {
			vals = append(vals, `"v`+pad4(i)+`"`)
		}
		doc := "[" + strings.Join(vals, ",") + `,"v1024","v0000","v0254"]`
		enc, err := FromJSON([]byte(doc), EncodeOptions{SharedValues: true})
		require.NoError(t, err)
		// v1024 is value index 0 (reference byte 0x01); v0000 is new (index 6);
		// v0254 is new as well (index 7).
		assert.True(t, bytes.HasSuffix(enc, hx("01 44"+hexOf("v0000")+" 44"+hexOf("v0254")+" F9")), "% X", enc[len(enc)-16:])
		got, err := ToJSON(enc)
		require.NoError(t, err)
		assert.Equal(t, doc, string(got))
	})
	t.Run("no shared names", func(t *testing.T) {
		enc, err := FromJSON([]byte(`{"a":{"a":1}}`), EncodeOptions{NoSharedNames: true})
		require.NoError(t, err)
		assert.Equal(t, hx("3A 29 0A 04 FA 80 61 FA 80 61 C2 FB FB"), enc)
		// A reference under a header that disables sharing is an error.
		_, err = ToJSON(hx("3A 29 0A 04 FA 80 61 FA 40 C2 FB FB"))
		assert.ErrorContains(t, err, "does not enable shared names")
	})
}

func TestSevenBitAllLengths(t *testing.T) {
	for n := 0; n <= 30; n++ {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(0xFF - i*37)
		}
		enc := append7Bit(nil, data)
		require.Equal(t, int(sevenBitLen(uint64(n))), len(enc), "length %d", n)
		for _, c := range enc {
			require.Zero(t, c&0x80, "7-bit data never sets bit 7")
		}
		d := decoder{in: enc}
		assert.Equal(t, data, append([]byte{}, d.sevenBit(n)...), "length %d", n)
	}
}

func TestNumbers(t *testing.T) {
	cases := []struct {
		name, in, want string
		opts           EncodeOptions
	}{
		{"int32 bounds", `[2147483647,-2147483648]`, "", EncodeOptions{}},
		{"int64 bounds", `[9223372036854775807,-9223372036854775808,2147483648,-2147483649]`, "", EncodeOptions{}},
		{"BigInteger", `[9223372036854775808,-9223372036854775809,123456789012345678901234567890123456789,-340282366920938463463374607431768211456]`, "", EncodeOptions{}},
		{"minus zero integer", `-0`, `0`, EncodeOptions{}},
		{"minus zero double", `-0.0`, `-0.0`, EncodeOptions{}},
		{"integral doubles keep a point", `[1.0,100e0,1E2]`, `[1.0,100.0,100.0]`, EncodeOptions{}},
		{"double precision", `[0.1,0.30000000000000004,1.7976931348623157e308,5e-324,2.2250738585072014E-308]`, `[0.1,0.30000000000000004,1.7976931348623157e+308,5e-324,2.2250738585072014e-308]`, EncodeOptions{}},
		{"double rounds like Java", `[0.1000000000000000055511151231257827,3.14159265358979323846]`, `[0.1,3.141592653589793]`, EncodeOptions{}},
		{"notation switch", `[0.000001,0.0000001,1e20,1e21]`, `[0.000001,1e-7,100000000000000000000.0,1e+21]`, EncodeOptions{}},
		{"underflow to zero", `1e-400`, `0.0`, EncodeOptions{}},
		{"overflow kept exact", `[-1.5e400,1e400]`, `[-1.5E+400,1E+400]`, EncodeOptions{}},
		{"exact decimals", `[0.1,1.50,-0.0,1e3,1.5e-7,0.000001,123456789.123456789123456789]`, `[0.1,1.50,0.0,1E+3,1.5E-7,0.000001,123456789.123456789123456789]`, EncodeOptions{ExactDecimals: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := FromJSON([]byte(tc.in), tc.opts)
			require.NoError(t, err)
			got, err := ToJSON(enc)
			require.NoError(t, err)
			want := tc.want
			if want == "" {
				want = tc.in
			}
			assert.Equal(t, want, string(got))
		})
	}
	t.Run("NaN and infinities become Jackson's strings", func(t *testing.T) {
		// 0x29 with the bit patterns of NaN, +Inf, -Inf (from appendFloat64).
		var body []byte
		body = append(body, tokStartArray)
		for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
			body = appendFloat64(body, f)
		}
		body = appendFloat32(body, float32(math.Inf(-1)))
		body = append(body, tokEndArray)
		got, err := ToJSON(cat(hdr, body))
		require.NoError(t, err)
		assert.Equal(t, `["NaN","Infinity","-Infinity","-Infinity"]`, string(got))
	})
}

func TestStringsEscapedAndDecoded(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"escapes", `"a\"b\\c\/d\b\f\n\r\t\u0001\u001f"`, `"a\"b\\c/d\u0008\u000c\n\r\t\u0001\u001f"`},
		{"unicode escapes", `"\u00e9\u20AC\ud83d\ude00"`, `"é€😀"`},
		{"line separators escaped as encoding/json", "\"\u2028\u2029\"", `"\u2028\u2029"`},
		{"lone surrogates become U+FFFD", `["\ud800","\udc00x","\ud800\u0041"]`, `["` + "\uFFFD" + `","` + "\uFFFD" + `x","` + "\uFFFD" + `A"]`},
		{"invalid UTF-8 becomes U+FFFD", "\"a\xffb\"", "\"a\uFFFDb\""},
		{"names too", `{"\u00e9\n":1}`, `{"é\n":1}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := FromJSON([]byte(tc.in), EncodeOptions{})
			require.NoError(t, err)
			got, err := ToJSON(enc)
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got))
			var fromStd, fromOurs any
			require.NoError(t, json.Unmarshal([]byte(tc.in), &fromStd))
			require.NoError(t, json.Unmarshal(got, &fromOurs))
			assert.Equal(t, fromStd, fromOurs, "same data as encoding/json reads")
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	h := "3A 29 0A 05 "
	cases := []struct {
		name   string
		in     string
		offset int
		reason string
	}{
		{"empty", "", 0, "empty input"},
		{"no header", "FA FB", 0, "no Smile header: first byte 0xFA"},
		{"short header", "3A 29", 2, "unexpected end of input in header"},
		{"bad header", "3A 29 0B 05 C0", 1, "malformed header"},
		{"unknown version", "3A 29 0A 15 C0", 3, "header version 1 not supported"},
		{"header only", h, 4, "no content after the header"},
		{"end marker only", h + "FF", 4, "no content"},
		{"token 0x00", h + "00", 4, "invalid value token 0x00"},
		{"reserved token", h + "2C", 4, "invalid value token 0x2C (reserved)"},
		{"reserved high token", h + "F0", 4, "invalid value token 0xF0"},
		{"second document", h + "3A 29 0A 05 C0", 4, "starts a second document"},
		{"end object in value mode", h + "FB", 4, "end-of-object 0xFB where a value is expected"},
		{"end array at root", h + "F9", 4, "end-of-array 0xF9 outside an array"},
		{"truncated string", h + "45 61 62", 7, "unexpected end of input in string"},
		{"ASCII string with high byte", h + "41 61 C3", 6, "byte 0xC3 in a string marked ASCII"},
		{"invalid UTF-8", h + "80 C3 28", 5, "string is not valid UTF-8"},
		{"long string unterminated", h + "E0 61 62", 4, "without end-of-string marker 0xFC"},
		{"long ASCII with high byte", h + "E0 61 E9 FC", 6, "marked ASCII"},
		{"shared value without header bit", h + "01", 4, "does not enable shared values"},
		{"shared value out of table", "3A 29 0A 07 F8 40 61 02 F9", 7, "shared string value reference 1, but only 1 values are in the table"},
		{"shared name out of table", h + "FA 41 C2 FB", 5, "shared property name reference 1, but only 0 names"},
		{"long shared name truncated", h + "FA 30", 6, "unexpected end of input in shared name reference"},
		{"int32 VInt too long", h + "24 00 00 00 00 00 80", 5, "int32 VInt longer than 5 bytes"},
		{"int64 VInt too long", h + "25 00 00 00 00 00 00 00 00 00 00 80", 5, "int64 VInt longer than 10 bytes"},
		{"VInt truncated", h + "24 01", 6, "unexpected end of input in int32"},
		{"float64 truncated", h + "29 00 00", 7, "unexpected end of input in float64"},
		{"BigInteger empty", h + "26 80", 4, "BigInteger with an empty magnitude"},
		{"BigInteger longer than input", h + "26 BF 00", 5, "BigInteger length 63 exceeds the 1 bytes left"},
		{"raw binary longer than input", h + "FD 1F 7F 7F 7F BF", 5, "raw binary length 4294967295 exceeds the 0 bytes left"},
		{"7-bit binary longer than input", h + "E8 87 00 00", 5, "7-bit binary length 7 exceeds the 2 bytes left"},
		{"trailing data", h + "C0 C0", 5, "trailing byte 0xC0 after the root value"},
		{"unclosed array", h + "F8 C0", 6, "unexpected end of input in array"},
		{"unclosed object", h + "FA 80 61 C0", 8, "unexpected end of input in object"},
		{"object without value", h + "FA 80 61", 7, "unexpected end of input in value"},
		{"end marker in array", h + "F8 FF", 5, "end-of-content marker 0xFF inside an unfinished value"},
		{"end marker as key", h + "FA FF", 5, "end-of-content marker 0xFF inside an object"},
		{"invalid key token", h + "FA 00 C0 FB", 5, "invalid property name token 0x00"},
		{"value token as key", h + "FA F8", 5, "invalid property name token 0xF8"},
		{"key not ASCII", h + "FA 80 E9 C0 FB", 6, "byte 0xE9 in a property name marked ASCII"},
		{"key not UTF-8", h + "FA C0 C3 28 C0 FB", 6, "property name is not valid UTF-8"},
		{"long key unterminated", h + "FA 34 61", 5, "long property name without end-of-string marker"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ToJSON(hx(tc.in))
			var se *Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, "smile", se.Input)
			assert.Equal(t, tc.offset, se.Offset, se.Error())
			assert.Contains(t, se.Reason, tc.reason)
			assert.False(t, errors.Is(err, ErrLimit))
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	cases := []struct {
		name   string
		in     string
		offset int
		reason string
	}{
		{"empty", "", 0, "no JSON value"},
		{"blank", "  \n", 3, "no JSON value"},
		{"trailing comma", `[1,]`, 3, `unexpected ']', want a JSON value`},
		{"missing colon", `{"a" 1}`, 5, `unexpected '1' after property name, want ':'`},
		{"number key", `{1:2}`, 1, "want a property name string"},
		{"unclosed object", `{"a":1`, 6, "unexpected end of input inside object"},
		{"missing comma", `[1 2]`, 3, `unexpected '2' in array, want ',' or ']'`},
		{"object separator", `{"a":1;`, 6, `unexpected ';' in object`},
		{"leading zero", `01`, 1, `unexpected '1' after the JSON value`},
		{"lone minus", `-`, 1, "want a digit after '-'"},
		{"no fraction digits", `1.`, 2, "want a digit after '.'"},
		{"no exponent digits", `1e+`, 3, "want a digit in the exponent"},
		{"bad escape", `"\x"`, 1, `invalid escape \x`},
		{"bad unicode escape", `"\u12G4"`, 1, "invalid \\u escape"},
		{"unterminated", `"abc`, 0, "unterminated string"},
		{"unterminated after escape", `"a\n`, 0, "unterminated string"},
		{"control character", "\"a\tb\"", 2, "control character 0x09 in string"},
		{"bad literal", `tru`, 0, "invalid literal, want true"},
		{"unknown value", `@`, 0, `unexpected '@', want a JSON value`},
		{"binary garbage", "\x00", 0, "unexpected byte 0x00"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromJSON([]byte(tc.in), EncodeOptions{})
			var se *Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, "json", se.Input)
			assert.Equal(t, tc.offset, se.Offset, se.Error())
			assert.Contains(t, se.Reason, tc.reason)
			assert.False(t, json.Valid([]byte(tc.in)), "encoding/json agrees it is invalid")
		})
	}
}

func TestLimits(t *testing.T) {
	deep := func(n int) string { return rep("[", n) + rep("]", n) }
	t.Run("depth", func(t *testing.T) {
		enc, err := FromJSON([]byte(deep(DefaultMaxDepth)), EncodeOptions{})
		require.NoError(t, err, "encoding/json's depth is allowed")
		got, err := ToJSON(enc)
		require.NoError(t, err)
		assert.Equal(t, deep(DefaultMaxDepth), string(got))

		_, err = FromJSON([]byte(deep(DefaultMaxDepth+1)), EncodeOptions{})
		assert.ErrorIs(t, err, ErrLimit)
		assert.NotErrorIs(t, err, ErrOutputTooLarge)
		tooDeep := cat(hdr, bytes.Repeat([]byte{tokStartArray}, DefaultMaxDepth+1), bytes.Repeat([]byte{tokEndArray}, DefaultMaxDepth+1))
		_, err = ToJSON(tooDeep)
		assert.ErrorIs(t, err, ErrLimit)
		assert.ErrorContains(t, err, "nesting deeper than 10000 levels")

		_, err = DecodeOptions{MaxDepth: 2}.ToJSON(cat(hdr, hx("F8 F8 F8 F9 F9 F9")))
		assert.ErrorIs(t, err, ErrLimit)
	})
	t.Run("output size", func(t *testing.T) {
		// One 64-byte name, then 10000 one-byte references to it: 10 KB of
		// Smile, 690 KB of JSON.
		body := cat(hdr, hx("F8 FA BF"), []byte(rep("n", 64)), hx("C0 FB"))
		for i := 0; i < 10000; i++ {
			body = append(body, hx("FA 40 C0 FB")...)
		}
		body = append(body, tokEndArray)
		got, err := ToJSON(body)
		require.NoError(t, err)
		assert.Greater(t, len(got), 600_000)
		_, err = DecodeOptions{MaxOutputBytes: 100_000}.ToJSON(body)
		assert.ErrorIs(t, err, ErrLimit)
		assert.ErrorIs(t, err, ErrOutputTooLarge)
		assert.ErrorContains(t, err, "JSON output exceeds 100000 bytes")
	})
	t.Run("number length", func(t *testing.T) {
		_, err := FromJSON([]byte(rep("9", maxNumberLen+1)), EncodeOptions{})
		assert.ErrorIs(t, err, ErrLimit)
		_, err = FromJSON([]byte("1e99999999999999"), EncodeOptions{ExactDecimals: true})
		assert.ErrorIs(t, err, ErrLimit)
		big := cat(hdr, hx("26"), appendVInt(nil, maxBigBytes+1), make([]byte, sevenBitLen(maxBigBytes+1)))
		_, err = ToJSON(big)
		assert.ErrorIs(t, err, ErrLimit)
		// The largest magnitude accepted decodes to JSON FromJSON reads back.
		mag := bytes.Repeat([]byte{0x7F}, maxBigBytes)
		max := cat(hdr, hx("2A 1F 7F 7F 7F BF"), appendVInt(nil, maxBigBytes), append7Bit(nil, mag))
		j, err := ToJSON(max)
		require.NoError(t, err)
		_, err = FromJSON(j, EncodeOptions{ExactDecimals: true})
		require.NoError(t, err, "%d characters", len(j))
	})
}

func TestMarshalUnmarshal(t *testing.T) {
	type item struct {
		Name  string            `json:"name"`
		Count int64             `json:"count"`
		Ratio float64           `json:"ratio"`
		Tags  []string          `json:"tags"`
		Meta  map[string]string `json:"meta"`
		Raw   []byte            `json:"raw"`
	}
	in := item{Name: "wiki", Count: 1 << 40, Ratio: 0.25, Tags: []string{"a", "é"}, Meta: map[string]string{"k": "v"}, Raw: []byte{1, 2, 3}}
	b, err := Marshal(in)
	require.NoError(t, err)
	assert.Equal(t, hdr, b[:4])
	var out item
	require.NoError(t, Unmarshal(b, &out))
	assert.Equal(t, in, out)

	_, err = Marshal(func() {})
	assert.ErrorContains(t, err, "smile: marshal")
	assert.ErrorContains(t, Unmarshal(hx("3A 29 0A 05 40 61"), &out), "smile: unmarshal")
	var se *Error
	assert.ErrorAs(t, Unmarshal([]byte(`{}`), &out), &se)
}
