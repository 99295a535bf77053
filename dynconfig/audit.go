package dynconfig

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/taskgate/taskgate/internal/isoduration"
)

// AuditTimeFormat is how Druid writes audit times (Joda DateTime, UTC,
// milliseconds).
const AuditTimeFormat = "2006-01-02T15:04:05.000Z"

// DefaultHistoryWindow is the interval history covers when none is given:
// Druid's druid.audit.manager.auditHistoryMillis default, one week.
const DefaultHistoryWindow = 7 * 24 * time.Hour

// AuditInfo is Druid's AuditInfo: who made a change. Druid takes Author and
// Comment from the X-Druid-Author and X-Druid-Comment headers ("" when
// absent), Identity from the authenticated user (null without
// authentication) and IP from the request's remote address (not
// X-Forwarded-For).
type AuditInfo struct {
	Author   string  `json:"author"`
	Identity *string `json:"identity"`
	Comment  string  `json:"comment"`
	IP       string  `json:"ip"`
}

// AuditEntry is Druid's AuditEntry as the history endpoint returns it.
// Payload is the config JSON as a string, like Druid's.
type AuditEntry struct {
	Key       string    `json:"key"`
	Type      string    `json:"type"`
	AuditInfo AuditInfo `json:"auditInfo"`
	// Request is Druid's RequestInfo; the execution config resource does not
	// record one, so it is always null.
	Request   json.RawMessage `json:"request"`
	Payload   string          `json:"payload"`
	AuditTime time.Time       `json:"-"`
}

type auditEntryJSON struct {
	Key       string          `json:"key"`
	Type      string          `json:"type"`
	AuditInfo AuditInfo       `json:"auditInfo"`
	Request   json.RawMessage `json:"request"`
	Payload   string          `json:"payload"`
	AuditTime string          `json:"auditTime"`
}

// MarshalJSON writes Druid's form, auditTime as 2024-06-01T10:00:00.000Z.
func (e AuditEntry) MarshalJSON() ([]byte, error) {
	req := e.Request
	if len(req) == 0 {
		req = json.RawMessage("null")
	}
	return json.Marshal(auditEntryJSON{e.Key, e.Type, e.AuditInfo, req, e.Payload, e.AuditTime.UTC().Format(AuditTimeFormat)})
}

// UnmarshalJSON reads Druid's form.
func (e *AuditEntry) UnmarshalJSON(data []byte) error {
	var w auditEntryJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	t, err := ParseInstant(w.AuditTime)
	if err != nil {
		return fmt.Errorf("auditTime: %w", err)
	}
	if string(w.Request) == "null" {
		w.Request = nil
	}
	*e = AuditEntry{Key: w.Key, Type: w.Type, AuditInfo: w.AuditInfo, Request: w.Request, Payload: w.Payload, AuditTime: t}
	return nil
}

// NewAuditEntry records doc, stored under key, being set by info at time at.
func NewAuditEntry(key string, doc any, info AuditInfo, at time.Time) (AuditEntry, error) {
	payload, err := json.Marshal(doc)
	if err != nil {
		return AuditEntry{}, fmt.Errorf("serialise %s for audit: %w", key, err)
	}
	return AuditEntry{Key: key, Type: key, AuditInfo: info, Payload: string(payload), AuditTime: at.UTC().Truncate(time.Millisecond)}, nil
}

// Interval is a closed time range [Start, End], as Druid's SQL audit
// manager queries it ("created_date between start and end").
type Interval struct {
	Start, End time.Time
}

// Contains reports whether t is in the interval, both ends included.
func (iv Interval) Contains(t time.Time) bool {
	return !t.Before(iv.Start) && !t.After(iv.End)
}

// ParseInterval reads an ISO-8601 interval as Druid's Intervals.of does:
// "start/end", "start/period" or "period/end", e.g.
// 2024-01-01T00:00:00Z/2024-02-01T00:00:00Z, 2024-01-01/P7D. Instants
// without a zone are UTC; periods may not use years or months.
func ParseInterval(s string) (Interval, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return Interval{}, fmt.Errorf("interval %q must be <start>/<end>, <start>/<period> or <period>/<end> in ISO-8601", s)
	}
	isPeriod := func(p string) bool { return p[0] == 'P' || p[0] == 'p' }
	var iv Interval
	switch {
	case isPeriod(parts[0]) && isPeriod(parts[1]):
		return Interval{}, fmt.Errorf("interval %q: at most one side may be a period", s)
	case isPeriod(parts[0]):
		d, err := isoduration.Parse(parts[0])
		if err != nil {
			return Interval{}, fmt.Errorf("interval %q: %w", s, err)
		}
		end, err := ParseInstant(parts[1])
		if err != nil {
			return Interval{}, fmt.Errorf("interval %q: %w", s, err)
		}
		iv = Interval{Start: end.Add(-d), End: end}
	case isPeriod(parts[1]):
		start, err := ParseInstant(parts[0])
		if err != nil {
			return Interval{}, fmt.Errorf("interval %q: %w", s, err)
		}
		d, err := isoduration.Parse(parts[1])
		if err != nil {
			return Interval{}, fmt.Errorf("interval %q: %w", s, err)
		}
		iv = Interval{Start: start, End: start.Add(d)}
	default:
		start, err := ParseInstant(parts[0])
		if err != nil {
			return Interval{}, fmt.Errorf("interval %q: %w", s, err)
		}
		end, err := ParseInstant(parts[1])
		if err != nil {
			return Interval{}, fmt.Errorf("interval %q: %w", s, err)
		}
		iv = Interval{Start: start, End: end}
	}
	if iv.End.Before(iv.Start) {
		return Interval{}, fmt.Errorf("interval %q: end is before start", s)
	}
	return iv, nil
}

// instantLayouts are the ISO-8601 forms accepted, most specific first.
var instantLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02T15Z07:00",
	"2006-01-02T15",
	"2006-01-02Z07:00",
	"2006-01-02",
	"2006-01",
	"2006",
}

// ParseInstant reads an ISO-8601 date or date-time; without a zone it is UTC.
func ParseInstant(s string) (time.Time, error) {
	for _, layout := range instantLayouts {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO-8601 date-time such as 2024-01-01T00:00:00Z", s)
}

// HistoryQuery selects audit entries, as Druid's history endpoint does: with
// an Interval, the entries in it, oldest first (Count is ignored); else with
// Count > 0, the newest Count entries, newest first; else those of the last
// DefaultHistoryWindow, oldest first.
type HistoryQuery struct {
	Interval *Interval
	Count    int
}

// SelectHistory applies q to entries held oldest first; now is the end of
// the default window. Stores use it so they answer alike.
func SelectHistory(entries []AuditEntry, q HistoryQuery, now time.Time) []AuditEntry {
	out := []AuditEntry{}
	switch {
	case q.Interval != nil:
		for _, e := range entries {
			if q.Interval.Contains(e.AuditTime) {
				out = append(out, e)
			}
		}
	case q.Count > 0:
		for i := len(entries) - 1; i >= 0 && len(out) < q.Count; i-- {
			out = append(out, entries[i])
		}
	default:
		iv := Interval{Start: now.Add(-DefaultHistoryWindow), End: now}
		for _, e := range entries {
			if iv.Contains(e.AuditTime) {
				out = append(out, e)
			}
		}
	}
	return out
}
