package builder

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/ipintel/ipintel/schema"
)

// Options configure a [Builder]. The zero value of every field means its
// default.
type Options struct {
	// IPv6Prefix is the length IPv6 entries more specific than it are
	// widened to (docs/design.md §4). Default 64.
	IPv6Prefix int
	// KeepReserved keeps reserved space (see [IsReserved]) in the
	// database. By default it is dropped and counted.
	KeepReserved bool
	// DatabaseType is the MMDB database_type. Default schema.DefaultDatabaseType.
	DatabaseType string
	// BuildEpoch is the MMDB build_epoch in Unix seconds. Pin it for a
	// reproducible file; zero means the time WriteTo is called.
	BuildEpoch int64
	// Description is the English description in the MMDB metadata.
	// Default "ipintel IP intelligence database".
	Description string
	// Manifest, when set, is stored as JSON in the metadata description
	// under schema.ManifestDescriptionKey. WriteTo fills its Networks and
	// Reserved counts.
	Manifest *schema.Manifest
	// History, when set, is the history of the previous builds (see
	// [ReadHistory]; an empty one starts it): the merge dates every
	// network with a risk category (network_first_seen,
	// network_last_seen), keeps the entries a feed retains (see
	// [Feed.Retain]), and [Builder.History] returns the history updated
	// with this build. Nil: no dates, nothing retained.
	History *History
	// HistoryHorizon is how many days the history remembers an entry after
	// it was last listed, at least every feed's Retain. Default
	// [DefaultHistoryHorizon].
	HistoryHorizon int
}

// Builder merges feed entries into one MMDB. Declare feeds with AddFeed,
// add their entries with Add in any order, then call WriteTo once.
//
// A Builder is not safe for concurrent use. The zero value is not usable:
// call [New].
type Builder struct {
	opts       Options
	feeds      []*feedState
	feedByName map[string]int
	lastFeed   int
	layers     []*layer
	asnEntries []asnEntry
	orgs       []string
	orgIndex   map[string]uint32
	asnNames   map[uint32]asnName // from asn-names feeds
	stats      Stats
	written    bool         // the merge consumed the added entries
	result     *mergeResult // the merge's result, once run
	next       *History     // the history after the merge
	dated      bool         // the merge applied a history: records get dates
}

// ErrWritten is returned by Add, AddFeed and WriteTo after WriteTo: the
// merge consumes what was added.
var ErrWritten = errors.New("builder already written")

var feedNameRE = regexp.MustCompile(`^[a-z0-9_-]+$`)

// New returns a Builder with the given options.
func New(opts Options) (*Builder, error) {
	if opts.IPv6Prefix == 0 {
		opts.IPv6Prefix = 64
	}
	if opts.IPv6Prefix < 1 || opts.IPv6Prefix > 128 {
		return nil, fmt.Errorf("ipv6 prefix length %d outside 1-128", opts.IPv6Prefix)
	}
	if opts.DatabaseType == "" {
		opts.DatabaseType = schema.DefaultDatabaseType
	}
	if opts.Description == "" {
		opts.Description = "ipintel IP intelligence database"
	}
	return &Builder{
		opts:       opts,
		feedByName: map[string]int{},
		lastFeed:   -1,
		orgIndex:   map[string]uint32{},
		asnNames:   map[uint32]asnName{},
	}, nil
}

// AddFeed declares a feed. Names must be unique and match [a-z0-9_-]+.
func (b *Builder) AddFeed(f Feed) error {
	if b.written {
		return ErrWritten
	}
	if !feedNameRE.MatchString(f.Name) {
		return fmt.Errorf("feed name %q: must match [a-z0-9_-]+", f.Name)
	}
	if _, dup := b.feedByName[f.Name]; dup {
		return fmt.Errorf("feed %q declared twice", f.Name)
	}
	cat, ok := f.Kind.Category()
	if !ok {
		return fmt.Errorf("feed %q: unknown kind %q", f.Name, f.Kind)
	}
	if f.Weight < 0 || f.Weight > 1 {
		return fmt.Errorf("feed %q: weight %v outside [0,1]", f.Name, f.Weight)
	}
	if len(b.feeds) >= 1<<16 {
		return fmt.Errorf("feed %q: too many feeds", f.Name)
	}
	for _, c := range []struct {
		key string
		v   int
	}{{"confidence", f.Confidence}, {"infer_confidence", f.InferConfidence}} {
		if c.v < 0 || c.v > 99 {
			return fmt.Errorf("feed %q: %s %d outside 1-99", f.Name, c.key, c.v)
		}
	}
	if f.Retain < 0 {
		return fmt.Errorf("feed %q: retain %d days is negative", f.Name, f.Retain)
	}
	if f.InferPrefix < 0 || f.InferPrefix > 32 || f.InferPrefix6 < 0 || f.InferPrefix6 > 128 || f.InferMin < 0 {
		return fmt.Errorf("feed %q: block inference %d/%d (min %d) out of range", f.Name, f.InferPrefix, f.InferPrefix6, f.InferMin)
	}
	clears := KindClears(f.Kind)
	if f.Clears != nil && f.Kind != schema.KindAllow {
		clears = *f.Clears
	}
	conf := f.Confidence
	if conf == 0 {
		conf = DefaultConfidence
	}
	b.feedByName[f.Name] = len(b.feeds)
	b.feeds = append(b.feeds, &feedState{
		Feed:   f,
		cat:    cat,
		clears: clears &^ schema.CategoryAllow,
		conf:   uint8(conf),
		layers: map[layerKey]int{},
		asns:   map[uint32]struct{}{},
	})
	return nil
}

// buildEpoch returns the build_epoch of the files the builder writes.
func (b *Builder) buildEpoch() int64 {
	if b.opts.BuildEpoch == 0 {
		b.opts.BuildEpoch = time.Now().Unix()
	}
	return b.opts.BuildEpoch
}

// grow makes room for n more entries of the named feed, so that adding a
// long feed does not copy what was added before it again and again.
func (b *Builder) grow(feed string, n int) {
	fi, ok := b.feedIndex(feed)
	if !ok || b.feeds[fi].Kind != schema.KindASN {
		return
	}
	b.asnEntries = slices.Grow(b.asnEntries, n)
}

// FeedStats returns what the named feed has added so far.
func (b *Builder) FeedStats(name string) (FeedStats, bool) {
	i, ok := b.feedByName[name]
	if !ok {
		return FeedStats{}, false
	}
	return b.feeds[i].stats, true
}

// Stats returns the counts of the last WriteTo (per feed also before it).
func (b *Builder) Stats() Stats {
	s := b.stats
	s.Feeds = make(map[string]FeedStats, len(b.feeds))
	s.Reserved, s.Aliased = 0, 0
	for _, f := range b.feeds {
		s.Feeds[f.Name] = f.stats
		s.Reserved += f.stats.Reserved
		s.Aliased += f.stats.Aliased
	}
	return s
}
