// Package oracle is a slow, obviously correct reference for the builder's
// merge semantics (docs/design.md §4), for differential tests only. For one
// address it scans every entry of every feed; it shares no code with the
// builder's sweep.
package oracle

import (
	"cmp"
	"go4.org/netipx"
	"math/big"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/ipintel/ipintel/feeds"
	"github.com/ipintel/ipintel/schema"
)

// Defaults of the feed settings, as docs/design.md §4 states them.
const (
	defaultConfidence      = 70 // Confidence: every format that implies none
	defaultInferMin        = 2  // Block inference: infer_min
	defaultInferConfidence = 50 // Block inference: infer_confidence
)

// Feed is one feed with all its parsed entries, in config order.
type Feed struct {
	Name     string
	Kind     schema.Kind
	Weight   float64 // effective weight
	Provider string  // provider_name of entries that carry none
	// Confidence of the feed's entries; 0 means 70.
	Confidence int
	// Clears is what the feed clears; nil means its kind's default.
	Clears *schema.Category
	// Block inference: the IPv4 and IPv6 block lengths (0: off), the
	// least number of entries that make a block (0: 2) and the blocks'
	// confidence (0: 50).
	InferPrefix, InferPrefix6 int
	InferMin                  int
	InferConfidence           int
	Entries                   []feeds.Entry
	// Retain is how many days an entry that is no longer listed keeps
	// counting (docs/design.md §4 History).
	Retain int
	// Seen, with Options.History, gives each entry (same index) the
	// first and last day a build listed it; an entry last seen before
	// Options.Today is no longer listed.
	Seen []Seen
}

// Seen is when an entry was listed: days since 1970-01-01.
type Seen struct{ First, Last int }

// Options mirror the config's merge settings.
type Options struct {
	IPv6Prefix   int                   // default 64
	KeepReserved bool                  // keep reserved space
	IsReserved   func(netip.Addr) bool // the reserved space; nil means none
	// History turns on the dates and retention of docs/design.md §4 History,
	// from each feed's Seen, for a build on day Today. Block inference is
	// not modelled with it.
	History bool
	Today   int
}

// Cleared is one feed's categories that another feed cleared.
type Cleared struct {
	Feed     string // the feed whose categories were cleared
	Category string // the cleared categories, comma-separated
	By       string // the feed that cleared them
}

// Answer is what a database built from the feeds should say for one address.
type Answer struct {
	Found      bool
	Categories schema.Category
	ASN        uint32
	Org        string
	Sources    []string
	Score      uint16
	Provider   string
	Confidence uint16 // anonymizer_confidence
	Cleared    []Cleared
	FirstSeen  string // network_first_seen, YYYY-MM-DD; "" without history
	LastSeen   string // network_last_seen
}

// cover is one entry of a feed that covers the address and counts: its
// categories, the factor its feed's weight is multiplied by and its days.
type cover struct {
	cats        schema.Category
	fade        float64
	first, last int
}

// entryFade returns the weight factor of entry i of f on day opts.Today,
// and whether the entry counts at all: every entry without history; with
// it, a listed entry at 1, an entry unseen for age days at
// 1 − age/Retain while age < Retain.
func entryFade(f *Feed, i int, opts Options) (float64, bool) {
	if !opts.History {
		return 1, true
	}
	age := opts.Today - f.Seen[i].Last
	switch {
	case age <= 0:
		return 1, true
	case age >= f.Retain:
		return 0, false
	}
	return 1 - float64(age)/float64(f.Retain), true
}

// MMDBAddr returns the address whose record an MMDB with IPv4 aliasing
// returns for addr: IPv4 for IPv4-mapped (::ffff:0:0/96), IPv4-compatible
// (::/96), Teredo (2001::/32, the server address in bits 32-63) and 6to4
// (2002::/16, bits 16-47) addresses, which the tree aliases to its IPv4
// subtree; addr itself otherwise.
func MMDBAddr(addr netip.Addr) netip.Addr {
	if addr.Is4() {
		return addr
	}
	b := addr.As16()
	v4 := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{b[i], b[i+1], b[i+2], b[i+3]}) }
	switch {
	case addr.Is4In6():
		return addr.Unmap()
	case netip.MustParsePrefix("::/96").Contains(addr):
		return v4(12)
	case netip.MustParsePrefix("2001::/32").Contains(addr):
		return v4(4)
	case netip.MustParsePrefix("2002::/16").Contains(addr):
		return v4(2)
	}
	return addr
}

// normal returns an entry's prefix masked, with IPv4-mapped prefixes
// unmapped.
func normal(p netip.Prefix) netip.Prefix {
	p = p.Masked()
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

// droppedBeforeWidening reports whether an IPv6 entry longer than the
// aggregation length lies wholly inside space the database does not hold
// (a block aliased to IPv4, or reserved space unless kept): the builder
// drops such an entry instead of widening it. Reserved space is taken as
// holding the entry when it holds its first and last addresses.
func droppedBeforeWidening(p netip.Prefix, opts Options) bool {
	p = normal(p)
	if !p.Addr().Is6() || p.Bits() <= opts.IPv6Prefix {
		return false
	}
	for _, a := range []string{"::/96", "::ffff:0:0/96", "2001::/32", "2002::/16"} {
		if q := netip.MustParsePrefix(a); q.Bits() <= p.Bits() && q.Contains(p.Addr()) {
			return true
		}
	}
	last := netipx.PrefixLastIP(p)
	return !opts.KeepReserved && opts.IsReserved != nil && opts.IsReserved(p.Addr()) && opts.IsReserved(last)
}

// effective returns an entry's prefix as the builder uses it: IPv6
// prefixes longer than the aggregation length are widened to it.
func effective(p netip.Prefix, v6 int) netip.Prefix {
	p = normal(p)
	if p.Addr().Is6() && p.Bits() > v6 {
		p = netip.PrefixFrom(p.Addr(), v6).Masked()
	}
	return p
}

// provider returns the provider of one of f's entries.
func (f *Feed) provider(e feeds.Entry) string {
	if e.Provider != "" {
		return e.Provider
	}
	return f.Provider
}

// clears returns what f clears: an allow feed every risk category, always;
// another feed its Clears, else its kind's default (crawler: every risk
// category; relay: hosting). The allow marker is never cleared.
func (f *Feed) clears() schema.Category {
	var c schema.Category
	switch {
	case f.Kind == schema.KindAllow:
		c = schema.CategoryRisk
	case f.Clears != nil:
		c = *f.Clears
	case f.Kind == schema.KindAllow, f.Kind == schema.KindCrawler:
		c = schema.CategoryRisk
	case f.Kind == schema.KindRelay:
		c = schema.CategoryHosting
	}
	return c &^ schema.CategoryAllow
}

// Inferred returns the blocks block inference adds to f, each with its
// provider, sorted. An entry counts in the block of the configured length
// holding its first address when it is no larger than the block; a block
// is inferred for a provider when it holds at least InferMin distinct
// entries of that provider.
func Inferred(f Feed) []feeds.Entry {
	if f.Kind == schema.KindASN || f.InferPrefix <= 0 && f.InferPrefix6 <= 0 {
		return nil
	}
	type key struct {
		provider string
		block    netip.Prefix
	}
	members := map[key]map[netip.Prefix]bool{}
	for _, e := range f.Entries {
		if !e.Prefix.IsValid() {
			continue
		}
		p := normal(e.Prefix)
		n := f.InferPrefix
		if p.Addr().Is6() {
			n = f.InferPrefix6
		}
		if n <= 0 || p.Bits() < n {
			continue
		}
		k := key{f.provider(e), netip.PrefixFrom(p.Addr(), n).Masked()}
		if members[k] == nil {
			members[k] = map[netip.Prefix]bool{}
		}
		members[k][p] = true
	}
	least := f.InferMin
	if least == 0 {
		least = defaultInferMin
	}
	var out []feeds.Entry
	for k, m := range members {
		if len(m) >= least {
			out = append(out, feeds.Entry{Prefix: k.block, Provider: k.provider})
		}
	}
	slices.SortFunc(out, func(a, b feeds.Entry) int {
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits()); c != 0 {
			return c
		}
		return cmp.Compare(a.Provider, b.Provider)
	})
	return out
}

// hit is what one feed says about the address.
type hit struct {
	cats     schema.Category // the categories it sets
	bits     int             // length of its most specific covering entry; -1 for an ASN match
	inferred bool            // that entry is an inferred block
	provider string          // that entry's provider
	conf     int             // that entry's confidence
}

// better reports whether a covering entry of the given length, kind and
// provider is more specific than the one h holds: longer wins, then an
// exact entry over an inferred block, then the lexically smallest provider.
func (h *hit) better(bits int, inferred bool, provider string) bool {
	switch {
	case h.cats == 0:
		return true
	case bits != h.bits:
		return bits > h.bits
	case inferred != h.inferred:
		return !inferred
	default:
		return provider < h.provider
	}
}

// Lookup answers for addr by scanning every entry.
func Lookup(fs []Feed, opts Options, addr netip.Addr) Answer {
	if opts.IPv6Prefix == 0 {
		opts.IPv6Prefix = 64
	}
	addr = MMDBAddr(addr.Unmap())
	if !opts.KeepReserved && opts.IsReserved != nil && opts.IsReserved(addr) {
		return Answer{}
	}

	asn, org, hasASN := lookupASN(fs, opts, addr)

	// What each feed says, from its covering entries.
	hits := make([]hit, len(fs))
	covers := make([][]cover, len(fs))
	for fi := range fs {
		f := &fs[fi]
		if f.Kind == schema.KindASN {
			continue
		}
		kindCat, _ := f.Kind.Category()
		h := &hits[fi]
		conf := f.Confidence
		if conf == 0 {
			conf = defaultConfidence
		}
		for i, e := range f.Entries {
			fade, counts := entryFade(f, i, opts)
			if !counts {
				continue
			}
			c, bits := kindCat, -1
			switch {
			case !e.Prefix.IsValid():
				if !hasASN || e.ASN != asn {
					continue
				}
			case droppedBeforeWidening(e.Prefix, opts):
				continue
			case effective(e.Prefix, opts.IPv6Prefix).Contains(addr):
				if ec := e.Categories &^ schema.CategoryAllow; ec != 0 && f.Kind != schema.KindAllow {
					c = ec
				}
				bits = effective(e.Prefix, opts.IPv6Prefix).Bits()
			default:
				continue
			}
			if h.better(bits, false, f.provider(e)) {
				h.bits, h.inferred, h.provider, h.conf = bits, false, f.provider(e), conf
			}
			h.cats |= c
			cv := cover{cats: c, fade: fade}
			if opts.History {
				cv.first, cv.last = f.Seen[i].First, f.Seen[i].Last
			}
			covers[fi] = append(covers[fi], cv)
		}
		iconf := f.InferConfidence
		if iconf == 0 {
			iconf = defaultInferConfidence
		}
		for _, e := range Inferred(*f) {
			p := effective(e.Prefix, opts.IPv6Prefix)
			if !p.Contains(addr) {
				continue
			}
			if h.better(p.Bits(), true, e.Provider) {
				h.bits, h.inferred, h.provider, h.conf = p.Bits(), true, e.Provider, iconf
			}
			h.cats |= kindCat
			covers[fi] = append(covers[fi], cover{cats: kindCat, fade: 1})
		}
	}

	// Clearing: every feed that sets a category here clears, on every
	// other such feed, what it clears; every clearing feed is named with
	// what it clears of what the feed set.
	a := Answer{}
	left := make([]schema.Category, len(fs))
	for gi := range fs {
		if hits[gi].cats == 0 {
			continue
		}
		left[gi] = hits[gi].cats
		for ci := range fs {
			if ci == gi || hits[ci].cats == 0 {
				continue
			}
			if x := hits[gi].cats & fs[ci].clears(); x != 0 {
				left[gi] &^= x
				a.Cleared = append(a.Cleared, Cleared{Feed: fs[gi].Name, Category: x.String(), By: fs[ci].Name})
			}
		}
	}
	slices.SortFunc(a.Cleared, func(x, y Cleared) int {
		return cmp.Or(cmp.Compare(x.Feed, y.Feed), cmp.Compare(x.By, y.By))
	})

	// What remains: categories, sources, the largest weight per risk
	// category, the provider and the anonymizer confidence.
	maxWeight := map[schema.Category]float64{}
	best := -1 // the feed that gives the provider
	first, last, dated := 0, 0, false
	for fi, f := range fs {
		c := left[fi]
		if c == 0 {
			continue
		}
		a.Categories |= c
		a.Sources = append(a.Sources, f.Name)
		for _, rc := range schema.Categories() {
			if c&rc == 0 || rc&schema.CategoryRisk == 0 {
				continue
			}
			// The feed's weight for the category: that of its strongest
			// covering entry setting it (retained entries fade).
			for _, cv := range covers[fi] {
				if cv.cats&rc == 0 {
					continue
				}
				if w, ok := maxWeight[rc]; !ok || f.Weight*cv.fade > w {
					maxWeight[rc] = f.Weight * cv.fade
				}
			}
		}
		for _, cv := range covers[fi] {
			if !opts.History || cv.cats&c&schema.CategoryRisk == 0 {
				continue
			}
			if !dated || cv.first < first {
				first = cv.first
			}
			if !dated || cv.last > last {
				last = cv.last
			}
			dated = true
		}
		h := hits[fi]
		if c&schema.CategoryAnonymizer != 0 && h.conf > int(a.Confidence) {
			a.Confidence = uint16(h.conf)
		}
		if h.provider == "" {
			continue
		}
		if best < 0 {
			best = fi
			continue
		}
		anon, bestAnon := c&schema.CategoryAnonymizer != 0, left[best]&schema.CategoryAnonymizer != 0
		if anon != bestAnon && anon || anon == bestAnon && h.bits > hits[best].bits {
			best = fi
		}
	}
	if best >= 0 {
		a.Provider = hits[best].provider
	}
	slices.Sort(a.Sources)
	if a.Categories&schema.CategoryAllow == 0 {
		var ws []float64
		for _, w := range maxWeight {
			ws = append(ws, w)
		}
		a.Score = ExactScore(ws)
		if dated && a.Categories&schema.CategoryRisk != 0 {
			a.FirstSeen, a.LastSeen = dayString(first), dayString(last)
		}
	}
	if hasASN {
		a.ASN, a.Org = asn, org
	}
	a.Found = a.Categories != 0 || hasASN || len(a.Cleared) > 0
	return a
}

func dayString(d int) string {
	return time.Unix(int64(d)*86400, 0).UTC().Format(time.DateOnly)
}

// lookupASN returns addr's ASN and organisation: the most specific
// covering prefix over the asn feeds, ties to the feed listed first, then
// the lowest ASN, then the smallest organisation. An organisation the
// winning entry lacks comes from the asn feeds' ASN → name entries, the
// feed listed first winning (within it, the smallest name).
func lookupASN(fs []Feed, opts Options, addr netip.Addr) (asn uint32, org string, found bool) {
	best, bestFeed := -1, 0
	for fi, f := range fs {
		if f.Kind != schema.KindASN {
			continue
		}
		for _, e := range f.Entries {
			if !e.Prefix.IsValid() || e.ASN == 0 || droppedBeforeWidening(e.Prefix, opts) {
				continue
			}
			p := effective(e.Prefix, opts.IPv6Prefix)
			if !p.Contains(addr) {
				continue
			}
			better := p.Bits() > best ||
				p.Bits() == best && (fi < bestFeed ||
					fi == bestFeed && (e.ASN < asn || e.ASN == asn && e.Org < org))
			if better {
				best, bestFeed, asn, org = p.Bits(), fi, e.ASN, e.Org
			}
		}
	}
	if best < 0 {
		return 0, "", false
	}
	if org != "" {
		return asn, org, true
	}
	for _, f := range fs {
		if f.Kind != schema.KindASN {
			continue
		}
		for _, e := range f.Entries {
			if !e.Prefix.IsValid() && e.ASN == asn && e.Org != "" && (org == "" || e.Org < org) {
				org = e.Org
			}
		}
		if org != "" {
			break
		}
	}
	return asn, org, true
}

// ExactScore computes round(100 × (1 − Π(1 − wᵢ))) in exact rational
// arithmetic, halves rounding up. Each weight is taken as the decimal it
// is written as (0.9 is 9/10, not the binary float nearest to it), which
// is what a config author means.
func ExactScore(weights []float64) uint16 {
	p := big.NewRat(1, 1)
	one := big.NewRat(1, 1)
	for _, w := range weights {
		r, _ := new(big.Rat).SetString(strconv.FormatFloat(w, 'g', -1, 64))
		p.Mul(p, new(big.Rat).Sub(one, r))
	}
	v := new(big.Rat).Sub(one, p)
	v.Mul(v, big.NewRat(100, 1))
	v.Add(v, big.NewRat(1, 2))
	q := new(big.Int).Quo(v.Num(), v.Denom()) // floor, v ≥ 0
	return uint16(q.Int64())
}
