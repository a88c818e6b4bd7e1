package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"iter"
	"maps"
	"net/netip"
	"slices"
	"text/tabwriter"
	"time"

	"go4.org/netipx"

	"github.com/ipintel/ipintel/lookup"
	"github.com/ipintel/ipintel/schema"
)

func init() {
	register(&command{
		Name:      "diff",
		UsageLine: "ipintel diff [-json] old.mmdb new.mmdb",
		Short:     "compare two databases by category, feed and action",
		Long: `
Diff compares two databases and reports, per category and per feed
(source), the networks and the addresses that were added and removed, and
how many addresses changed action under the default policy (allow,
challenge, block), by transition.

Addresses are counted exactly by sweeping both databases in address order:
IPv4 in addresses, IPv6 in /64s (a piece of a /64 counts as one /64). A
network is added for a category when the new database has that exact
prefix with the category and the old one does not, and removed the other
way round.

When the new database carries first and last seen dates (a build with a
history), diff also counts its networks whose evidence is retained rather
than freshly listed: those whose network_last_seen is before the new
build's date, and the addresses they cover.`,
		Flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) int {
			asJSON := fs.Bool("json", false, "print JSON")
			return func(ctx context.Context, e *env, args []string) int {
				if len(args) != 2 {
					return report(e, "diff", usageError("want two database files, old and new"))
				}
				return runDiff(ctx, e, args[0], args[1], *asJSON)
			}
		},
	})
}

// diffJSON is the output of "ipintel diff -json".
type diffJSON struct {
	Old        diffSide                 `json:"old"`
	New        diffSide                 `json:"new"`
	Categories map[string]*diffCount    `json:"categories"` // every category
	Sources    map[string]*diffCount    `json:"sources"`    // feeds with a change
	Actions    map[string]*addressCount `json:"actions"`    // "allow→block": addresses
	Changed    addressCount             `json:"action_changed"`
}

type diffSide struct {
	BuildEpoch string `json:"build_epoch"`
	Networks   int    `json:"networks"`
	// Dated counts the networks with a network_last_seen; Retained those
	// of them last seen before the build's date (evidence kept from the
	// history, not listed by the build), with their addresses. Both are
	// left out for a database without dates.
	Dated     int           `json:"networks_dated,omitempty"`
	Retained  *int          `json:"networks_retained,omitempty"`
	RetainedA *addressCount `json:"retained,omitempty"`
}

// count counts a network of the side's database built on day built.
func (s *diffSide) count(sp span, built lookup.Date) {
	s.Networks++
	last := sp.rec.LastSeen
	if last.IsZero() {
		return
	}
	s.Dated++
	if s.Retained == nil {
		s.Retained, s.RetainedA = new(int), &addressCount{}
	}
	if last < built {
		*s.Retained++
		s.RetainedA.add(rangeCount(sp.lo, sp.hi))
	}
}

// diffCount counts what was added and removed for one category or feed.
type diffCount struct {
	NetworksAdded   int          `json:"networks_added"`
	NetworksRemoved int          `json:"networks_removed"`
	Added           addressCount `json:"added"`
	Removed         addressCount `json:"removed"`
}

// addressCount is an amount of address space.
type addressCount struct {
	IPv4 uint64 `json:"ipv4_addresses"`
	IPv6 uint64 `json:"ipv6_64s"`
}

func (a *addressCount) add(v4, v6 uint64) {
	a.IPv4 = satAdd(a.IPv4, v4)
	a.IPv6 = satAdd(a.IPv6, v6)
}

func (d *diffCount) changed() bool {
	return d.NetworksAdded != 0 || d.NetworksRemoved != 0 || d.Added != (addressCount{}) || d.Removed != (addressCount{})
}

func runDiff(ctx context.Context, e *env, oldPath, newPath string, asJSON bool) int {
	oldDB, err := lookup.Open(oldPath)
	if err != nil {
		return report(e, "diff", err)
	}
	newDB, err := lookup.Open(newPath)
	if err != nil {
		return report(e, "diff", err)
	}
	d, err := diffDBs(ctx, oldDB, newDB)
	if err != nil {
		return report(e, "diff", err)
	}
	if asJSON {
		b, err := marshalIndent(d)
		if err != nil {
			return report(e, "diff", err)
		}
		return report(e, "diff", writeAll(e.stdout, b))
	}
	var buf bytes.Buffer
	printDiff(&buf, d)
	return report(e, "diff", writeAll(e.stdout, trimTrailingSpace(buf.Bytes())))
}

// span is one network of a database as an address range.
type span struct {
	pfx    netip.Prefix
	lo, hi netip.Addr
	rec    lookup.Record
}

// spans pulls the networks of db in address order, checking that order.
type spans struct {
	next func() (netip.Prefix, lookup.Record, bool)
	stop func()
	name string
	last netip.Addr
	err  error
}

func (s *spans) pull() (span, bool) {
	pfx, rec, ok := s.next()
	if !ok {
		return span{}, false
	}
	sp := span{pfx: pfx, lo: pfx.Addr(), hi: netipx.PrefixLastIP(pfx), rec: rec}
	if s.last.IsValid() && sp.lo.Compare(s.last) <= 0 {
		s.err = fmt.Errorf("%s database: network %s out of address order", s.name, pfx)
		return span{}, false
	}
	s.last = sp.hi
	return sp, true
}

// diffDBs sweeps both databases in address order. Each step takes the
// longest range on which neither database changes record and compares the
// two records over it.
func diffDBs(ctx context.Context, oldDB, newDB *lookup.DB) (*diffJSON, error) {
	d := &diffJSON{
		Old:        diffSide{BuildEpoch: oldDB.Metadata().BuildEpoch.UTC().Format(time.RFC3339)},
		New:        diffSide{BuildEpoch: newDB.Metadata().BuildEpoch.UTC().Format(time.RFC3339)},
		Categories: map[string]*diffCount{},
		Sources:    map[string]*diffCount{},
		Actions:    map[string]*addressCount{},
	}
	for _, c := range schema.Categories() {
		d.Categories[c.Name()] = &diffCount{}
	}
	policy := lookup.DefaultPolicy()
	dbs := [2]*lookup.DB{oldDB, newDB}
	var src [2]*spans
	for i, db := range dbs {
		next, stop := iter.Pull2(db.All())
		defer stop()
		src[i] = &spans{next: next, stop: stop, name: [2]string{"old", "new"}[i]}
	}
	var cur [2]*span
	var built [2]lookup.Date
	for i, db := range dbs {
		built[i] = lookup.Date(db.Metadata().BuildEpoch.Unix() / 86400)
	}
	advance := func(i int) {
		if sp, ok := src[i].pull(); ok {
			cur[i] = &sp
			if i == 0 {
				d.Old.count(sp, built[0])
			} else {
				d.New.count(sp, built[1])
			}
		} else {
			cur[i] = nil
		}
	}
	advance(0)
	advance(1)
	var p netip.Addr // sweep position; the zero Addr sorts first
	steps := 0
	for cur[0] != nil || cur[1] != nil {
		if steps++; steps%65536 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var lo [2]netip.Addr
		s := netip.Addr{}
		for i, c := range cur {
			if c == nil {
				continue
			}
			lo[i] = maxAddr(c.lo, p)
			if !s.IsValid() || lo[i].Less(s) {
				s = lo[i]
			}
		}
		var active [2]*span
		e := netip.Addr{}
		for i, c := range cur {
			if c == nil {
				continue
			}
			end := c.hi
			if lo[i] == s {
				active[i] = c
			} else if end = lo[i].Prev(); !end.IsValid() || end.BitLen() != s.BitLen() {
				continue // starts in the other family: does not cut this range
			}
			if !e.IsValid() || end.Less(e) {
				e = end
			}
		}
		d.segment(dbs, active, s, e, policy)
		// Networks that end here are finished: count them as added or
		// removed unless the other side has the very same prefix.
		done := [2]bool{active[0] != nil && active[0].hi == e, active[1] != nil && active[1].hi == e}
		same := done[0] && done[1] && active[0].pfx == active[1].pfx
		for i := range 2 {
			if !done[i] {
				continue
			}
			var other lookup.Record
			if same {
				other = active[1-i].rec
			}
			d.network(dbs, i, active[i].rec, other)
		}
		p = e.Next()
		for i := range 2 {
			if done[i] {
				advance(i)
			}
		}
	}
	for _, s := range src {
		if s.err != nil {
			return nil, s.err
		}
	}
	for k, v := range d.Sources {
		if !v.changed() {
			delete(d.Sources, k)
		}
	}
	return d, nil
}

func maxAddr(a, b netip.Addr) netip.Addr {
	if a.Less(b) {
		return b
	}
	return a
}

// rangeCount returns the IPv4 addresses or IPv6 /64s of [s, e].
func rangeCount(s, e netip.Addr) (v4, v6 uint64) {
	if s.Is4() {
		a, b := s.As4(), e.As4()
		return uint64(binary.BigEndian.Uint32(b[:])-binary.BigEndian.Uint32(a[:])) + 1, 0
	}
	a, b := s.As16(), e.As16()
	hi := binary.BigEndian.Uint64(b[:8]) - binary.BigEndian.Uint64(a[:8])
	return 0, satAdd(hi, 1)
}

func (d *diffJSON) source(name string) *diffCount {
	c, ok := d.Sources[name]
	if !ok {
		c = &diffCount{}
		d.Sources[name] = c
	}
	return c
}

// segment compares the records of the two databases over [s, e].
func (d *diffJSON) segment(dbs [2]*lookup.DB, active [2]*span, s, e netip.Addr, policy lookup.Policy) {
	v4, v6 := rangeCount(s, e)
	var rec [2]lookup.Record
	var names [2][]string
	for i, a := range active {
		if a != nil {
			rec[i] = a.rec
			names[i] = dbs[i].SourceNames(a.rec.Sources)
		}
	}
	for _, c := range schema.Categories() {
		o, n := rec[0].Categories&c != 0, rec[1].Categories&c != 0
		switch {
		case n && !o:
			d.Categories[c.Name()].Added.add(v4, v6)
		case o && !n:
			d.Categories[c.Name()].Removed.add(v4, v6)
		}
	}
	for _, name := range names[1] {
		if !slices.Contains(names[0], name) {
			d.source(name).Added.add(v4, v6)
		}
	}
	for _, name := range names[0] {
		if !slices.Contains(names[1], name) {
			d.source(name).Removed.add(v4, v6)
		}
	}
	oa, na := policy.Decide(rec[0]).Action, policy.Decide(rec[1]).Action
	if oa != na {
		k := oa.String() + "→" + na.String()
		c, ok := d.Actions[k]
		if !ok {
			c = &addressCount{}
			d.Actions[k] = c
		}
		c.add(v4, v6)
		d.Changed.add(v4, v6)
	}
}

// network counts a finished network of side i (0 old, 1 new) whose prefix
// has record other on the other side (the zero Record when the other side
// lacks that exact prefix).
func (d *diffJSON) network(dbs [2]*lookup.DB, i int, rec, other lookup.Record) {
	bump := func(c *diffCount) {
		if i == 1 {
			c.NetworksAdded++
		} else {
			c.NetworksRemoved++
		}
	}
	for _, c := range schema.Categories() {
		if rec.Categories&c != 0 && other.Categories&c == 0 {
			bump(d.Categories[c.Name()])
		}
	}
	var otherNames []string
	if other != (lookup.Record{}) {
		otherNames = dbs[1-i].SourceNames(other.Sources)
	}
	for _, name := range dbs[i].SourceNames(rec.Sources) {
		if !slices.Contains(otherNames, name) {
			bump(d.source(name))
		}
	}
}

func printDiff(w io.Writer, d *diffJSON) {
	fmt.Fprintf(w, "old: build_epoch %s, %d networks\n", d.Old.BuildEpoch, d.Old.Networks)
	fmt.Fprintf(w, "new: build_epoch %s, %d networks\n", d.New.BuildEpoch, d.New.Networks)
	if r := d.New.Retained; r != nil {
		fmt.Fprintf(w, "new: %d of %d dated networks retained (last seen before the build): %s IPv4 addresses, %s IPv6 /64s\n",
			*r, d.New.Dated, fmtCount(d.New.RetainedA.IPv4), fmtCount(d.New.RetainedA.IPv6))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(kind, name string, c *diffCount) {
		fmt.Fprintf(tw, "%s\t%s\t+%d -%d\t+%s -%s\t+%s -%s\n", kind, name, c.NetworksAdded, c.NetworksRemoved,
			fmtCount(c.Added.IPv4), fmtCount(c.Removed.IPv4), fmtCount(c.Added.IPv6), fmtCount(c.Removed.IPv6))
	}
	fmt.Fprintf(tw, "\t\tnetworks\tIPv4 addresses\tIPv6 /64s\n")
	for _, c := range schema.Categories() {
		row("category", c.Name(), d.Categories[c.Name()])
	}
	for _, name := range slices.Sorted(maps.Keys(d.Sources)) {
		row("feed", name, d.Sources[name])
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\naction changes: %s IPv4 addresses, %s IPv6 /64s\n", fmtCount(d.Changed.IPv4), fmtCount(d.Changed.IPv6))
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, k := range slices.Sorted(maps.Keys(d.Actions)) {
		a := d.Actions[k]
		fmt.Fprintf(tw, "  %s\t%s IPv4 addresses\t%s IPv6 /64s\n", k, fmtCount(a.IPv4), fmtCount(a.IPv6))
	}
	_ = tw.Flush()
}
