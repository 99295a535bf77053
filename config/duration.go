package config

import (
	"time"

	"github.com/taskgate/taskgate/internal/isoduration"
)

// ParseISODuration parses an ISO-8601 period (PT4H, P2D, PT0.5S) as Druid
// reads Period properties; see isoduration.Parse for the exact rules.
func ParseISODuration(s string) (time.Duration, error) { return isoduration.Parse(s) }

// FormatISODuration writes d as an ISO-8601 period that ParseISODuration reads back.
func FormatISODuration(d time.Duration) string { return isoduration.Format(d) }
