package adapters

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// parsePeriod reads an ISO-8601 period the way Druid reads its Period
// properties (Joda's ISO parser, then toStandardDuration): P[nW][nD][T[nH][nM][n[.f]S]],
// letters in either case, weeks as 7 days and days as 24 hours. Years and
// months have no fixed length, so Druid's toStandardDuration rejects them, and
// so does this. Negative values are rejected because no taskgate duration may
// be negative.
//
// TODO(lead): config.ParseISODuration (another helper) does the same job;
// keep one of them.
func parsePeriod(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if len(in) < 2 || (in[0] != 'P' && in[0] != 'p') {
		return 0, fmt.Errorf("%q is not an ISO-8601 period such as PT4H or P2D", s)
	}
	rest := in[1:]
	var total time.Duration
	seenTime := false
	components := 0
	order := 0 // enforces P Y M W D T H M S order
	for len(rest) > 0 {
		if rest[0] == 'T' || rest[0] == 't' {
			if seenTime {
				return 0, fmt.Errorf("%q: 'T' appears twice", s)
			}
			seenTime = true
			rest = rest[1:]
			if rest == "" {
				return 0, fmt.Errorf("%q: nothing after 'T'", s)
			}
			continue
		}
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.' || rest[i] == ',' || rest[i] == '-' || rest[i] == '+') {
			i++
		}
		if i == 0 || i == len(rest) {
			return 0, fmt.Errorf("%q is not an ISO-8601 period such as PT4H or P2D", s)
		}
		num := strings.ReplaceAll(rest[:i], ",", ".")
		unit := rest[i] | 0x20 // lower-case
		rest = rest[i+1:]
		if strings.HasPrefix(num, "-") {
			return 0, fmt.Errorf("%q: negative periods are not allowed", s)
		}
		fractional := strings.Contains(num, ".")
		if fractional && !(seenTime && unit == 's') {
			return 0, fmt.Errorf("%q: only seconds may have a fraction", s)
		}
		var rank int
		var unitLen time.Duration
		switch {
		case !seenTime && unit == 'y', !seenTime && unit == 'm':
			return 0, fmt.Errorf("%q: years and months have no fixed length; use weeks, days, hours, minutes or seconds", s)
		case !seenTime && unit == 'w':
			rank, unitLen = 1, 7*24*time.Hour
		case !seenTime && unit == 'd':
			rank, unitLen = 2, 24*time.Hour
		case seenTime && unit == 'h':
			rank, unitLen = 3, time.Hour
		case seenTime && unit == 'm':
			rank, unitLen = 4, time.Minute
		case seenTime && unit == 's':
			rank, unitLen = 5, time.Second
		default:
			return 0, fmt.Errorf("%q: unexpected designator %q", s, string(rune(unit)))
		}
		if rank <= order {
			return 0, fmt.Errorf("%q: designators out of order or repeated", s)
		}
		order = rank
		components++
		var part time.Duration
		if fractional {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil || v > float64(math.MaxInt64)/float64(unitLen) {
				return 0, fmt.Errorf("%q: %q is not a valid number of seconds", s, num)
			}
			part = time.Duration(v * float64(unitLen))
		} else {
			n, err := strconv.ParseInt(strings.TrimPrefix(num, "+"), 10, 64)
			if err != nil || n > math.MaxInt64/int64(unitLen) {
				return 0, fmt.Errorf("%q: %q is not a number or is too large", s, num)
			}
			part = time.Duration(n) * unitLen
		}
		if part > math.MaxInt64-total {
			return 0, fmt.Errorf("%q is too long", s)
		}
		total += part
	}
	if components == 0 {
		return 0, fmt.Errorf("%q has no length", s)
	}
	return total, nil
}
