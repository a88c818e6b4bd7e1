package builder

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"reflect"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"go4.org/netipx"

	"github.com/ipintel/ipintel/schema"
)

// This file and companion.go are the only ones that call mmdbwriter; the
// netip → net conversions they need live here.

// WriteTo merges everything added so far and writes the MMDB to w. It may
// be called once: the merge consumes the entries.
//
// Records are merged in ipintel (docs/design.md §4) into disjoint networks
// that are inserted in address order, so mmdbwriter's paint-over-what-lies-
// beneath semantics can never change a result. Reserved networks are
// handled by the merge (mmdbwriter's own reserved list is switched off);
// IPv4 lives at ::/96 with mmdbwriter's default aliases (::ffff:0:0/96,
// 2001::/32, 2002::/16).
func (b *Builder) WriteTo(w io.Writer) (int64, error) {
	return b.writeTo(context.Background(), w)
}

// Merge merges everything added so far, unless an earlier call or a
// WriteTo did; ctx stops it. After Merge, [Builder.Stats] has the
// database's counts and WriteTo writes without merging again. A Builder
// whose Merge was stopped cannot be written.
func (b *Builder) Merge(ctx context.Context) error {
	_, err := b.merged(ctx)
	return err
}

func (b *Builder) writeTo(ctx context.Context, w io.Writer) (int64, error) {
	m, err := b.merged(ctx)
	if err != nil {
		return 0, err
	}
	if m.tree == nil {
		if err := b.fillTree(ctx, m); err != nil {
			return 0, err
		}
	}
	if mf := b.opts.Manifest; mf != nil {
		mf.Networks = len(m.pfxs)
		st := b.Stats()
		mf.Reserved = st.Reserved + st.Aliased
		mf.KeepReserved = b.opts.KeepReserved
		js, err := json.Marshal(mf)
		if err != nil {
			return 0, fmt.Errorf("encode manifest: %w", err)
		}
		// The tree holds this very map (mmdbwriter keeps the Options'
		// Description), so the manifest, complete only now, is written
		// with the metadata.
		m.desc[schema.ManifestDescriptionKey] = string(js)
	}
	n, err := m.tree.WriteTo(ctxWriter{ctx, w})
	if err != nil {
		return n, fmt.Errorf("write mmdb: %w", err)
	}
	return n, nil
}

// fillTree makes m's tree from its networks, when the merge did not.
func (b *Builder) fillTree(ctx context.Context, m *mergeResult) error {
	desc := map[string]string{"en": b.opts.Description}
	tree, err := b.newTree(m.epoch, desc, recordSize(len(m.pfxs)))
	if err != nil {
		return err
	}
	maps := make([]mmdbtype.Map, len(m.recs))
	for i, r := range m.recs {
		maps[i] = r.mmdbMap()
	}
	for i, p := range m.pfxs {
		if i%(1<<16) == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := tree.Insert(netipx.PrefixIPNet(p), maps[m.recOf[i]]); err != nil {
			return fmt.Errorf("insert %s: %w", p, err)
		}
	}
	m.tree, m.desc = tree, desc
	return nil
}

// newTree returns the mmdbwriter tree of the main database.
func (b *Builder) newTree(epoch int64, desc map[string]string, recordSize int) (*mmdbwriter.Tree, error) {
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		BuildEpoch:              epoch,
		DatabaseType:            b.opts.DatabaseType,
		Description:             desc,
		Languages:               []string{"en"},
		IPVersion:               6,
		RecordSize:              recordSize,
		IncludeReservedNetworks: true, // reserved space is the merge's business
		KeyGenerator:            mapKeys{},
	})
	if err != nil {
		return nil, fmt.Errorf("new mmdb tree: %w", err)
	}
	return tree, nil
}

// mergeResult is the merged database: every network (prefix) in address
// order with the index of its record, and the main database's tree, into
// which every network has been inserted.
type mergeResult struct {
	pfxs  []netip.Prefix
	recOf []int32
	recs  []*record
	epoch int64 // build_epoch of every file written from the result
	tree  *mmdbwriter.Tree
	desc  map[string]string // the tree's metadata description
}

// merged runs the merge on first use and returns its result; the main
// database and every companion file are written from the same result.
//
// The merge's sweep and the insertion of its networks into the main
// database's tree run side by side: the sweep hands over its ranges in
// batches as they become final, and this goroutine splits them into
// prefixes, counts them and inserts them, in address order.
func (b *Builder) merged(ctx context.Context) (*mergeResult, error) {
	if b.result != nil {
		return b.result, nil
	}
	if b.written {
		return nil, ErrWritten
	}
	b.written = true
	epoch := b.opts.BuildEpoch
	if epoch == 0 {
		epoch = time.Now().Unix()
	}
	desc := map[string]string{"en": b.opts.Description}
	tree, err := b.newTree(epoch, desc, 28)
	if err != nil {
		return nil, err
	}

	type batch struct {
		pfxs  []netip.Prefix // the networks, in address order
		recOf []int32        // their records
		recs  []*record      // every record made so far
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan batch, 4)
	all := schema.Categories()
	counts := make([]CategoryStats, len(all))
	// The networks are about as many as the spans the merge starts from:
	// size the lists once for the common case rather than copying them as
	// they grow. (Counted before the sweep consumes the spans.)
	spans := len(b.asnEntries)
	for _, l := range b.layers {
		spans += len(l.spans)
	}
	pfxs := make([]netip.Prefix, 0, spans)
	recOf := make([]int32, 0, spans)
	var recs []*record
	var mergeErr error
	done := make(chan struct{})
	go func() {
		// The sweep's goroutine also splits its ranges into prefixes and
		// counts them; the caller's only inserts.
		defer close(done)
		defer close(batches)
		var idx []int // positions in all of the current record's categories
		recs, mergeErr = b.merge(ctx, func(rs []outRange, made []*record) error {
			n0 := len(pfxs)
			for _, r := range rs {
				rec := made[r.rec]
				idx = idx[:0]
				for j, c := range all {
					if rec.cats&c != 0 {
						idx = append(idx, j)
					}
				}
				n1 := len(pfxs)
				pfxs = r.s.rangeOf().AppendPrefixes(pfxs)
				for _, p := range pfxs[n1:] {
					recOf = append(recOf, r.rec)
					for _, j := range idx {
						cs := &counts[j]
						cs.Networks++
						if p.Addr().Is4() {
							cs.IPv4 += uint64(1) << (32 - p.Bits())
						} else if p.Bits() <= 64 {
							cs.IPv6 = satAdd(cs.IPv6, 64-p.Bits())
						} else {
							cs.IPv6++
						}
					}
				}
			}
			select {
			case batches <- batch{pfxs[n0:len(pfxs):len(pfxs)], recOf[n0:len(recOf):len(recOf)], made}:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()

	var maps []mmdbtype.Map
	var insertErr error
	for bt := range batches {
		if insertErr != nil {
			continue // drain, so the sweep can finish
		}
		if insertErr = ctx.Err(); insertErr != nil {
			cancel()
			continue
		}
		for i, p := range bt.pfxs {
			id := bt.recOf[i]
			for int(id) >= len(maps) {
				maps = append(maps, nil)
			}
			if maps[id] == nil {
				maps[id] = bt.recs[id].mmdbMap()
			}
			if err := tree.Insert(netipx.PrefixIPNet(p), maps[id]); err != nil {
				insertErr = fmt.Errorf("insert %s: %w", p, err)
				cancel()
				break
			}
		}
	}
	<-done
	if insertErr != nil {
		return nil, insertErr
	}
	if mergeErr != nil {
		return nil, mergeErr
	}
	b.result = &mergeResult{pfxs: pfxs, recOf: recOf, recs: recs, epoch: epoch}
	if rs := recordSize(len(pfxs)); rs == 28 {
		b.result.tree, b.result.desc = tree, desc
	} // else: too many networks for 28-bit records; writeTo builds the tree anew.
	cats := make(map[string]CategoryStats, len(all))
	for j, c := range all {
		if counts[j] != (CategoryStats{}) {
			cats[c.Name()] = counts[j]
		}
	}
	b.stats.Categories = cats
	b.stats.Networks = len(pfxs)
	b.stats.Records = len(recs)
	return b.result, nil
}

// ctxWriter fails its writes once its context is done, so that a long
// write stops when the build is cancelled.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// recordSize picks the smallest MMDB record size that surely holds the
// tree: 28 bits address 268M node/data positions, far above any feed set
// we know; 32 beyond that.
func recordSize(networks int) int {
	if networks > 1<<25 {
		return 32
	}
	return 28
}

func satAdd(v uint64, shift int) uint64 {
	if shift >= 64 {
		return ^uint64(0)
	}
	s := v + uint64(1)<<shift
	if s < v {
		return ^uint64(0)
	}
	return s
}

// mmdbMap returns the record as MaxMind field names (docs/design.md §2):
// booleans only when true, is_anonymous when any anonymous category is set,
// risk_score and sources when a feed contributed.
func (r *record) mmdbMap() mmdbtype.Map {
	m := mmdbtype.Map{}
	for _, c := range schema.Categories() {
		if r.cats&c != 0 {
			m[mmdbtype.String(c.Key())] = mmdbtype.Bool(true)
		}
	}
	if r.cats&schema.CategoryAnonymous != 0 {
		m[schema.KeyIsAnonymous] = mmdbtype.Bool(true)
	}
	if r.asn != 0 {
		m[schema.KeyASN] = mmdbtype.Uint32(r.asn)
	}
	if r.org != "" {
		m[schema.KeyASOrg] = mmdbtype.String(r.org)
	}
	if len(r.sources) > 0 {
		m[schema.KeyRiskScore] = mmdbtype.Uint16(r.score)
		src := make(mmdbtype.Slice, len(r.sources))
		for i, s := range r.sources {
			src[i] = mmdbtype.String(s)
		}
		m[schema.KeySources] = src
	}
	if r.provider != "" {
		m[schema.KeyProviderName] = mmdbtype.String(r.provider)
	}
	if r.confidence != 0 {
		m[schema.KeyAnonymizerConfidence] = mmdbtype.Uint16(r.confidence)
	}
	if r.firstSeen != "" {
		m[schema.KeyNetworkFirstSeen] = mmdbtype.String(r.firstSeen)
	}
	if r.lastSeen != "" {
		m[schema.KeyNetworkLastSeen] = mmdbtype.String(r.lastSeen)
	}
	if len(r.cleared) > 0 {
		cl := make(mmdbtype.Slice, len(r.cleared))
		for i, c := range r.cleared {
			cl[i] = mmdbtype.Map{
				"feed":     mmdbtype.String(c.feed),
				"category": mmdbtype.String(c.cats.String()),
				"by":       mmdbtype.String(c.by),
			}
		}
		m[schema.KeyCleared] = cl
	}
	return m
}

// mapKeys keys each record by the identity of its Map. The merge builds
// exactly one Map per distinct record and inserts that same Map for every
// network of the record, so identity is equality, and the SHA-256 of the
// serialised value that mmdbwriter computes by default is not needed.
type mapKeys struct{}

func (mapKeys) Key(v mmdbtype.DataType) ([]byte, error) {
	m, ok := v.(mmdbtype.Map)
	if !ok {
		return nil, fmt.Errorf("unexpected record type %T", v)
	}
	return binary.LittleEndian.AppendUint64(nil, uint64(uintptr(reflect.ValueOf(m).UnsafePointer()))), nil
}
