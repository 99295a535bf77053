package task

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"strings"
	"time"
)

// EnsureID returns raw with an "id" field when the task JSON has none, made
// the way Druid's Overlord makes one: <type>_<dataSource>_<8 random lower-case
// letters>_<ISO-8601 UTC time>. A task that already has an id is returned
// unchanged, so its JSON stays byte-exact. The inserted field goes first in
// the object; nothing else in the document is touched.
func EnsureID(raw []byte, now time.Time) ([]byte, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, &FieldError{Field: "task", Reason: "must be a JSON object"}
	}
	var head struct {
		wireTask
		ID json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal(trimmed, &head); err != nil {
		return nil, fieldErrorFromJSON(err)
	}
	if len(head.ID) > 0 && !isNull(head.ID) {
		return raw, nil
	}
	if head.Type == nil || *head.Type == "" {
		return nil, &FieldError{Field: "type", Reason: "is required"}
	}
	parts := []string{*head.Type}
	if ds := head.dataSource(); ds != "" {
		parts = append(parts, ds)
	}
	parts = append(parts, randomLetters(8), now.UTC().Format("2006-01-02T15:04:05.000Z"))
	id, err := json.Marshal(strings.Join(parts, "_"))
	if err != nil {
		return nil, err
	}
	if len(head.ID) > 0 {
		// "id": null is present: dropping it would mean rewriting the document,
		// and two "id" keys would be ambiguous, so the caller must fix it.
		return nil, &FieldError{Field: "id", Reason: "must be a string or absent, not null"}
	}
	rest := bytes.TrimSpace(trimmed[1:])
	var out bytes.Buffer
	out.Grow(len(raw) + len(id) + 8)
	out.WriteString(`{"id":`)
	out.Write(id)
	if len(rest) > 0 && rest[0] != '}' {
		out.WriteByte(',')
	}
	out.Write(rest)
	return out.Bytes(), nil
}

func randomLetters(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms.
	for i := range b {
		b[i] = 'a' + b[i]%26
	}
	return string(b)
}
