package builder

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go4.org/netipx"

	"github.com/ipintel/ipintel/schema"
)

// HistoryFile is the name of the history in a state_dir.
const HistoryFile = "history"

// DefaultHistoryHorizon is how many days the history remembers an entry
// after it was last listed when no feed retains longer and the config sets
// no history_horizon.
const DefaultHistoryHorizon = 90

// historyMagic opens every history file; the number is the format version.
const historyMagic = "ipintel history 1"

// day is a UTC calendar day: the days since 1970-01-01.
type day int32

func dayOf(epoch int64) day {
	d := epoch / 86400
	if epoch%86400 < 0 {
		d--
	}
	return day(d)
}

func (d day) time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// String returns the day as YYYY-MM-DD.
func (d day) String() string { return d.time().Format(time.DateOnly) }

// histEntry is one entry of a feed as the history knows it: a prefix as
// placed (masked, IPv4 unmapped, IPv6 widened to the ipv6_prefix), or an
// ASN of an asn-list feed, with what is needed to replay it once it has
// vanished from the feed.
type histEntry struct {
	pfx      netip.Prefix    // invalid for an ASN
	asn      uint32          // the ASN of an asn-list entry
	cats     schema.Category // the entry's own categories (an mmdb import); 0: the feed's
	provider string          // the entry's own provider; "" when none
	inferred bool            // a block added by block inference
	first    day             // the first build that listed it
	last     day             // the last build that listed it
}

func compareHistEntry(x, y histEntry) int {
	if x.pfx.IsValid() != y.pfx.IsValid() {
		if x.pfx.IsValid() {
			return 1
		}
		return -1
	}
	if !x.pfx.IsValid() {
		return cmp.Compare(x.asn, y.asn)
	}
	return netipx.ComparePrefix(x.pfx, y.pfx)
}

// History is the builder's memory of when each feed listed each of its
// entries (docs/design.md §4 History): per feed and entry, the first and the
// last build date that listed it. [ReadHistory] reads it from a state_dir;
// a [Builder] given one in [Options] updates it with its build, see
// [Builder.History].
//
// The zero value is an empty history. A History is not modified once
// made, and is safe for concurrent use.
type History struct {
	day   day                    // the build that wrote it
	feeds map[string][]histEntry // sorted by compareHistEntry, one per key
}

// Seen is one entry of a feed's history.
type Seen struct {
	Feed   string
	Prefix netip.Prefix // the entry's network; invalid for an ASN entry
	ASN    uint32       // the ASN of an asn-list entry; 0 for a network
	First  time.Time    // the first build date that listed it (UTC midnight)
	Last   time.Time    // the last build date that listed it
}

// Date returns the build date of the build that wrote the history, the
// zero time for an empty one.
func (h *History) Date() time.Time {
	if h == nil || h.feeds == nil {
		return time.Time{}
	}
	return h.day.time()
}

// Len returns the number of entries the history holds.
func (h *History) Len() int {
	if h == nil {
		return 0
	}
	n := 0
	for _, es := range h.feeds {
		n += len(es)
	}
	return n
}

// Covering returns the entries that cover addr (IPv4-mapped addresses are
// unmapped) and, when asn is not 0, the asn-list entries listing asn,
// sorted by feed, then from the least to the most specific entry.
func (h *History) Covering(addr netip.Addr, asn uint32) []Seen {
	if h == nil {
		return nil
	}
	addr = addr.Unmap()
	var out []Seen
	for _, name := range sortedKeys(h.feeds) {
		for _, e := range h.feeds[name] {
			if e.pfx.IsValid() && e.pfx.Contains(addr) || !e.pfx.IsValid() && asn != 0 && e.asn == asn {
				out = append(out, Seen{Feed: name, Prefix: e.pfx, ASN: e.asn, First: e.first.time(), Last: e.last.time()})
			}
		}
	}
	return out
}

// fade returns the weight factor of an entry last seen age days ago in a
// feed that retains for retain days: 1 while it is listed, then
// 1 − age/retain, and false from the day it reaches retain (weight 0,
// dropped). A feed without retain keeps nothing that vanished.
func fade(age, retain int) (float64, bool) {
	switch {
	case age <= 0:
		return 1, true
	case age >= retain:
		return 0, false
	}
	return 1 - float64(age)/float64(retain), true
}

// RetainedWeight returns the weight an entry of fc last listed on last has
// in a build on date on (docs/design.md §4 History): the feed's weight while
// it is listed, w × (1 − age/retain) for age whole days after, and false
// once it expired.
func (c *Config) RetainedWeight(fc FeedConfig, last, on time.Time) (float64, bool) {
	age := int(dayOf(on.Unix()) - dayOf(last.Unix()))
	f, ok := fade(age, fc.Retain)
	return c.EffectiveWeight(fc) * f, ok
}

// ReadHistory reads the history kept in a state_dir. A directory without
// one gives an empty history; a history that is damaged (a bad checksum,
// an unknown version) is an error.
func ReadHistory(dir string) (*History, error) {
	p := filepath.Join(dir, HistoryFile)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return &History{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	h, err := parseHistory(data)
	if err != nil {
		return nil, fmt.Errorf("read history %s: %w", p, err)
	}
	return h, nil
}

// The history file is text, one entry a line, so that it can be read and
// diffed with ordinary tools:
//
//	ipintel history 1
//	day 20454 2026-01-01
//	feed ipsum
//	1.2.3.4/32	20450	20454
//	2001:db8::/64	20430	20454	p="Provider"
//	feed bad-asn
//	AS64500	20400	20454
//	sha256 <hex of every byte above this line>
//
// Days are days since 1970-01-01 (UTC); feeds are sorted by name,
// entries as netipx.ComparePrefix sorts them, ASNs after the networks.
// Optional fields after the dates: c=<categories> for an entry that
// carries its own, i for an inferred block, p=<quoted provider>.

// WriteTo writes the history in its file format.
func (h *History) WriteTo(w io.Writer) (int64, error) {
	sum := sha256.New()
	cw := &countWriter{w: io.MultiWriter(w, sum)}
	bw := bufio.NewWriterSize(cw, 1<<16)
	fmt.Fprintf(bw, "%s\nday %d %s\n", historyMagic, h.day, h.day)
	var line []byte
	for _, name := range sortedKeys(h.feeds) {
		fmt.Fprintf(bw, "feed %s\n", name)
		for _, e := range h.feeds[name] {
			line = line[:0]
			if e.pfx.IsValid() {
				line = e.pfx.AppendTo(line)
			} else {
				line = append(line, "AS"...)
				line = strconv.AppendUint(line, uint64(e.asn), 10)
			}
			line = append(line, '\t')
			line = strconv.AppendInt(line, int64(e.first), 10)
			line = append(line, '\t')
			line = strconv.AppendInt(line, int64(e.last), 10)
			if e.cats != 0 {
				line = append(line, "\tc="...)
				line = strconv.AppendUint(line, uint64(e.cats), 10)
			}
			if e.inferred {
				line = append(line, "\ti"...)
			}
			if e.provider != "" {
				line = append(line, "\tp="...)
				line = strconv.AppendQuote(line, e.provider)
			}
			line = append(line, '\n')
			bw.Write(line)
		}
	}
	if err := bw.Flush(); err != nil {
		return cw.n, err
	}
	_, err := fmt.Fprintf(w, "sha256 %s\n", hex.EncodeToString(sum.Sum(nil)))
	return cw.n + int64(len("sha256 \n")+64), err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func parseHistory(data []byte) (*History, error) {
	body, tail, ok := cutLastLine(data)
	if !ok || !strings.HasPrefix(tail, "sha256 ") {
		return nil, errors.New("no checksum line: truncated")
	}
	sum := sha256.Sum256(body)
	if tail[len("sha256 "):] != hex.EncodeToString(sum[:]) {
		return nil, errors.New("checksum mismatch")
	}
	h := &History{feeds: map[string][]histEntry{}}
	var feed string
	// One array holds every feed's entries, each feed a slice of it.
	all := make([]histEntry, 0, bytes.Count(body, []byte("\n")))
	start := 0
	text := string(body) // one copy; every line below is a slice of it
	for n := 0; text != ""; n++ {
		var s string
		s, text, _ = strings.Cut(text, "\n")
		bad := func(msg string) error { return fmt.Errorf("line %d: %s: %q", n+1, msg, s) }
		switch {
		case n == 0:
			if s != historyMagic {
				return nil, bad("not an ipintel history of a known version")
			}
		case n == 1:
			f := strings.Fields(s)
			if len(f) < 2 || f[0] != "day" {
				return nil, bad("want the day line")
			}
			d, err := strconv.ParseInt(f[1], 10, 32)
			if err != nil {
				return nil, bad("bad day")
			}
			h.day = day(d)
		case strings.HasPrefix(s, "feed "):
			if feed != "" {
				h.feeds[feed] = all[start:len(all):len(all)]
			}
			feed, start = s[len("feed "):], len(all)
			if _, dup := h.feeds[feed]; dup || !feedNameRE.MatchString(feed) {
				return nil, bad("bad or repeated feed")
			}
			h.feeds[feed] = nil
		default:
			if feed == "" {
				return nil, bad("entry before any feed")
			}
			e, err := parseHistEntry(s)
			if err != nil {
				return nil, bad(err.Error())
			}
			if len(all) > start && compareHistEntry(all[len(all)-1], e) >= 0 {
				return nil, bad("entries out of order")
			}
			all = append(all, e)
		}
	}
	if feed != "" {
		h.feeds[feed] = all[start:len(all):len(all)]
	}
	return h, nil
}

func parseHistEntry(s string) (histEntry, error) {
	key, s, _ := strings.Cut(s, "\t")
	f1, s, _ := strings.Cut(s, "\t")
	f2, rest, _ := strings.Cut(s, "\t")
	var e histEntry
	if a, ok := strings.CutPrefix(key, "AS"); ok {
		n, err := strconv.ParseUint(a, 10, 32)
		if err != nil || n == 0 {
			return e, errors.New("bad ASN")
		}
		e.asn = uint32(n)
	} else {
		p, err := netip.ParsePrefix(key)
		if err != nil || p != p.Masked() {
			return e, errors.New("bad network")
		}
		e.pfx = p
	}
	first, err1 := strconv.ParseInt(f1, 10, 32)
	last, err2 := strconv.ParseInt(f2, 10, 32)
	if err1 != nil || err2 != nil || last < first {
		return e, errors.New("bad days")
	}
	e.first, e.last = day(first), day(last)
	for rest != "" {
		var x string
		x, rest, _ = strings.Cut(rest, "\t")
		switch {
		case strings.HasPrefix(x, "c="):
			c, err := strconv.ParseUint(x[2:], 10, 16)
			if err != nil {
				return e, errors.New("bad categories")
			}
			e.cats = schema.Category(c)
		case x == "i":
			e.inferred = true
		case strings.HasPrefix(x, "p="):
			p, err := strconv.Unquote(x[2:])
			if err != nil {
				return e, errors.New("bad provider")
			}
			e.provider = p
		default:
			return e, errors.New("unknown field")
		}
	}
	return e, nil
}

// cutLastLine splits data before its last line (which must end in a
// newline).
func cutLastLine(data []byte) (body []byte, last string, ok bool) {
	if len(data) == 0 || data[len(data)-1] != '\n' {
		return nil, "", false
	}
	i := bytes.LastIndexByte(data[:len(data)-1], '\n')
	return data[:i+1], string(data[i+1 : len(data)-1]), i >= 0
}

// writeHistory replaces the history in dir with h: a temporary file that
// is synced, then renamed over the old one, so that a build killed while
// writing leaves the previous history.
func writeHistory(dir string, h *History) (int64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("state dir: %w", err)
	}
	s, err := stage(filepath.Join(dir, HistoryFile), h.WriteTo)
	if err != nil {
		return 0, err
	}
	defer s.discard()
	if err := commitStaged([]*stagedFile{s}); err != nil {
		return 0, err
	}
	return s.size, nil
}

// dedupeHistEntries sorts es and folds the entries of one key into one:
// their categories joined, the smallest provider, inferred only when every
// one of them is.
func dedupeHistEntries(es []histEntry) []histEntry {
	slices.SortFunc(es, compareHistEntry)
	out := es[:0]
	for _, e := range es {
		if n := len(out); n > 0 && compareHistEntry(out[n-1], e) == 0 {
			o := &out[n-1]
			o.cats |= e.cats
			if e.provider != "" && (o.provider == "" || e.provider < o.provider) {
				o.provider = e.provider
			}
			o.inferred = o.inferred && e.inferred
			continue
		}
		out = append(out, e)
	}
	return out
}

// seenDates is what one entry of the history says at the points it
// covers: its categories, its dates, and the factor its feed's weight is
// multiplied by (1 while listed, fading once it vanished).
type seenDates struct {
	cats        schema.Category
	first, last day
	fade        float64
}

// recordEntry remembers an entry of this build's copy of feed f, for the
// history. cats are the entry's categories as its layer sets them.
func (b *Builder) recordEntry(f *feedState, e histEntry) {
	if b.opts.History == nil || f.Kind == schema.KindASN {
		return
	}
	f.hist = append(f.hist, e)
}

// setStale marks a feed whose entries come from an older copy (a fallback
// to its last good copy): the history does not advance their last-seen
// dates.
func (b *Builder) setStale(name string) {
	if i, ok := b.feedByName[name]; ok {
		b.feeds[i].stale = true
	}
}

// History returns the history after this build: the one given in
// [Options] with every entry of this build's feeds listed today, and
// without the entries unseen for longer than the horizon. It is nil when
// Options.History was nil, or before the merge.
func (b *Builder) History() *History { return b.next }

// applyHistory joins each feed's entries of this build with the previous
// history (docs/design.md §4 History): an entry listed now keeps the first date
// the history remembers and is last seen today (a stale feed's entries
// keep their dates); an entry that vanished is replayed, at a faded
// weight, while its feed retains it. Every entry gets a date layer beside
// its category layer, so the sweep knows its dates and weight. It makes
// the history the build leaves.
func (b *Builder) applyHistory(today day) {
	prev := b.opts.History
	horizon := b.opts.HistoryHorizon
	if horizon <= 0 {
		horizon = DefaultHistoryHorizon
	}
	for _, f := range b.feeds {
		horizon = max(horizon, f.Retain)
	}
	next := &History{day: today, feeds: map[string][]histEntry{}}
	var st FeedStats
	for fi, f := range b.feeds {
		if f.Kind == schema.KindASN {
			continue
		}
		cur := dedupeHistEntries(f.hist)
		f.hist = nil
		var old []histEntry
		if prev != nil {
			old = prev.feeds[f.Name]
		}
		var keep []histEntry
		i, j := 0, 0
		for i < len(cur) || j < len(old) {
			var c int
			switch {
			case i == len(cur):
				c = 1
			case j == len(old):
				c = -1
			default:
				c = compareHistEntry(cur[i], old[j])
			}
			var e histEntry
			fd := 1.0
			switch {
			case c <= 0:
				e = cur[i]
				i++
				e.first, e.last = today, today
				if c == 0 {
					o := old[j]
					j++
					e.first = min(o.first, today)
					if f.stale {
						e.first, e.last = o.first, o.last
					} else {
						e.last = max(o.last, today)
					}
				}
			default:
				e = old[j]
				j++
				e.cats = cmp.Or(e.cats, f.cat)
				var live bool
				if fd, live = fade(int(today-e.last), f.Retain); !live {
					if today-e.last <= day(horizon) {
						keep = append(keep, e)
					}
					continue
				}
				f.stats.Retained++
				b.replay(fi, e, &st)
			}
			keep = append(keep, e)
			sd := seenDates{cats: e.cats, first: e.first, last: e.last, fade: fd}
			if !e.pfx.IsValid() {
				if f.asnSeen == nil {
					f.asnSeen = map[uint32]seenDates{}
				}
				f.asnSeen[e.asn] = sd
				continue
			}
			if _, s, ok := b.place(e.pfx, &st); ok {
				b.addDateSpan(fi, sd, s)
			}
		}
		for k := range keep {
			if keep[k].cats == f.cat {
				keep[k].cats = 0
			}
		}
		next.feeds[f.Name] = keep
	}
	b.next = next
}

// replay adds an entry that vanished from its feed but is retained, as
// Add would have added it.
func (b *Builder) replay(fi int, e histEntry, st *FeedStats) {
	f := b.feeds[fi]
	if !e.pfx.IsValid() {
		if f.asnList == nil {
			f.asnList = make(map[uint32]struct{})
		}
		f.asnList[e.asn] = struct{}{}
		return
	}
	pfx, s, ok := b.place(e.pfx, st)
	if !ok {
		return
	}
	if e.inferred {
		conf := cmp.Or(f.InferConfidence, 50)
		b.addSpan(fi, layerKey{cats: e.cats, provider: e.provider, conf: uint8(conf), bits: uint8(pfx.Bits()), inferred: true}, s)
		return
	}
	b.addSpan(fi, f.entryKey(e.cats, e.provider, pfx), s)
}

// dateKey tells the date layers of one feed apart.
type dateKey struct {
	cats        schema.Category
	first, last day
	fade        float64
}

// addDateSpan adds a span to feed fi's date layer for sd.
func (b *Builder) addDateSpan(fi int, sd seenDates, s span) {
	f := b.feeds[fi]
	k := dateKey(sd)
	li, ok := f.dateLayers[k]
	if !ok {
		li = len(b.layers)
		sd := sd
		b.layers = append(b.layers, &layer{feed: fi, seen: &sd})
		if f.dateLayers == nil {
			f.dateLayers = map[dateKey]int{}
		}
		f.dateLayers[k] = li
	}
	l := b.layers[li]
	l.spans = append(l.spans, s)
}
