package lookup

import (
	"fmt"
	"math"
	"time"
)

// Date is a calendar day in UTC, held as the number of days since
// 1970-01-01 so that it is two bytes, comparable and ordered: a later day
// is a larger Date. It can hold the days from 1970-01-02 to 2149-06-06.
//
// The zero value means "no date" (the record has none), not 1970-01-01.
type Date uint16

// dateLayout is the form of network_first_seen and network_last_seen.
const dateLayout = "2006-01-02"

// IsZero reports whether d is the zero Date, the absence of a date.
func (d Date) IsZero() bool { return d == 0 }

// Time returns midnight UTC of d, or the zero time.Time for the zero Date.
func (d Date) Time() time.Time {
	if d == 0 {
		return time.Time{}
	}
	return time.Unix(int64(d)*86400, 0).UTC()
}

// String returns d as "YYYY-MM-DD", or "" for the zero Date.
func (d Date) String() string {
	if d == 0 {
		return ""
	}
	return d.Time().Format(dateLayout)
}

// parseDate parses a "YYYY-MM-DD" day, as GeoIP Anonymous Plus writes
// network_last_seen. "" is the zero Date. A string of another form, or a
// day outside what a Date holds, is an error.
func parseDate(s string) (Date, error) {
	if s == "" {
		return 0, nil
	}
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a YYYY-MM-DD date", s)
	}
	days := t.Unix() / 86400
	if days < 1 || days > math.MaxUint16 {
		return 0, fmt.Errorf("%q is outside 1970-01-02 to 2149-06-06", s)
	}
	return Date(days), nil
}
