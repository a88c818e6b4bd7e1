package builder

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strings"

	"github.com/ipintel/ipintel/feeds"
	"github.com/ipintel/ipintel/schema"
)

// Feed declares one feed to a [Builder]. Its position among the AddFeed
// calls is its priority for ASN ties; nothing else depends on feed order.
type Feed struct {
	// Name appears in the sources of every network the feed contributes to.
	Name string
	// Kind is the category its entries set ([schema.Kind.Category]), or
	// [schema.KindASN] for an IP→ASN table.
	Kind schema.Kind
	// Weight is the score weight of the category the feed sets on the
	// networks it covers; a category counts once, with the largest weight
	// among the feeds that set it (docs/design.md §4 Score). Ignored for the asn
	// and allow kinds.
	Weight float64
	// Provider is the provider_name of the feed's entries that carry none.
	Provider string
	// Confidence (1-99) is how sure the feed is of its entries'
	// anonymizer categories; 0 means [DefaultConfidence].
	Confidence int
	// Clears is what the feed's evidence clears on the networks it covers
	// (docs/design.md §4 Clearing); nil means its kind's default, see
	// [KindClears]. A pointer to 0 clears nothing. An allow feed always
	// clears every risk category: Clears is ignored for it.
	Clears *schema.Category
	// InferPrefix and InferPrefix6, when set, make every IPv4 block of
	// that length (IPv6 block) holding at least InferMin of the feed's
	// entries of one provider an entry of the feed at InferConfidence
	// (docs/design.md §4 Block inference).
	InferPrefix, InferPrefix6 int
	// InferMin is the least number of entries that make a block; 0 means 2.
	InferMin int
	// InferConfidence is the confidence of an inferred block; 0 means 50.
	InferConfidence int
	// Retain is how many days an entry that vanished from the feed keeps
	// counting, at a weight that fades linearly to 0 (docs/design.md §4
	// History); 0 keeps nothing. It needs [Options.History].
	Retain int
}

// DefaultConfidence is the confidence of a feed that sets none and whose
// format implies none (docs/design.md §4 Confidence).
const DefaultConfidence = 70

// KindClears returns what a feed of the given kind clears by default:
// allow and crawler feeds clear every risk category (a verified crawler is
// allowed), relay feeds clear hosting (relay exits carry real users),
// other kinds nothing.
func KindClears(kind schema.Kind) schema.Category {
	switch kind {
	case schema.KindAllow, schema.KindCrawler:
		return schema.CategoryRisk
	case schema.KindRelay:
		return schema.CategoryHosting
	}
	return 0
}

// FeedStats counts what one feed added to a [Builder].
type FeedStats struct {
	Entries  int // entries accepted by Add
	IPv4     int // of which IPv4 prefixes
	IPv6     int // of which IPv6 prefixes
	ASNs     int // distinct ASNs (asn-list entries, or the ASNs of an asn feed)
	Widened  int // IPv6 entries widened to the ipv6_prefix
	Reserved int // entries wholly inside reserved space, dropped
	Trimmed  int // entries partly inside reserved space: the reserved part dropped
	Aliased  int // IPv6 entries wholly inside space aliased to IPv4, dropped
	Inferred int // blocks added by block inference
	Retained int // entries no longer listed, kept from the history (docs/design.md §4 History)
}

// CategoryStats counts the networks of one category in the written database.
type CategoryStats struct {
	Networks int    `json:"networks"`       // MMDB networks (prefixes) with the category
	IPv4     uint64 `json:"ipv4_addresses"` // IPv4 addresses
	IPv6     uint64 `json:"ipv6_64s"`       // IPv6 /64s (a longer prefix counts as one /64)
}

// Stats summarises a merge; see [Builder.Stats].
type Stats struct {
	Feeds      map[string]FeedStats
	Categories map[string]CategoryStats // by category name
	Networks   int                      // networks written
	Records    int                      // distinct records written
	Reserved   int                      // entries dropped as wholly inside reserved space
	Aliased    int                      // IPv6 entries dropped as wholly inside space aliased to IPv4
}

type feedState struct {
	Feed
	cat     schema.Category
	clears  schema.Category // what its evidence clears
	conf    uint8           // its confidence, defaults applied
	asnList map[uint32]struct{}
	layers  map[layerKey]int
	asns    map[uint32]struct{}
	infer   []inferEntry // entries kept for block inference
	stats   FeedStats

	// History (Options.History set): the entries of this build, whether
	// they come from an older copy, the dates of the asn-list's ASNs and
	// the feed's date layers.
	hist       []histEntry
	stale      bool
	asnSeen    map[uint32]seenDates
	dateLayers map[dateKey]int
}

// layerKey tells the layers of one feed apart: entries that set the same
// categories with the same provider and confidence share a layer. Where
// the provider or confidence can differ between entries that cover one
// address (entries that name their provider, inferred blocks), the
// prefix length is part of the key, so the most specific one is known.
type layerKey struct {
	cats     schema.Category
	provider string
	conf     uint8
	bits     uint8 // prefix length, or 0 where specificity cannot matter
	inferred bool
}

// layer is the coverage of one feed for one layerKey: most feeds have
// one layer; an mmdb import carrying several category sets, or a feed
// whose entries name their providers, has several.
type layer struct {
	feed int
	layerKey
	seen  *seenDates // a date layer: dates and weight, no categories of its own
	spans []span
}

// inferEntry is an entry of a feed with block inference: its provider and
// its prefix as given (masked, IPv4 unmapped), before any widening.
type inferEntry struct {
	provider string
	pfx      netip.Prefix
}

type asnEntry struct {
	s    span
	bits uint8
	feed uint16
	asn  uint32
	org  uint32
}

type asnInfo struct {
	asn uint32
	org string
}

// asnName is an ASN's organisation name from an asn-names feed.
type asnName struct {
	feed int
	org  string
}

// record is one distinct MMDB record.
type record struct {
	cats       schema.Category
	asn        uint32
	org        string
	sources    []string
	score      uint16
	provider   string     // provider_name, "" when none
	confidence uint16     // anonymizer_confidence, 0 when no anonymizer category
	cleared    []clearing // evidence another feed cleared, sorted
	firstSeen  string     // network_first_seen, YYYY-MM-DD, "" when unknown
	lastSeen   string     // network_last_seen, YYYY-MM-DD, "" when unknown
}

// clearing is one feed's category that another feed's evidence cleared.
type clearing struct {
	feed string          // the feed whose evidence was cleared
	cats schema.Category // what was cleared
	by   string          // the feed that cleared it
}

// outRange is a disjoint span of the output with its record.
type outRange struct {
	s   span
	rec int32
}

// ErrUnknownFeed is returned by [Builder.Add] for a feed name that was not declared.
var ErrUnknownFeed = errors.New("unknown feed")

// Add adds one parsed entry of a declared feed. An entry of an asn feed
// needs a prefix and an ASN (entries of ASN 0 are skipped); an entry with
// an ASN and no prefix (the asn-list format) makes the feed flag every
// address whose own ASN it lists; any other entry sets the feed's category
// on its prefix, or, for an mmdb import, the entry's own categories.
func (b *Builder) Add(feed string, e feeds.Entry) error {
	if b.written {
		return ErrWritten
	}
	fi, ok := b.feedIndex(feed)
	if !ok {
		return fmt.Errorf("add to %q: %w", feed, ErrUnknownFeed)
	}
	f := b.feeds[fi]
	if !e.Prefix.IsValid() {
		if e.ASN != 0 && f.Kind == schema.KindASN && e.Org != "" {
			// An ASN → organisation name (the asn-names format).
			if _, dup := f.asns[e.ASN]; !dup {
				f.asns[e.ASN] = struct{}{}
				f.stats.ASNs++
			}
			f.stats.Entries++
			if cur, ok := b.asnNames[e.ASN]; !ok || fi < cur.feed {
				b.asnNames[e.ASN] = asnName{feed: fi, org: e.Org}
			}
			return nil
		}
		if e.ASN == 0 || f.Kind == schema.KindASN {
			return fmt.Errorf("add to %q: entry of line %d has no prefix", feed, e.Line)
		}
		if f.asnList == nil {
			f.asnList = make(map[uint32]struct{})
		}
		if _, dup := f.asnList[e.ASN]; !dup {
			f.asnList[e.ASN] = struct{}{}
			f.stats.ASNs++
		}
		f.stats.Entries++
		b.recordEntry(f, histEntry{asn: e.ASN, cats: f.cat})
		return nil
	}
	if f.Kind == schema.KindASN && e.ASN == 0 {
		return nil // not routed
	}
	pfx := e.Prefix.Masked()
	if a := pfx.Addr(); a.Is4In6() {
		if pfx.Bits() < 96 {
			return fmt.Errorf("add to %q: IPv4-mapped prefix %s shorter than /96", feed, pfx)
		}
		pfx = netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
	}
	f.stats.Entries++
	if pfx.Addr().Is4() {
		f.stats.IPv4++
	} else {
		f.stats.IPv6++
	}
	if f.Kind != schema.KindASN && (f.InferPrefix > 0 || f.InferPrefix6 > 0) {
		f.infer = append(f.infer, inferEntry{provider: cmp.Or(e.Provider, f.Provider), pfx: pfx})
	}
	pfx, s, keep := b.place(pfx, &f.stats)
	if !keep {
		return nil
	}
	if f.Kind == schema.KindASN {
		if _, dup := f.asns[e.ASN]; !dup {
			f.asns[e.ASN] = struct{}{}
			f.stats.ASNs++
		}
		b.asnEntries = append(b.asnEntries, asnEntry{
			s: s, bits: uint8(pfx.Bits()), feed: uint16(fi), asn: e.ASN, org: b.intern(e.Org),
		})
		return nil
	}
	cats := f.cat
	if c := e.Categories &^ schema.CategoryAllow; c != 0 && f.Kind != schema.KindAllow {
		cats = c
	}
	b.addSpan(fi, f.entryKey(cats, e.Provider, pfx), s)
	b.recordEntry(f, histEntry{pfx: pfx, cats: cats, provider: e.Provider})
	return nil
}

// entryKey returns the layer of an entry of f with the given categories
// and own provider, placed at pfx.
func (f *feedState) entryKey(cats schema.Category, provider string, pfx netip.Prefix) layerKey {
	k := layerKey{cats: cats, provider: cmp.Or(provider, f.Provider), conf: f.conf}
	if k.provider != "" || f.InferPrefix > 0 || f.InferPrefix6 > 0 {
		// The most specific entry names the provider, across feeds too.
		k.bits = uint8(pfx.Bits())
	}
	return k
}

// place widens an IPv6 prefix to the aggregation length and drops or
// trims the space the database does not hold (IPv6 space aliased to IPv4;
// reserved space unless kept), counting into st. It returns the prefix
// as placed, its span, and false when nothing of it is left.
func (b *Builder) place(pfx netip.Prefix, st *FeedStats) (netip.Prefix, span, bool) {
	s := spanOf(pfx)
	if pfx.Addr().Is6() {
		if pfx.Bits() > b.opts.IPv6Prefix {
			// An entry wholly inside space the database does not hold
			// (::1, an IPv4 alias, a documentation address) is dropped
			// before widening, so its /64 never carries its data.
			if s.hi.less(ipv6Start) {
				st.Aliased++
				return pfx, s, false
			}
			if in, _ := maskCover(aliasedMask, s); in {
				st.Aliased++
				return pfx, s, false
			}
			if in, _ := maskCover(reservedMask, s); in && !b.opts.KeepReserved {
				st.Reserved++
				return pfx, s, false
			}
			pfx = netip.PrefixFrom(pfx.Addr(), b.opts.IPv6Prefix).Masked()
			s = spanOf(pfx)
			st.Widened++
		}
		if s.lo.less(ipv6Start) {
			if s.hi.less(ipv6Start) {
				st.Aliased++
				return pfx, s, false
			}
			s.lo = ipv6Start
		}
		if in, _ := maskCover(aliasedMask, s); in {
			st.Aliased++
			return pfx, s, false
		}
	}
	if !b.opts.KeepReserved {
		switch in, overlaps := maskCover(reservedMask, s); {
		case in:
			st.Reserved++
			return pfx, s, false
		case overlaps:
			st.Trimmed++
		}
	}
	return pfx, s, true
}

// addSpan adds a span to feed fi's layer for k, creating the layer.
func (b *Builder) addSpan(fi int, k layerKey, s span) {
	f := b.feeds[fi]
	li, ok := f.layers[k]
	if !ok {
		li = len(b.layers)
		b.layers = append(b.layers, &layer{feed: fi, layerKey: k})
		f.layers[k] = li
	}
	l := b.layers[li]
	l.spans = append(l.spans, s)
}

// inferBlocks turns the blocks that hold at least InferMin entries of one
// provider of an inferring feed into entries of that feed (docs/design.md §4
// Block inference). An entry counts, once per distinct prefix, in the
// block holding its first address, when it is no larger than the block.
func (b *Builder) inferBlocks() {
	for fi, f := range b.feeds {
		if len(f.infer) == 0 {
			continue
		}
		type blockKey struct {
			provider string
			block    netip.Prefix
		}
		seen := map[inferEntry]struct{}{}
		count := map[blockKey]int{}
		for _, e := range f.infer {
			if _, dup := seen[e]; dup {
				continue
			}
			seen[e] = struct{}{}
			bits := f.InferPrefix
			if e.pfx.Addr().Is6() {
				bits = f.InferPrefix6
			}
			if bits <= 0 || e.pfx.Bits() < bits {
				continue
			}
			count[blockKey{e.provider, netip.PrefixFrom(e.pfx.Addr(), bits).Masked()}]++
		}
		f.infer = nil
		min := f.InferMin
		if min <= 0 {
			min = 2
		}
		conf := f.InferConfidence
		if conf <= 0 {
			conf = 50
		}
		keys := make([]blockKey, 0, len(count))
		for k, n := range count {
			if n >= min {
				keys = append(keys, k)
			}
		}
		slices.SortFunc(keys, func(x, y blockKey) int {
			if c := x.block.Addr().Compare(y.block.Addr()); c != 0 {
				return c
			}
			return strings.Compare(x.provider, y.provider)
		})
		var st FeedStats
		for _, k := range keys {
			pfx, s, keep := b.place(k.block, &st)
			if !keep {
				continue
			}
			f.stats.Inferred++
			b.addSpan(fi, layerKey{cats: f.cat, provider: k.provider, conf: uint8(conf), bits: uint8(pfx.Bits()), inferred: true}, s)
			b.recordEntry(f, histEntry{pfx: pfx, cats: f.cat, provider: k.provider, inferred: true})
		}
	}
}

func (b *Builder) feedIndex(name string) (int, bool) {
	if b.lastFeed >= 0 && b.feeds[b.lastFeed].Name == name {
		return b.lastFeed, true
	}
	i, ok := b.feedByName[name]
	if ok {
		b.lastFeed = i
	}
	return i, ok
}

func (b *Builder) intern(s string) uint32 {
	if i, ok := b.orgIndex[s]; ok {
		return i
	}
	i := uint32(len(b.orgs))
	b.orgs = append(b.orgs, s)
	b.orgIndex[s] = i
	return i
}

// normalizeSpans sorts spans and merges overlapping and adjacent ones.
func normalizeSpans(spans []span) []span {
	slices.SortFunc(spans, func(a, b span) int { return a.lo.cmp(b.lo) })
	out := spans[:0]
	for _, s := range spans {
		if n := len(out); n > 0 {
			last := &out[n-1]
			if nx, ok := last.hi.next(); !ok || !nx.less(s.lo) {
				if last.hi.less(s.hi) {
					last.hi = s.hi
				}
				continue
			}
		}
		out = append(out, s)
	}
	return out
}

// asnSpans resolves the asn entries to disjoint spans, each with the ASN of
// the most specific covering prefix. Prefixes nest or are disjoint, so a
// stack of open prefixes sorted by start (less specific first) finds the
// most specific one at every point. Ties (the same prefix more than once)
// go to the feed declared first, then to the lowest ASN, then to the
// lexically smallest organisation, so entry order never matters.
func (b *Builder) asnSpans() ([]outRange, []asnInfo) {
	es := b.asnEntries
	slices.SortFunc(es, func(x, y asnEntry) int {
		if c := x.s.lo.cmp(y.s.lo); c != 0 {
			return c
		}
		if c := cmp.Compare(x.bits, y.bits); c != 0 {
			return c
		}
		if c := cmp.Compare(x.feed, y.feed); c != 0 {
			return c
		}
		if c := cmp.Compare(x.asn, y.asn); c != 0 {
			return c
		}
		return strings.Compare(b.orgs[x.org], b.orgs[y.org])
	})
	infoIndex := map[asnInfo]int32{}
	var infos []asnInfo
	id := func(e asnEntry) int32 {
		k := asnInfo{e.asn, b.orgs[e.org]}
		i, ok := infoIndex[k]
		if !ok {
			i = int32(len(infos))
			infos = append(infos, k)
			infoIndex[k] = i
		}
		return i
	}
	var out []outRange
	emit := func(lo, hi u128, rec int32) {
		if hi.less(lo) {
			return
		}
		if n := len(out); n > 0 && out[n-1].rec == rec {
			if nx, _ := out[n-1].s.hi.next(); nx == lo {
				out[n-1].s.hi = hi
				return
			}
		}
		out = append(out, outRange{span{lo, hi}, rec})
	}
	type open struct {
		s  span
		id int32
	}
	var stack []open
	var pos u128  // first point not yet emitted
	done := false // pos passed the end of the space
	closeTo := func(limit u128, all bool) {
		for len(stack) > 0 {
			top := stack[len(stack)-1]
			if !all && !top.s.hi.less(limit) {
				return
			}
			if !done {
				emit(pos, top.s.hi, top.id)
				pos, done = top.s.hi.next()
				done = !done
			}
			stack = stack[:len(stack)-1]
		}
	}
	for i, e := range es {
		if i > 0 && es[i-1].s == e.s {
			continue // a tie, lost
		}
		closeTo(e.s.lo, false)
		if len(stack) > 0 && !done {
			if pos.less(e.s.lo) {
				emit(pos, e.s.lo.prev(), stack[len(stack)-1].id)
			}
		}
		pos, done = e.s.lo, false
		stack = append(stack, open{e.s, id(e)})
	}
	closeTo(u128{}, true)
	return out, infos
}

// event kinds, in the order they apply at one point.
const (
	evLayerOff int8 = iota
	evASNOff
	evMaskOff
	evLayerOn
	evASNOn
	evMaskOn
	evMark
)

type event struct {
	at   u128
	kind int8
	idx  int32
}

// merge computes the disjoint output ranges and their records: one sweep
// over every boundary of every feed's coverage, the ASN spans and the
// masks (reserved and aliased space). Between two boundaries nothing
// changes, so each elementary interval gets one record.
//
// The ranges are handed to emit in address order, in batches, as soon as
// they are final (a range may grow until the next one starts), together
// with the records made so far: every record a batch names is in that
// slice. emit may keep both; merge never changes what it handed over. It
// returns every record.
func (b *Builder) merge(ctx context.Context, emit func([]outRange, []*record) error) ([]*record, error) {
	b.inferBlocks()
	if b.opts.History != nil {
		b.applyHistory(dayOf(b.buildEpoch()))
		b.dated = true
		b.opts.History = nil // what it held is in the layers and b.next now
	}
	for _, l := range b.layers {
		l.spans = normalizeSpans(l.spans)
	}
	asnRanges, infos := b.asnSpans()

	var masks []span
	if b.opts.KeepReserved {
		masks = maskSpans(aliasedIPSet)
	} else {
		masks = maskSpans(reservedIPSet, aliasedIPSet)
	}

	n := 1
	for _, l := range b.layers {
		n += 2 * len(l.spans)
	}
	n += 2*len(asnRanges) + 2*len(masks)
	evs := make([]event, 0, n)
	add := func(s span, on, off int8, idx int32) {
		evs = append(evs, event{s.lo, on, idx})
		if nx, ok := s.hi.next(); ok {
			evs = append(evs, event{nx, off, idx})
		}
	}
	for li, l := range b.layers {
		for _, s := range l.spans {
			add(s, evLayerOn, evLayerOff, int32(li))
		}
		l.spans = nil
	}
	for _, r := range asnRanges {
		add(r.s, evASNOn, evASNOff, r.rec)
	}
	for i, s := range masks {
		add(s, evMaskOn, evMaskOff, int32(i))
	}
	evs = append(evs, event{at: ipv6Start, kind: evMark}) // never merge across families
	slices.SortFunc(evs, func(x, y event) int {
		if c := x.at.cmp(y.at); c != 0 {
			return c
		}
		return cmp.Compare(x.kind, y.kind)
	})

	words := (len(b.layers) + 63) / 64
	active := make([]uint64, words)
	asn := int32(-1)
	masked := 0
	m := newRecordMaker(b, infos)
	var out []outRange
	key := make([]byte, 0, 8*words+4)
	for i, step := 0, 0; i < len(evs); step++ {
		if step%(1<<16) == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		at := evs[i].at
		for ; i < len(evs) && evs[i].at == at; i++ {
			e := evs[i]
			switch e.kind {
			case evLayerOn:
				active[e.idx/64] |= 1 << (e.idx % 64)
			case evLayerOff:
				active[e.idx/64] &^= 1 << (e.idx % 64)
			case evASNOn:
				asn = e.idx
			case evASNOff:
				asn = -1
			case evMaskOn:
				masked++
			case evMaskOff:
				masked--
			}
		}
		if masked > 0 {
			continue
		}
		hi := u128Max
		if i < len(evs) {
			hi = evs[i].at.prev()
		}
		key = key[:0]
		for _, w := range active {
			key = appendUint64(key, w)
		}
		key = appendUint64(key, uint64(uint32(asn)))
		rec := m.get(key, active, asn)
		if rec < 0 {
			continue
		}
		if n := len(out); n > 0 && out[n-1].rec == rec {
			if nx, _ := out[n-1].s.hi.next(); nx == at && at != ipv6Start {
				out[n-1].s.hi = hi
				continue
			}
		}
		if len(out) >= mergeBatch {
			// All but the last range are final: hand them over.
			if err := emit(out[:len(out)-1:len(out)-1], m.records); err != nil {
				return nil, err
			}
			last := out[len(out)-1]
			out = make([]outRange, 1, mergeBatch+1)
			out[0] = last
		}
		out = append(out, outRange{span{at, hi}, rec})
	}
	if err := emit(out, m.records); err != nil {
		return nil, err
	}
	return m.records, nil
}

// mergeBatch is how many output ranges merge hands over at a time.
const mergeBatch = 1 << 13

func appendUint64(b []byte, v uint64) []byte {
	return append(b, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32),
		byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// recordMaker turns a state of the sweep (active layers, ASN) into a
// record ID, deduplicating records by content.
type recordMaker struct {
	b       *Builder
	infos   []asnInfo
	byState map[string]int32
	byValue map[string]int32
	records []*record
	listed  map[uint32][]int // ASN → asn-list feeds listing it
}

func newRecordMaker(b *Builder, infos []asnInfo) *recordMaker {
	m := &recordMaker{
		b: b, infos: infos,
		byState: map[string]int32{},
		byValue: map[string]int32{},
		listed:  map[uint32][]int{},
	}
	for fi, f := range b.feeds {
		for a := range f.asnList {
			m.listed[a] = append(m.listed[a], fi)
		}
	}
	return m
}

func (m *recordMaker) get(key []byte, active []uint64, asn int32) int32 {
	if id, ok := m.byState[string(key)]; ok {
		return id
	}
	id := m.make(active, asn)
	m.byState[string(key)] = id
	return id
}

// feedHit is what one feed says about the point of the sweep being made.
type feedHit struct {
	cats     schema.Category
	provider string
	conf     uint8
	bits     int // specificity of the entry giving provider and confidence; -1 for an asn-list match
	inferred bool
	on       bool
}

// better reports whether layer l's entry is more specific than the one h
// holds: the longer prefix, then an exact entry over an inferred block,
// then the smaller provider name.
func (h *feedHit) better(l *layer) bool {
	if !h.on {
		return true
	}
	if int(l.bits) != h.bits {
		return int(l.bits) > h.bits
	}
	if l.inferred != h.inferred {
		return !l.inferred
	}
	return l.provider < h.provider
}

// make builds the record of one state of the sweep (docs/design.md §4): each
// feed's categories, provider and confidence from its most specific entry;
// clearing; then the score (a category counts once, with its strongest
// feed's weight; categories combine by noisy-OR), sources, provider and
// anonymizer confidence from the evidence that remains.
func (m *recordMaker) make(active []uint64, asn int32) int32 {
	b := m.b
	hits := make([]feedHit, len(b.feeds))
	var seen [][]seenDates // per feed, the dates of its entries here (history only)
	if b.dated {
		seen = make([][]seenDates, len(b.feeds))
	}
	for w, word := range active {
		for word != 0 {
			bit := bits.TrailingZeros64(word)
			word &^= 1 << bit
			l := b.layers[w*64+bit]
			if l.seen != nil {
				seen[l.feed] = append(seen[l.feed], *l.seen)
				continue
			}
			h := &hits[l.feed]
			h.cats |= l.cats
			if h.better(l) {
				h.provider, h.conf, h.bits, h.inferred = l.provider, l.conf, int(l.bits), l.inferred
			}
			h.on = true
		}
	}
	r := &record{}
	if asn >= 0 {
		r.asn, r.org = m.infos[asn].asn, m.infos[asn].org
		if r.org == "" {
			r.org = b.asnNames[r.asn].org
		}
		for _, fi := range m.listed[r.asn] {
			f := b.feeds[fi]
			h := &hits[fi]
			h.cats |= f.cat
			if !h.on {
				h.provider, h.conf, h.bits, h.on = f.Provider, f.conf, -1, true
			}
			if sd, ok := f.asnSeen[r.asn]; ok && seen != nil {
				seen[fi] = append(seen[fi], sd)
			}
		}
	}

	// Clearing: every feed that covers the point clears, on every other
	// feed, what it is declared to clear.
	var clearers []int
	for fi, h := range hits {
		if h.cats != 0 && b.feeds[fi].clears != 0 {
			clearers = append(clearers, fi)
		}
	}
	// Each clearing is recorded against what the feed set, so that two
	// feeds clearing the same evidence are both named, whatever their order.
	cleared := false
	for gi := range hits {
		g := &hits[gi]
		if g.cats == 0 {
			continue
		}
		set := g.cats
		for _, ci := range clearers {
			if ci == gi {
				continue
			}
			if x := set & b.feeds[ci].clears; x != 0 {
				r.cleared = append(r.cleared, clearing{feed: b.feeds[gi].Name, cats: x, by: b.feeds[ci].Name})
				g.cats &^= x
				cleared = true
			}
		}
	}

	var cats schema.Category
	var weights [16]float64 // by category bit
	var conf uint8
	var first, last day
	dated := false
	best := -1
	for fi, h := range hits {
		if h.cats == 0 {
			continue
		}
		f := b.feeds[fi]
		cats |= h.cats
		r.sources = append(r.sources, f.Name)
		if f.Kind != schema.KindAllow {
			for c := h.cats & schema.CategoryRisk; c != 0; c &= c - 1 {
				i := bits.TrailingZeros16(uint16(c))
				w := f.Weight
				if seen != nil {
					// The feed's weight for the category is that of its
					// strongest entry setting it: retained ones fade.
					w = 0
					for _, sd := range seen[fi] {
						if sd.cats&c&-c != 0 {
							w = max(w, f.Weight*sd.fade)
						}
					}
				}
				weights[i] = max(weights[i], w)
			}
		}
		for _, sd := range seenOf(seen, fi) {
			if sd.cats&h.cats&schema.CategoryRisk == 0 {
				continue
			}
			if !dated || sd.first < first {
				first = sd.first
			}
			if !dated || sd.last > last {
				last = sd.last
			}
			dated = true
		}
		anon := h.cats&schema.CategoryAnonymizer != 0
		if anon {
			conf = max(conf, h.conf)
		}
		if h.provider == "" {
			continue
		}
		if best < 0 {
			best = fi
			continue
		}
		bh := hits[best]
		bAnon := bh.cats&schema.CategoryAnonymizer != 0
		switch {
		case anon != bAnon:
			if anon {
				best = fi
			}
		case h.bits > bh.bits:
			best = fi
		}
	}
	if cats == 0 && asn < 0 && !cleared {
		return -1
	}
	if best >= 0 {
		r.provider = hits[best].provider
	}
	slices.Sort(r.sources)
	slices.SortFunc(r.cleared, func(x, y clearing) int {
		if c := strings.Compare(x.feed, y.feed); c != 0 {
			return c
		}
		return strings.Compare(x.by, y.by)
	})
	if cats&schema.CategoryAllow != 0 {
		cats &^= schema.CategoryRisk
	} else {
		var ws []float64 // each remaining risk category once, at its strongest feed's weight
		for c := cats & schema.CategoryRisk; c != 0; c &= c - 1 {
			ws = append(ws, weights[bits.TrailingZeros16(uint16(c))])
		}
		r.score = Score(ws)
	}
	if cats&schema.CategoryAnonymizer != 0 {
		r.confidence = uint16(conf)
	}
	if dated && cats&schema.CategoryRisk != 0 {
		r.firstSeen, r.lastSeen = first.String(), last.String()
	}
	r.cats = cats
	var vk strings.Builder
	fmt.Fprintf(&vk, "%d|%d|%s|%d|%s|%s|%d|%s|%s", r.cats, r.asn, r.org, r.score, strings.Join(r.sources, ","), r.provider, r.confidence,
		r.firstSeen, r.lastSeen)
	for _, c := range r.cleared {
		fmt.Fprintf(&vk, "|%s>%d>%s", c.feed, c.cats, c.by)
	}
	if id, ok := m.byValue[vk.String()]; ok {
		return id
	}
	id := int32(len(m.records))
	m.records = append(m.records, r)
	m.byValue[vk.String()] = id
	return id
}

func seenOf(seen [][]seenDates, fi int) []seenDates {
	if seen == nil {
		return nil
	}
	return seen[fi]
}

// Score combines weights by noisy-OR, 100 × (1 − Π(1 − wᵢ)), rounded to
// the nearest integer by [schema.Score]; the merge passes one weight per
// remaining risk category (docs/design.md §4 Score). The product is taken
// over the weights sorted, so their order never changes it.
func Score(weights []float64) uint16 {
	ws := slices.Clone(weights)
	slices.Sort(ws)
	p := 1.0
	for _, w := range ws {
		p *= 1 - min(max(w, 0), 1)
	}
	return uint16(schema.Score(p))
}
