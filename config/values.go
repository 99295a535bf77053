package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Value parsing shared by the typed getters and by Load's type check. Every
// function returns an error that says what is wrong with the value; callers
// add the property name. Surrounding whitespace is ignored for every type but
// String, as Druid's JSON-based binding ignores it for numbers and booleans.

// maxShown bounds how much of a bad value an error message repeats.
const maxShown = 80

func quote(v string) string {
	if len(v) > maxShown {
		return strconv.Quote(v[:maxShown]) + "..."
	}
	return strconv.Quote(v)
}

var errEmpty = errors.New("value is empty")

func parseInteger(v string, bits int) (int64, error) {
	t := strings.TrimSpace(v)
	if t == "" {
		return 0, errEmpty
	}
	n, err := strconv.ParseInt(t, 10, bits)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			kind := "a 32-bit integer (Java int)"
			if bits == 64 {
				kind = "a 64-bit integer (Java long)"
			}
			return 0, fmt.Errorf("%s is out of range for %s", quote(v), kind)
		}
		return 0, fmt.Errorf("%s is not an integer", quote(v))
	}
	return n, nil
}

// parseBool accepts true and false in any letter case, as Java's
// Boolean.parseBoolean does for true, but rejects everything else instead of
// reading it as false.
func parseBool(v string) (bool, error) {
	t := strings.TrimSpace(v)
	switch {
	case t == "":
		return false, errEmpty
	case strings.EqualFold(t, "true"):
		return true, nil
	case strings.EqualFold(t, "false"):
		return false, nil
	}
	return false, fmt.Errorf("%s is not a boolean (use true or false)", quote(v))
}

func parseFloat(v string) (float64, error) {
	t := strings.TrimSpace(v)
	if t == "" {
		return 0, errEmpty
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%s is not a finite number", quote(v))
	}
	return f, nil
}

// parseDurationValue is ParseISODuration for configuration values: Druid's
// durations are all timeouts and periods, so a negative one is a mistake.
func parseDurationValue(v string) (time.Duration, error) {
	if strings.TrimSpace(v) == "" {
		return 0, errEmpty
	}
	d, err := ParseISODuration(v)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, fmt.Errorf("%s is negative", quote(v))
	}
	return d, nil
}

// decodeJSON decodes exactly one JSON value from v, rejecting trailing data.
func decodeJSON(v string, what string) (any, error) {
	t := strings.TrimSpace(v)
	if t == "" {
		return nil, errEmpty
	}
	dec := json.NewDecoder(strings.NewReader(t))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("%s is not a JSON %s: %v", quote(v), what, err)
	}
	if rest := strings.TrimSpace(t[dec.InputOffset():]); rest != "" {
		return nil, fmt.Errorf("%s is not a JSON %s: unexpected %s after the %s", quote(v), what, quote(rest), what)
	}
	return out, nil
}

// scalarString turns a JSON scalar into the string Druid's Jackson binding
// would make of it for a String element: strings as they are, numbers and
// booleans as written.
func scalarString(x any) (string, bool) {
	switch s := x.(type) {
	case string:
		return s, true
	case json.Number:
		return s.String(), true
	case bool:
		return strconv.FormatBool(s), true
	}
	return "", false
}

func jsonKind(x any) string {
	switch x.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return "a scalar"
}

func parseJSONArray(v string) ([]string, error) {
	x, err := decodeJSON(v, "array")
	if err != nil {
		return nil, err
	}
	arr, ok := x.([]any)
	if !ok {
		return nil, fmt.Errorf("%s is not a JSON array (write it as [\"a\", \"b\"])", quote(v))
	}
	out := make([]string, len(arr))
	for i, e := range arr {
		s, ok := scalarString(e)
		if !ok {
			return nil, fmt.Errorf("element %d is %s, want a string", i, jsonKind(e))
		}
		out[i] = s
	}
	return out, nil
}

func parseJSONObject(v string) (map[string]string, error) {
	x, err := decodeJSON(v, "object")
	if err != nil {
		return nil, err
	}
	obj, ok := x.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s is not a JSON object (write it as {\"name\": \"value\"})", quote(v))
	}
	out := make(map[string]string, len(obj))
	for _, k := range sortedKeys(obj) {
		s, ok := scalarString(obj[k])
		if !ok {
			return nil, fmt.Errorf("field %q is %s, want a string", k, jsonKind(obj[k]))
		}
		out[k] = s
	}
	return out, nil
}

func parseJSONObjectRaw(v string) (map[string]json.RawMessage, error) {
	if _, err := decodeJSON(v, "object"); err != nil {
		return nil, err
	}
	var out map[string]json.RawMessage
	t := bytes.TrimSpace([]byte(v))
	if err := json.Unmarshal(t, &out); err != nil || out == nil {
		return nil, fmt.Errorf("%s is not a JSON object (write it as {\"name\": \"value\"})", quote(v))
	}
	return out, nil
}

// checkType reports whether v is a valid value of type t.
func checkType(t Type, v string) error {
	var err error
	switch t {
	case TypeString:
	case TypeInt:
		_, err = parseInteger(v, 32)
	case TypeLong:
		_, err = parseInteger(v, 64)
	case TypeBool:
		_, err = parseBool(v)
	case TypeFloat:
		_, err = parseFloat(v)
	case TypeDuration:
		_, err = parseDurationValue(v)
	case TypeJSONArray:
		_, err = parseJSONArray(v)
	case TypeJSONObject:
		_, err = parseJSONObject(v)
	default:
		err = fmt.Errorf("unknown type %q", t)
	}
	return err
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
