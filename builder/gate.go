package builder

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/ipintel/ipintel/feeds"
	"github.com/ipintel/ipintel/internal/schema"
)

// Gate outcomes, as recorded in the manifest.
const (
	GateOK       = "ok"       // the fresh copy passed and was used
	GateFallback = "fallback" // it failed; the last good copy was used
	GateFailed   = "failed"   // it failed and no good copy was left: the feed is missing
)

// GateError reports a feed whose fresh copy failed a sanity gate.
type GateError struct {
	Feed   string
	Reason string
	Err    error // the fetch or read error behind it, if any
}

var _ error = (*GateError)(nil)

func (e *GateError) Error() string { return fmt.Sprintf("feed %s: %s", e.Feed, e.Reason) }

// Unwrap returns the underlying fetch or read error.
func (e *GateError) Unwrap() error { return e.Err }

// checkGates applies a feed's sanity gates (DESIGN.md §4) to a parsed copy
// and returns why it fails, or "" when it passes:
//   - a copy with no valid entry fails (an emptied list, an HTML error page);
//   - fewer than min_entries fails;
//   - fewer than (1 − max_shrink) × the previous build's entries fails
//     (a truncated download);
//   - a copy older than max_age fails, its age taken from Last-Modified
//     when known, else from when it was fetched.
func checkGates(f FeedConfig, d *feeds.Download, records int, prev *schema.ManifestFeed, now time.Time) string {
	if records == 0 {
		return "no valid entries"
	}
	if records < f.MinEntries {
		return fmt.Sprintf("%d entries, fewer than min_entries %d", records, f.MinEntries)
	}
	if prev != nil && prev.Entries > 0 && f.MaxShrink < 1 {
		floor := float64(prev.Entries) * (1 - f.MaxShrink)
		if float64(records) < floor {
			return fmt.Sprintf("%d entries, the previous build had %d: shrank by more than max_shrink %g",
				records, prev.Entries, f.MaxShrink)
		}
	}
	if f.MaxAge > 0 {
		if t, ok := copyTime(d); ok {
			if age := now.Sub(t); age > f.MaxAge {
				return fmt.Sprintf("copy is %s old, older than max_age %s", age.Round(time.Second), f.MaxAge)
			}
		}
	}
	return ""
}

// copyTime returns the time a copy's data is from: its Last-Modified, else
// when it was fetched.
func copyTime(d *feeds.Download) (time.Time, bool) {
	if d.LastModified != "" {
		if t, err := http.ParseTime(d.LastModified); err == nil {
			return t, true
		}
	}
	return d.FetchedAt, !d.FetchedAt.IsZero()
}

// ReadManifest returns the build manifest stored in an MMDB file by a
// previous build. found is false when the file does not exist or carries
// no manifest.
func ReadManifest(path string) (m *schema.Manifest, found bool, err error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	db, err := maxminddb.Open(path)
	if err != nil {
		return nil, false, fmt.Errorf("read previous database %s: %w", path, err)
	}
	defer db.Close()
	pm, found, err := schema.ParseManifest(db.Metadata.Description)
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", path, err)
	}
	if !found {
		return nil, false, nil
	}
	return &pm, true, nil
}
