// Package isoduration parses and formats ISO-8601 periods the way Druid reads
// Period-valued properties (Joda-Time's standard ISO format converted to a
// standard duration). The static config and the pod adapters both read such
// values, so the rules live in one place.
package isoduration

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Parse parses an ISO-8601 period the way Druid reads Period
// properties (Joda-Time's ISOPeriodFormat.standard()) and converts it to a
// standard duration as Druid's Period.toStandardDuration() does:
//
//   - the form is PnYnMnWnDTnHnMnS; every field is optional but at least one
//     must be present, fields appear in that order, each at most once;
//   - letters are matched case-insensitively (Druid's own default is "PT10m");
//   - numbers may carry a sign (PT-5M), seconds may have a fraction with '.'
//     or ',' (PT0.5S), kept to millisecond precision as Joda does;
//   - weeks are 7 days and days 24 hours;
//   - years and months have no fixed length, so any non-zero year or month
//     is an error (Joda throws for them too);
//   - surrounding whitespace is ignored.
//
// Negative results are returned as such; callers that need a non-negative
// value check it.
func Parse(s string) (time.Duration, error) {
	d, err := parseISODuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not an ISO-8601 duration such as PT4H, P2D or PT0.5S: %w", s, err)
	}
	return d, nil
}

// The order of the designators: date part, then time part after 'T'.
var (
	dateFields = []byte{'Y', 'M', 'W', 'D'}
	timeFields = []byte{'H', 'M', 'S'}
)

const (
	msPerSecond = int64(1000)
	msPerMinute = 60 * msPerSecond
	msPerHour   = 60 * msPerMinute
	msPerDay    = 24 * msPerHour
	msPerWeek   = 7 * msPerDay
	// Joda parses each field into a Java int of at most 10 digits.
	maxFieldDigits = 10
)

func parseISODuration(t string) (time.Duration, error) {
	if t == "" {
		return 0, errors.New("empty value")
	}
	if t[0] != 'P' && t[0] != 'p' {
		return 0, errors.New("must start with P")
	}
	var (
		i          = 1
		inTime     bool
		sawT       bool
		last       = -1 // index of the last designator seen in the current part
		fields     int
		timeCount  int
		totalMs    int64
		yearsMonth bool
	)
	for i < len(t) {
		if c := t[i]; c == 'T' || c == 't' {
			if sawT {
				return 0, errors.New("designator T appears twice")
			}
			sawT, inTime, last = true, true, -1
			i++
			continue
		}
		start := i
		negative := false
		if t[i] == '+' || t[i] == '-' {
			negative = t[i] == '-'
			i++
		}
		digitsStart := i
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
		}
		whole := t[digitsStart:i]
		if whole == "" {
			return 0, fmt.Errorf("expected a number at %q", t[start:])
		}
		if len(whole) > maxFieldDigits {
			return 0, fmt.Errorf("number %s has more than %d digits", whole, maxFieldDigits)
		}
		fraction := ""
		if i < len(t) && (t[i] == '.' || t[i] == ',') {
			i++
			fracStart := i
			for i < len(t) && t[i] >= '0' && t[i] <= '9' {
				i++
			}
			fraction = t[fracStart:i]
			if fraction == "" {
				return 0, fmt.Errorf("missing digits after the decimal point in %q", t[start:i])
			}
			if len(fraction) > 9 {
				return 0, fmt.Errorf("fraction %s has more than 9 digits", fraction)
			}
		}
		if i >= len(t) {
			return 0, fmt.Errorf("number %s has no designator (Y, M, W, D, H, M or S)", t[start:i])
		}
		designator := t[i] &^ 0x20 // ASCII upper case
		i++

		order := dateFields
		if inTime {
			order = timeFields
		}
		idx := strings.IndexByte(string(order), designator)
		if idx < 0 {
			part := "date part (before T)"
			if inTime {
				part = "time part (after T)"
			}
			return 0, fmt.Errorf("designator %q is not allowed in the %s", t[i-1], part)
		}
		if idx <= last {
			return 0, fmt.Errorf("designator %q is repeated or out of order (order is Y M W D T H M S)", t[i-1])
		}
		last = idx
		if fraction != "" && !(inTime && designator == 'S') {
			return 0, fmt.Errorf("only seconds may have a fraction, not %q", t[start:i])
		}

		value, err := strconv.ParseInt(whole, 10, 64)
		if err != nil || value > math.MaxInt32 {
			return 0, fmt.Errorf("number %s is too large", whole)
		}
		if negative {
			value = -value
		}
		fields++
		if inTime {
			timeCount++
		}

		var unit int64
		switch {
		case !inTime && (designator == 'Y' || designator == 'M'):
			if value != 0 {
				yearsMonth = true
			}
			continue
		case !inTime && designator == 'W':
			unit = msPerWeek
		case !inTime && designator == 'D':
			unit = msPerDay
		case designator == 'H':
			unit = msPerHour
		case designator == 'M':
			unit = msPerMinute
		default: // seconds
			unit = msPerSecond
		}
		ms, ok := mulAdd(value, unit, totalMs)
		if !ok {
			return 0, errors.New("too large")
		}
		totalMs = ms
		if fraction != "" {
			// Joda keeps three digits of the fraction and drops the rest.
			frac := (fraction + "00")[:3]
			fv, _ := strconv.ParseInt(frac, 10, 64)
			if negative {
				fv = -fv
			}
			if totalMs, ok = mulAdd(fv, 1, totalMs); !ok {
				return 0, errors.New("too large")
			}
		}
	}
	if fields == 0 {
		return 0, errors.New("no fields after P")
	}
	if sawT && timeCount == 0 {
		return 0, errors.New("designator T must be followed by hours, minutes or seconds")
	}
	if yearsMonth {
		return 0, errors.New("years and months have no fixed length; use weeks (W), days (D) or smaller units")
	}
	if totalMs > math.MaxInt64/int64(time.Millisecond) || totalMs < math.MinInt64/int64(time.Millisecond) {
		return 0, errors.New("too large")
	}
	return time.Duration(totalMs) * time.Millisecond, nil
}

// mulAdd returns a*b+c and whether it fit in an int64.
func mulAdd(a, b, c int64) (int64, bool) {
	if a != 0 {
		p := a * b
		if p/b != a {
			return 0, false
		}
		s := p + c
		if (p > 0 && c > 0 && s < 0) || (p < 0 && c < 0 && s >= 0) {
			return 0, false
		}
		return s, true
	}
	return c, true
}

// Format renders d as an ISO-8601 duration that ParseISODuration
// (and Druid) read back: days, hours, minutes and seconds with up to three
// fractional digits, e.g. P2D, PT4H, P1DT2H, PT0.5S; zero is PT0S. Precision
// below a millisecond is dropped; negative durations get a sign on every
// field (PT-1H-30M), as Joda prints them.
func Format(d time.Duration) string {
	ms := d.Milliseconds()
	if ms == 0 {
		return "PT0S"
	}
	sign := ""
	if ms < 0 {
		sign = "-"
		ms = -ms // cannot overflow: |MinInt64 ns| in ms is far below MaxInt64
	}
	days := ms / msPerDay
	ms %= msPerDay
	hours := ms / msPerHour
	ms %= msPerHour
	minutes := ms / msPerMinute
	ms %= msPerMinute
	seconds := ms / msPerSecond
	millis := ms % msPerSecond

	var b strings.Builder
	b.WriteByte('P')
	if days > 0 {
		fmt.Fprintf(&b, "%s%dD", sign, days)
	}
	if hours == 0 && minutes == 0 && seconds == 0 && millis == 0 {
		return b.String()
	}
	b.WriteByte('T')
	if hours > 0 {
		fmt.Fprintf(&b, "%s%dH", sign, hours)
	}
	if minutes > 0 {
		fmt.Fprintf(&b, "%s%dM", sign, minutes)
	}
	if seconds > 0 || millis > 0 {
		fmt.Fprintf(&b, "%s%d", sign, seconds)
		if millis > 0 {
			b.WriteString(strings.TrimRight(fmt.Sprintf(".%03d", millis), "0"))
		}
		b.WriteByte('S')
	}
	return b.String()
}
