package adapters

import (
	"fmt"
	"time"

	"github.com/taskgate/taskgate/internal/isoduration"
)

// parsePeriod reads an ISO-8601 period as Druid reads its Period properties
// and rejects negative values, which no adapter duration may have.
func parsePeriod(s string) (time.Duration, error) {
	d, err := isoduration.Parse(s)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, fmt.Errorf("%q: must not be negative", s)
	}
	return d, nil
}
