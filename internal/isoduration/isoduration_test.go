package isoduration

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"PT4H", 4 * time.Hour},
		{"P2D", 48 * time.Hour},
		{"PT5M", 5 * time.Minute},
		{"PT0.5S", 500 * time.Millisecond},
		{"PT0,5S", 500 * time.Millisecond},
		{"P1DT2H", 26 * time.Hour},
		{"P1W", 7 * 24 * time.Hour},
		{"P1W2D", 9 * 24 * time.Hour},
		{"PT10m", 10 * time.Minute}, // Druid's own default is written this way
		{"pt1h", time.Hour},
		{"PT300S", 5 * time.Minute},
		{"PT1H30M15S", time.Hour + 30*time.Minute + 15*time.Second},
		{"PT1.2345S", 1234 * time.Millisecond}, // Joda keeps milliseconds
		{"PT1.5S", 1500 * time.Millisecond},
		{"PT0S", 0},
		{"P0D", 0},
		{"P0Y0M1D", 24 * time.Hour}, // zero years and months are fine
		{"PT-5M", -5 * time.Minute},
		{"PT+5M", 5 * time.Minute},
		{"PT1H-30M", 30 * time.Minute},
		{"PT-0.5S", -500 * time.Millisecond},
		{"  PT4H\t", 4 * time.Hour},
		{"P106751D", 106751 * 24 * time.Hour},
		{"PT2147483647S", 2147483647 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Parse(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"4h", "must start with P"},
		{"240", "must start with P"},
		{"P", "no fields"},
		{"PT", "no fields"},
		{"P1DT", "T must be followed"},
		{"P1Y", "years and months"},
		{"P2M", "years and months"},
		{"P1Y2D", "years and months"},
		{"PT1H1H", "repeated or out of order"},
		{"PT1M1H", "repeated or out of order"},
		{"P1D1W", "repeated or out of order"},
		{"P1DT1HT1M", "T appears twice"},
		{"P1H", "not allowed in the date part"},
		{"PT1D", "not allowed in the time part"},
		{"PT1X", "not allowed in the time part"},
		{"P1.5D", "only seconds may have a fraction"},
		{"PT1.5M", "only seconds may have a fraction"},
		{"PT1.S", "missing digits after the decimal point"},
		{"PT1", "has no designator"},
		{"PTH", "expected a number"},
		{"P-D", "expected a number"},
		{"PT4H junk", "expected a number"},
		{"P 1D", "expected a number"},
		{"PT12345678901S", "more than 10 digits"},
		{"PT2147483648S", "too large"},
		{"P106752D", "too large"},
		{"PT0.1234567891S", "more than 9 digits"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			_, err := Parse(tc.in)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.Contains(t, err.Error(), "is not an ISO-8601 duration")
		})
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "PT0S"},
		{4 * time.Hour, "PT4H"},
		{48 * time.Hour, "P2D"},
		{26 * time.Hour, "P1DT2H"},
		{10 * time.Minute, "PT10M"},
		{500 * time.Millisecond, "PT0.5S"},
		{1234 * time.Millisecond, "PT1.234S"},
		{time.Hour + 30*time.Minute + 15*time.Second + 20*time.Millisecond, "PT1H30M15.02S"},
		{-90 * time.Minute, "PT-1H-30M"},
		{999 * time.Microsecond, "PT0S"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			s := Format(tc.in)
			assert.Equal(t, tc.want, s)
			back, err := Parse(s)
			require.NoError(t, err)
			assert.Equal(t, tc.in.Truncate(time.Millisecond), back)
		})
	}
}
