package builder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"go4.org/netipx"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/ipintel/ipintel/feeds"
	"github.com/ipintel/ipintel/schema"
)

// GateError reports a feed whose fresh copy failed a sanity gate.
type GateError struct {
	Feed   string
	Reason string
	// Missing reports a required feed that had neither a fresh valid copy
	// nor a last good one.
	Missing bool
	Err     error // the fetch or read error behind it, if any
}

var _ error = (*GateError)(nil)

func (e *GateError) Error() string { return fmt.Sprintf("feed %s: %s", e.Feed, e.Reason) }

// Unwrap returns the underlying fetch or read error.
func (e *GateError) Unwrap() error { return e.Err }

// checkGates applies a feed's sanity gates (docs/design.md §4) to a parsed copy
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
	if prev != nil && prev.Records > 0 && f.MaxShrink < 1 {
		floor := float64(prev.Records) * (1 - f.MaxShrink)
		if float64(records) < floor {
			return fmt.Sprintf("%d entries, the previous build had %d: shrank by more than max_shrink %g",
				records, prev.Records, f.MaxShrink)
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

// DatabaseGateError reports a merged database that failed a whole-database
// gate (see [Gates]) and was not published.
type DatabaseGateError struct {
	Reasons []string
}

func (e *DatabaseGateError) Error() string {
	return "database not published: " + strings.Join(e.Reasons, "; ") + " (-force publishes it)"
}

// growthFloor is the least growth, in IPv4 addresses or IPv6 /64s, that
// the max_category_growth gate looks at: a category of a few addresses
// that gains a few more is noise, not a poisoned list.
const growthFloor = 256

// checkDatabase applies the whole-database gates to a merged database and
// returns why it must not be published, or nothing. prev is the previous
// build's manifest (nil when there is none): the shrink gate compares with
// it whatever its config, the growth gate only when it was built from the
// same config file.
func checkDatabase(cfg *Config, prev *schema.Manifest, st Stats) []string {
	var out []string
	if st.Networks == 0 {
		out = append(out, "the database has no networks")
	}
	if prev == nil || prev.Categories == nil {
		return out
	}
	g := cfg.Gates
	for _, c := range schema.Categories() {
		name := c.Name()
		was, now := prev.Categories[name], st.Categories[name]
		if g.MaxCategoryShrink < 1 && was.Networks > 0 {
			if floor := float64(was.Networks) * (1 - g.MaxCategoryShrink); float64(now.Networks) < floor {
				out = append(out, fmt.Sprintf("category %s: %d networks, the previous build had %d: shrank by more than max_category_shrink %g",
					name, now.Networks, was.Networks, g.MaxCategoryShrink))
			}
		}
		if g.MaxCategoryGrowth > 0 && prev.ConfigSHA256 == cfg.SHA256 {
			for _, f := range []struct {
				unit     string
				was, now uint64
			}{{"IPv4 addresses", was.IPv4, now.IPv4}, {"IPv6 /64s", was.IPv6, now.IPv6}} {
				if f.was > 0 && f.now > f.was && f.now-f.was > growthFloor &&
					float64(f.now) > float64(f.was)*g.MaxCategoryGrowth {
					out = append(out, fmt.Sprintf("category %s: %d %s, the previous build of this config had %d: grew more than max_category_growth %g×",
						name, f.now, f.unit, f.was, g.MaxCategoryGrowth))
				}
			}
		}
	}
	return out
}

// ErrEntryTooLarge marks a line whose entry covers more than its feed's
// max_entry_size: one 0.0.0.0/0 in a corrupted or poisoned list must
// neither flag nor clear the Internet.
var ErrEntryTooLarge = errors.New("entry covers more than max_entry_size")

// entryLimit is a feed's max_entry_size: an IPv4 entry may cover at most
// a /bits, an IPv6 entry a /(bits+8), counted after reserved space is
// removed (also when the database keeps reserved space: a bogon list's
// 224.0.0.0/3 is no claim about the Internet).
type entryLimit struct {
	bits int
}

func (l entryLimit) exceeds(p netip.Prefix) bool {
	p = p.Masked()
	limit, width := l.bits, 32
	if p.Addr().Is6() {
		limit, width = l.bits+8, 128
	}
	if p.Bits() >= limit {
		return false
	}
	var sb netipx.IPSetBuilder
	sb.AddPrefix(p)
	sb.RemoveSet(reservedIPSet)
	set, err := sb.IPSet()
	if err != nil {
		return true
	}
	size, max := new(big.Int), new(big.Int).Lsh(big.NewInt(1), uint(width-limit))
	for _, q := range set.Prefixes() {
		size.Add(size, new(big.Int).Lsh(big.NewInt(1), uint(width-q.Bits())))
	}
	return size.Cmp(max) > 0
}

// ctxReader fails its reads once its context is done, so that parsing a
// large feed stops when the build is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
