// Package smile converts between JSON and Smile, Jackson's binary JSON format
// (FasterXML smile-format-specification 1.0.6), so that taskgate can speak to
// an unmodified Druid Overlord: the Overlord sends assignTask bodies as Smile
// and reads the worker sync answer as Smile.
//
// The package is a transcoder, not a data binder: ToJSON turns one Smile
// document into compact JSON and FromJSON turns JSON into Smile, token by
// token, so every JSON value keeps its shape and key order. Marshal and
// Unmarshal go through encoding/json for Go values.
//
// What is written matches what Jackson's SmileGenerator writes for the same
// token stream with Druid's Smile mapper settings (header with shared
// property names on, shared string values off, raw binary allowed so header
// byte 0x05, no end marker):
//
//   - integers by magnitude, as Jackson's JSON parser types a number literal:
//     int32 (single-byte small ints −16..15, else token 0x24), int64 (0x25),
//     BigInteger (0x26);
//   - numbers with a fraction or exponent as 64-bit doubles (0x29), as Jackson
//     reads JSON floats by default; EncodeOptions.ExactDecimals writes
//     BigDecimal (0x2A) instead, losslessly. A literal beyond the double range
//     is written as BigDecimal even by default, rather than as Infinity;
//   - strings: "" as 0x20, up to 64 UTF-8 bytes with a length prefix, longer
//     ones with the 0xFC end marker;
//   - property names shared through back references into a 1024-entry table
//     that starts over when full, skipping indexes whose low byte would be
//     0xFE or 0xFF, exactly as Jackson does.
//
// Decoding accepts every token of the format, including shared string values,
// float32, BigInteger, BigDecimal, 7-bit and raw binary (written to JSON as a
// base64 string, as Jackson's JSON generator writes byte arrays), and writes
// numbers so that their type survives a round trip: doubles always carry a
// '.' or an exponent, NaN and infinities become the strings "NaN",
// "Infinity" and "-Infinity" (Jackson's default for JSON output), BigDecimal
// follows Java's BigDecimal.toString.
//
// Malformed input never panics: every failure is an *Error naming the input,
// the byte offset and the reason. Memory is bounded by the input size and by
// DecodeOptions.MaxOutputBytes (shared references can otherwise expand a small
// document a lot); nesting is limited to DefaultMaxDepth levels, like
// encoding/json; big numbers are limited (1300 characters of JSON, 512
// bytes of Smile magnitude), as Jackson's StreamReadConstraints limit them,
// because their conversion time grows faster than their length.
//
// Deliberate differences from Jackson, all for content Jackson never writes:
// only one document is read (a second header is an error, not a new
// document); a string marked ASCII must be ASCII and every other string valid
// UTF-8 (Jackson may decode such bytes to garbage characters); JSON input
// with invalid UTF-8 or lone surrogate escapes is read as encoding/json reads
// it (U+FFFD) instead of being rejected. Strings longer than Jackson's output
// buffer (about 2,600 characters) are marked 0xE0 when ASCII, where Jackson
// marks them 0xE4; both decode the same.
package smile

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Limits. A zero option means the default.
const (
	// DefaultMaxDepth is the deepest nesting of arrays and objects accepted
	// in either direction, as encoding/json's limit.
	DefaultMaxDepth = 10000
	// DefaultMaxOutputBytes bounds the JSON ToJSON produces.
	DefaultMaxOutputBytes = 256 << 20
)

// maxNumberLen bounds a JSON number literal (characters) that FromJSON
// accepts; maxBigBytes bounds the magnitude (bytes) of a Smile BigInteger or
// BigDecimal that ToJSON accepts. 512 bytes are at most 1234 decimal digits,
// which with sign, point and exponent stay below maxNumberLen, so whatever
// ToJSON writes FromJSON reads back.
const (
	maxNumberLen = 1300
	maxBigBytes  = 512
)

// Header and token bytes (spec sections "High-level format", "Tokens: value
// mode", "Tokens: key mode").
const (
	header0 = 0x3A // ':'
	header1 = 0x29 // ')'
	header2 = 0x0A // '\n'

	flagSharedNames  = 0x01
	flagSharedValues = 0x02
	flagRawBinary    = 0x04

	tokEmptyString = 0x20
	tokNull        = 0x21
	tokFalse       = 0x22
	tokTrue        = 0x23
	tokInt32       = 0x24
	tokInt64       = 0x25
	tokBigInteger  = 0x26
	tokFloat32     = 0x28
	tokFloat64     = 0x29
	tokBigDecimal  = 0x2A

	prefixTinyASCII    = 0x40 // 1-32 bytes; 0x60-0x7F continue to 64
	prefixTinyUnicode  = 0x80 // 2-33 bytes; 0xA0-0xBF continue to 65
	prefixSmallInt     = 0xC0
	tokLongASCII       = 0xE0
	tokLongUnicode     = 0xE4
	tokBinary7Bit      = 0xE8
	prefixSharedValue2 = 0xEC // long shared value reference, 0xEC-0xEF
	tokStartArray      = 0xF8
	tokEndArray        = 0xF9
	tokStartObject     = 0xFA
	tokEndObject       = 0xFB // key mode only
	markerEndOfString  = 0xFC
	tokBinaryRaw       = 0xFD
	markerEndOfContent = 0xFF

	keyEmpty          = 0x20
	prefixKeyShared2  = 0x30 // long shared name reference, 0x30-0x33
	keyLong           = 0x34
	prefixKeyShared1  = 0x40 // short shared name reference, 0x40-0x7F
	prefixKeyASCII    = 0x80 // 1-64 bytes
	prefixKeyUnicode  = 0xC0 // 2-57 bytes, up to 0xF7
	maxShortValue     = 64   // longest value string written with a length prefix
	maxShortNameASCII = 64
	maxShortNameUTF8  = 56
	maxShared         = 1024 // both back-reference tables
)

// ErrLimit is wrapped by an *Error when input exceeds a configured or built-in
// bound (depth, output size, number length) rather than being malformed.
var ErrLimit = errors.New("limit exceeded")

// ErrOutputTooLarge is the ErrLimit for DecodeOptions.MaxOutputBytes, for
// callers that answer it differently (HTTP 413 rather than 400).
var ErrOutputTooLarge = fmt.Errorf("JSON output too large: %w", ErrLimit)

// Error is a decoding or encoding failure.
type Error struct {
	// Input is "smile" or "json": the input Offset counts bytes of.
	Input string
	// Offset is the byte offset in the input where the problem starts.
	Offset int
	// Reason says what is wrong.
	Reason string
	// Err is ErrLimit (or ErrOutputTooLarge, which wraps it) for limit
	// violations, nil otherwise.
	Err error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s input: offset %d: %s", e.Input, e.Offset, e.Reason)
}

// Unwrap returns ErrLimit for limit violations.
func (e *Error) Unwrap() error { return e.Err }

// Marshal encodes v with encoding/json and converts the JSON to Smile with
// Druid's settings (see EncodeOptions).
func Marshal(v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("smile: marshal: %w", err)
	}
	return FromJSON(j, EncodeOptions{})
}

// Unmarshal converts one Smile document (header required) to JSON and decodes
// that into v with encoding/json.
func Unmarshal(data []byte, v any) error {
	j, err := ToJSON(data)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(j, v); err != nil {
		return fmt.Errorf("smile: unmarshal: %w", err)
	}
	return nil
}
