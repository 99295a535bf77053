package task

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode"
)

func isNull(v json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(v), []byte("null")) }

func isUnicodeSpace(r rune) bool { return r != ' ' && unicode.IsSpace(r) }

// parseIntValue accepts a JSON number or a string holding one, as Druid's
// QueryContexts.getAsInt does.
func parseIntValue(v json.RawMessage) (int, error) {
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	var any interface{}
	if err := dec.Decode(&any); err != nil {
		return 0, fmt.Errorf("must be an integer: %v", err)
	}
	switch x := any.(type) {
	case json.Number:
		n = x
	case string:
		n = json.Number(x)
	default:
		return 0, errors.New("must be an integer")
	}
	i, err := strconv.ParseInt(string(n), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("must be an integer, got %s", string(n))
	}
	return int(i), nil
}

// parseTags reads context.tags. Druid treats tag values as strings; scalar
// values of other JSON types are kept in their JSON text form so a task that
// Druid accepts is never refused here.
func parseTags(v json.RawMessage) (map[string]string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, errors.New("must be a JSON object of tag name to string value")
	}
	out := make(map[string]string, len(m))
	for k, raw := range m {
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		switch raw[0] {
		case '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, fmt.Errorf("tag %q: %v", k, err)
			}
			out[k] = s
		case '{', '[':
			return nil, fmt.Errorf("tag %q: value must be a string", k)
		default:
			if isNull(raw) {
				continue
			}
			out[k] = string(raw)
		}
	}
	return out, nil
}

// fieldErrorFromJSON turns encoding/json errors into FieldErrors naming the field.
func fieldErrorFromJSON(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "task"
		}
		return &FieldError{Field: field, Reason: fmt.Sprintf("must be a JSON %s, got %s", jsonKind(te.Type.Kind().String()), te.Value)}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &FieldError{Field: "task", Reason: fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, se)}
	}
	return &FieldError{Field: "task", Reason: err.Error()}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "int", "int64", "int32", "float64":
		return "number"
	case "map", "struct", "ptr":
		return "object"
	case "slice":
		return "array"
	case "bool":
		return "boolean"
	}
	return goKind
}
