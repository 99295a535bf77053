package smile

import (
	"bytes"
	"math"
	"math/big"
	"strconv"
)

// appendVInt appends v as an unsigned VInt: 7-bit groups, most significant
// first, the last byte with bit 7 set and 6 data bits. Always minimal, as
// Jackson writes it.
func appendVInt(dst []byte, v uint64) []byte {
	var buf [10]byte
	i := len(buf) - 1
	buf[i] = 0x80 | byte(v&0x3F)
	v >>= 6
	for v != 0 {
		i--
		buf[i] = byte(v & 0x7F)
		v >>= 7
	}
	return append(dst, buf[i:]...)
}

func zigzag32(v int32) uint32 { return uint32(v<<1) ^ uint32(v>>31) }
func zigzag64(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

// appendInteger writes v as Jackson's writeNumber(long) does: values that
// fit 32 bits go through writeNumber(int) (small int or 0x24), the rest are
// 0x25.
func appendInteger(dst []byte, v int64) []byte {
	if v >= math.MinInt32 && v <= math.MaxInt32 {
		z := zigzag32(int32(v))
		if z <= 0x1F {
			return append(dst, prefixSmallInt+byte(z))
		}
		return appendVInt(append(dst, tokInt32), uint64(z))
	}
	return appendVInt(append(dst, tokInt64), zigzag64(v))
}

// appendFloat64 writes a double: 0x29 and 64 bits in ten 7-bit bytes, most
// significant first, the first byte holding the top bit.
func appendFloat64(dst []byte, f float64) []byte {
	bits := math.Float64bits(f)
	dst = append(dst, tokFloat64)
	for i := 9; i >= 0; i-- {
		dst = append(dst, byte(bits>>(7*uint(i)))&0x7F)
	}
	return dst
}

// appendFloat32 writes a float: 0x28 and 32 bits in five 7-bit bytes, the
// first holding the top 4 bits. (Jackson sign-extends into the unused bits of
// that first byte for negative floats; the specification says unused bits
// should be 0 and must be ignored, so this writes 0.)
func appendFloat32(dst []byte, f float32) []byte {
	bits := math.Float32bits(f)
	dst = append(dst, tokFloat32)
	for i := 4; i >= 0; i-- {
		dst = append(dst, byte(bits>>(7*uint(i)))&0x7F)
	}
	return dst
}

// append7Bit writes data in "safe" 7-bit encoding: each 7 bytes as 8 bytes
// of 7 bits; a tail of n bytes as n bytes of 7 bits and one of n bits,
// right-aligned (Jackson's _write7BitBinaryWithLength; spec 1.0.5).
func append7Bit(dst, data []byte) []byte {
	for len(data) >= 7 {
		var v uint64
		for _, c := range data[:7] {
			v = v<<8 | uint64(c)
		}
		for shift := 49; shift >= 0; shift -= 7 {
			dst = append(dst, byte(v>>uint(shift))&0x7F)
		}
		data = data[7:]
	}
	if n := len(data); n > 0 {
		var v uint64
		for _, c := range data {
			v = v<<8 | uint64(c)
		}
		for i := 1; i <= n; i++ {
			dst = append(dst, byte(v>>uint(8*n-7*i))&0x7F)
		}
		dst = append(dst, byte(v)&(1<<uint(n)-1))
	}
	return dst
}

// appendBigInteger writes 0x26, the byte length of Java's
// BigInteger.toByteArray() and those bytes in 7-bit encoding.
func appendBigInteger(dst []byte, n *big.Int) []byte {
	mag := toTwosComplement(n)
	dst = appendVInt(append(dst, tokBigInteger), uint64(len(mag)))
	return append7Bit(dst, mag)
}

// appendBigDecimal writes 0x2A, the zigzag scale, then the unscaled value as
// a BigInteger magnitude (Jackson's writeNumber(BigDecimal)).
func appendBigDecimalToken(dst []byte, unscaled *big.Int, scale int32) []byte {
	dst = appendVInt(append(dst, tokBigDecimal), uint64(zigzag32(scale)))
	mag := toTwosComplement(unscaled)
	dst = appendVInt(dst, uint64(len(mag)))
	return append7Bit(dst, mag)
}

var bigOne = big.NewInt(1)

// toTwosComplement returns Java's BigInteger.toByteArray(): the shortest
// big-endian two's complement form, at least one byte.
func toTwosComplement(n *big.Int) []byte {
	if n.Sign() >= 0 {
		return n.FillBytes(make([]byte, n.BitLen()/8+1))
	}
	// For n < 0 the k-byte form is 2^(8k) + n, the complement of |n|-1.
	m := new(big.Int).Neg(n)
	m.Sub(m, bigOne)
	b := m.FillBytes(make([]byte, m.BitLen()/8+1))
	for i := range b {
		b[i] = ^b[i]
	}
	return b
}

// fromTwosComplement is Java's new BigInteger(byte[]).
func fromTwosComplement(b []byte) *big.Int {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(bigOne, uint(8*len(b))))
	}
	return n
}

// appendFloat writes a float32 or float64 as JSON. The shortest text that
// reads back to the same value, in plain notation between 1e-6 and 1e21
// (as encoding/json), always with a '.' or an exponent so that it reads back
// as a floating-point number, not an integer. JSON has no NaN or infinity:
// they become the strings Jackson's JSON generator writes by default.
func appendFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// e-07 → e-7, as encoding/json.
		if n := len(dst); n-start >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
		return dst
	}
	if bytes.IndexByte(dst[start:], '.') < 0 {
		dst = append(dst, '.', '0')
	}
	return dst
}

// appendBigDecimal writes unscaled × 10^-scale as Java's
// BigDecimal.toString() does: plain when the scale is not negative and the
// adjusted exponent is at least -6, scientific ("1.5E+10") otherwise. Both
// are valid JSON numbers, and both read back to the same unscaled value and
// scale.
func appendBigDecimal(dst []byte, unscaled *big.Int, scale int32) []byte {
	if unscaled.Sign() < 0 {
		dst = append(dst, '-')
	}
	coeff := new(big.Int).Abs(unscaled).Append(nil, 10)
	if scale == 0 {
		return append(dst, coeff...)
	}
	adjusted := -int64(scale) + int64(len(coeff)-1)
	if scale > 0 && adjusted >= -6 {
		// Here scale <= len(coeff)+5, so padding is at most 5 zeros.
		if pad := int(scale) - len(coeff); pad >= 0 {
			dst = append(dst, '0', '.')
			for ; pad > 0; pad-- {
				dst = append(dst, '0')
			}
			return append(dst, coeff...)
		}
		point := len(coeff) - int(scale)
		dst = append(dst, coeff[:point]...)
		dst = append(dst, '.')
		return append(dst, coeff[point:]...)
	}
	dst = append(dst, coeff[0])
	if len(coeff) > 1 {
		dst = append(dst, '.')
		dst = append(dst, coeff[1:]...)
	}
	if adjusted != 0 {
		dst = append(dst, 'E')
		if adjusted > 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, adjusted, 10)
	}
	return dst
}

// numberLiteral is a JSON number split into its parts (syntax already
// checked): sign, integer digits, fraction digits, exponent digits with sign.
type numberLiteral struct {
	neg        bool
	intPart    []byte
	fracPart   []byte
	expNeg     bool
	expDigits  []byte
	isIntegral bool
}

func splitNumber(lit []byte) numberLiteral {
	var n numberLiteral
	i := 0
	if lit[0] == '-' {
		n.neg = true
		i = 1
	}
	j := i
	for j < len(lit) && lit[j] >= '0' && lit[j] <= '9' {
		j++
	}
	n.intPart = lit[i:j]
	if j < len(lit) && lit[j] == '.' {
		k := j + 1
		for k < len(lit) && lit[k] >= '0' && lit[k] <= '9' {
			k++
		}
		n.fracPart = lit[j+1 : k]
		j = k
	}
	if j < len(lit) && (lit[j] == 'e' || lit[j] == 'E') {
		j++
		if lit[j] == '+' || lit[j] == '-' {
			n.expNeg = lit[j] == '-'
			j++
		}
		n.expDigits = lit[j:]
	}
	n.isIntegral = n.fracPart == nil && n.expDigits == nil
	return n
}

// decimal returns the literal as Java's new BigDecimal(String) would hold it:
// unscaled digits and scale = fraction digits - exponent. ok is false when
// the scale does not fit 32 bits (Java throws then too).
func (n numberLiteral) decimal() (unscaled *big.Int, scale int32, ok bool) {
	digits := make([]byte, 0, 1+len(n.intPart)+len(n.fracPart))
	if n.neg {
		digits = append(digits, '-')
	}
	digits = append(digits, n.intPart...)
	digits = append(digits, n.fracPart...)
	unscaled, ok = new(big.Int).SetString(string(digits), 10)
	if !ok {
		return nil, 0, false
	}
	var exp int64
	for _, c := range n.expDigits {
		exp = exp*10 + int64(c-'0')
		if exp > 1<<40 {
			return nil, 0, false
		}
	}
	if n.expNeg {
		exp = -exp
	}
	s := int64(len(n.fracPart)) - exp
	if s < math.MinInt32 || s > math.MaxInt32 {
		return nil, 0, false
	}
	return unscaled, int32(s), true
}
