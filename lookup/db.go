package lookup

import (
	"fmt"
	"iter"
	"math/bits"
	"net/netip"
	"os"
	"time"
	"unsafe"

	"github.com/ipintel/ipintel/schema"
	"github.com/oschwald/maxminddb-golang/v2"
)

// DB is an MMDB flattened into ipintel's in-memory lookup engine. It is
// immutable once [Open] or [OpenBytes] returns and safe for concurrent use
// by any number of goroutines; it holds no reference to the file or the
// bytes it was read from. A nil *DB is not usable; there is no zero value
// to speak of. Do not copy a DB; share the pointer.
type DB struct {
	v4 family4
	v6 family6

	// v4Whole is set when an IPv6 database's IPv4 subtree is a single
	// record above ::/96 (the tree stops before bit 96). Every IPv4
	// address then matches v4Whole, an IPv6 network, as in Reader.Lookup.
	v4Whole    netip.Prefix
	hasV4Whole bool
	v4Only     bool // ip_version 4: IPv6 addresses never match

	records []record // records[0] is the zero record (no data)
	details []detail // details[0] is the empty detail
	names   string   // distinct organisations and providers, concatenated; see detail
	srcSets [][]string
	meta    Metadata
}

// Metadata is the metadata section of the MMDB a [DB] was read from.
// Languages and Description are shared: callers must not modify them.
type Metadata struct {
	DatabaseType             string
	Description              map[string]string
	Languages                []string
	IPVersion                uint
	RecordSize               uint
	NodeCount                uint
	BuildEpoch               time.Time
	BinaryFormatMajorVersion uint
	BinaryFormatMinorVersion uint
}

// Open reads the MMDB file at path and builds a [DB] from it. The file is
// read once; it may be replaced or removed afterwards.
func Open(path string) (*DB, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err // a *fs.PathError: "open path: reason"
	}
	db, err := OpenBytes(b)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// OpenBytes builds a [DB] from the bytes of an MMDB file. It decodes
// every distinct data record once and does not retain b.
//
// OpenBytes checks what it reads (the search tree's shape and bounds and
// the types of the keys it decodes) but, to stay fast, does not run
// maxminddb's full Reader.Verify of the file; [VerifyFile] does.
func OpenBytes(b []byte) (*DB, error) {
	r, err := maxminddb.OpenBytes(b, maxminddb.DisableStringCache())
	if err != nil {
		return nil, fmt.Errorf("read mmdb: %w", err)
	}
	db, err := build(r, b)
	if err != nil {
		return nil, fmt.Errorf("build lookup engine: %w", err)
	}
	return db, nil
}

// build walks the search tree of r (whose file bytes are buf) into a DB.
func build(r *maxminddb.Reader, buf []byte) (*DB, error) {
	md := r.Metadata
	t, err := newTree(buf, md)
	if err != nil {
		return nil, err
	}
	db := &DB{meta: Metadata{
		DatabaseType:             md.DatabaseType,
		Description:              md.Description,
		Languages:                md.Languages,
		IPVersion:                md.IPVersion,
		RecordSize:               md.RecordSize,
		NodeCount:                md.NodeCount,
		BuildEpoch:               time.Unix(int64(md.BuildEpoch), 0).UTC(),
		BinaryFormatMajorVersion: md.BinaryFormatMajorVersion,
		BinaryFormatMinorVersion: md.BinaryFormatMinorVersion,
	}}
	rt := newRecordTable(r)
	budget := walkBudget(t.nodeCount)
	b4 := newRangeBuilder(32)
	var r6 rangeList
	switch md.IPVersion {
	case 4:
		db.v4Only = true
		if err := t.walk(0, 0, u128{}, 32, t.nodeCount, rt, &budget, b4.add); err != nil {
			return nil, err
		}
		r6 = newRangeBuilder(128).finish()
	case 6:
		// Find the IPv4 subtree at ::/96 as Reader.Lookup does: follow
		// zero bits until a data or empty record ends the path.
		node, depth := uint32(0), 0
		for ; depth < 96 && node < t.nodeCount; depth++ {
			node, _ = t.children(node)
		}
		alias := t.nodeCount // no alias unless the subtree exists
		switch {
		case node < t.nodeCount:
			alias = node
			if err := t.walk(node, 0, u128{}, 32, t.nodeCount, rt, &budget, b4.add); err != nil {
				return nil, err
			}
		case node > t.nodeCount:
			off, err := t.dataOffset(node)
			if err != nil {
				return nil, err
			}
			ri, err := rt.index(off)
			if err != nil {
				return nil, err
			}
			b4.add(leaf{u128{}, 0, ri})
			db.v4Whole, db.hasV4Whole = netip.PrefixFrom(netip.IPv6Unspecified(), depth), true
		}
		b6 := newRangeBuilder(128)
		if err := t.walk(0, 0, u128{}, 128, alias, rt, &budget, b6.add); err != nil {
			return nil, err
		}
		r6 = b6.finish()
	default:
		return nil, fmt.Errorf("unsupported ip_version %d", md.IPVersion)
	}
	r4 := b4.finish()
	rt.reorder(r4, r6)
	db.records = rt.records
	db.details = rt.details
	db.names = string(rt.names)
	db.srcSets = rt.srcSets
	if len(r4.starts) > maxRanges || len(r6.starts) > maxRanges {
		return nil, fmt.Errorf("too many ranges (%d IPv4, %d IPv6; at most %d each)", len(r4.starts), len(r6.starts), maxRanges)
	}
	if err := db.v4.init(r4); err != nil {
		return nil, err
	}
	if err := db.v6.init(r6); err != nil {
		return nil, err
	}
	return db, nil
}

// Lookup returns the record of the network containing addr and reports
// whether there is one. An IPv4-mapped IPv6 address is looked up as IPv4.
// In an IPv4-only database (ip_version 4) IPv6 addresses never match.
//
// A zoned address (fe80::1%eth0) is not found, even where the same
// address without its zone is: a zone names a link of one host, not a
// network, so no database can say anything about it. This is
// [net/netip.Prefix.Contains]'s rule, and ipintel's one rule for zones:
// the feeds package and the CLI and HTTP API reject a zoned address as
// bad input, and httpguard.ClientAddr never returns one (it drops the
// zone the kernel gives a link-local peer). A caller that wants the
// address looked up regardless strips the zone first, with
// addr.WithZone("").
//
// Lookup does not allocate, lock or decode.
func (db *DB) Lookup(addr netip.Addr) (Record, bool) {
	// The helpers return a record index and the network, which fit in
	// registers; the Record is built once, here, field by field like
	// db.record, rather than by db.record and then a second write of
	// Network.
	var v uint32
	var pfx netip.Prefix
	switch {
	case addr.Is4():
		v, pfx = db.match4(addr)
	case !addr.Is6() || addr.Zone() != "":
		return Record{}, false
	case addr.Is4In6():
		v, pfx = db.match4(addr.Unmap())
	default:
		v, pfx = db.match6(addr)
	}
	if v == 0 {
		return Record{}, false
	}
	return db.record(v, pfx), true
}

// match4 returns the record index (0 for none) and network of an IPv4 address.
func (db *DB) match4(addr netip.Addr) (uint32, netip.Prefix) {
	b := addr.As4()
	a := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	w := db.v4.top[a>>(32-db.v4.topBits&31)]
	if w&wordInner != 0 {
		w = db.v4.descend32(w, db.v4.topBits, a)
	}
	return db.resolve4(a, w)
}

func addr4(a uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})
}

// record returns the Record of record index v with network pfx. It is
// small enough to be inlined into every lookup path.
func (db *DB) record(v uint32, pfx netip.Prefix) Record {
	r := &db.records[v]
	d := &db.details[r.det]
	return Record{
		Network:    pfx,
		Categories: r.cat,
		Sources:    SourceSet(r.src),
		ASN:        r.asn,
		Org:        db.names[d.orgOff : d.orgOff+uint32(d.orgLen)],
		Provider:   db.names[d.provOff : d.provOff+uint32(d.provLen)],
		FirstSeen:  d.first,
		LastSeen:   d.last,
		Score:      r.score,
		Scored:     r.scored,
		Confidence: r.conf,
	}
}

// netBits32 returns the number of host bits of the largest aligned block
// that contains a and lies within [start, end]: the MMDB network of a,
// given that ranges are built from maximal blocks (see rangeBuilder).
func netBits32(a, start, end uint32) uint {
	kl := max(bits.Len32(a^start)-1, bits.TrailingZeros32(start))
	kr := max(bits.Len32(a^end)-1, bits.TrailingZeros32(^end))
	return uint(min(kl, kr))
}

// match6 returns the record index (0 for none) and network of an IPv6 address.
func (db *DB) match6(addr netip.Addr) (uint32, netip.Prefix) {
	if db.v4Only {
		return 0, netip.Prefix{}
	}
	// AsSlice, not As16: As16's array is stored as two 8-byte halves and
	// then copied as one 16-byte word, a load that cannot be forwarded
	// from the two stores and waits for them to retire. Through AsSlice
	// (inlined, on the stack) each half is loaded as it was stored, and
	// the IPv6 lookup does not wait on that stall.
	b := addr.AsSlice()
	a := u128{beUint64(b[:8]), beUint64(b[8:16])}
	w := db.v6.top[a.hi>>(64-db.v6.topBits&63)]
	if w&wordInner != 0 {
		w = db.v6.descend128(w, db.v6.topBits, a)
	}
	return db.resolve6(addr, a, w)
}

// matchAlias answers an IPv6 address inside an alias of the IPv4
// subtree that starts at prefix length depth (::/96, 2002::/16, …): its
// next 32 bits are looked up as IPv4, and the network is returned in the
// IPv6 form that Reader.Lookup gives.
func (db *DB) matchAlias(addr netip.Addr, a u128, depth int) (uint32, netip.Prefix) {
	var v4 uint32
	switch sh := 128 - 32 - depth; {
	case sh >= 64:
		v4 = uint32(a.hi >> (sh - 64))
	case sh > 32:
		v4 = uint32(a.hi<<(64-sh) | a.lo>>sh)
	default:
		v4 = uint32(a.lo >> sh)
	}
	v, pfx := db.match4(addr4(v4))
	if v == 0 {
		return 0, netip.Prefix{}
	}
	return v, prefix6(addr, depth+pfx.Bits())
}

// prefix6 returns the network of n bits (0 ≤ n ≤ 128) that contains the
// IPv6 address addr. Addr.Prefix masks and builds the prefix in one step,
// where PrefixFrom(addr, n).Masked() builds it twice.
func prefix6(addr netip.Addr, n int) netip.Prefix {
	p, _ := addr.Prefix(n) // never fails: n is in range for IPv6
	return p
}

// netBits128 is netBits32 for IPv6.
func netBits128(a, start, end u128) int {
	kl := max(len128(a.xor(start))-1, tz128(start))
	kr := max(len128(a.xor(end))-1, tz128(end.not()))
	return min(kl, kr)
}

func len128(x u128) int {
	if x.hi != 0 {
		return 64 + bits.Len64(x.hi)
	}
	return bits.Len64(x.lo)
}

func tz128(x u128) int {
	if x.lo != 0 {
		return bits.TrailingZeros64(x.lo)
	}
	return 64 + bits.TrailingZeros64(x.hi)
}

func beUint64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}

func putUint64(b []byte, v uint64) {
	_ = b[7]
	for i := range 8 {
		b[i] = byte(v >> (56 - 8*i))
	}
}

// All returns an iterator over every network of the database that has
// data, in address order: IPv4 networks first (as IPv4 prefixes), then
// IPv6 networks. Each network is yielded exactly as the MMDB search tree
// stores it, never merged with its neighbours, so All yields what
// maxminddb-golang's Reader.Networks yields except that the IPv4
// aliases in an IPv6 database (::ffff:0:0/96, 2002::/16, …) are not
// repeated: an alias is covered by the IPv4 networks. The Network field
// of each Record is set to the yielded prefix.
func (db *DB) All() iter.Seq2[netip.Prefix, Record] {
	return func(yield func(netip.Prefix, Record) bool) {
		if !db.hasV4Whole {
			for i := range db.v4.len() {
				s, v := db.v4.start(i), db.v4.val(i)
				if v == 0 {
					continue
				}
				end := db.v4.end(i)
				if !eachBlock(u128{0, uint64(s)}, u128{0, uint64(end)}, 32, func(p u128, n int) bool {
					pfx := netip.PrefixFrom(addr4(uint32(p.lo)), n)
					return yield(pfx, db.record(v, pfx))
				}) {
					return
				}
			}
		}
		for i := range db.v6.len() {
			s, v := db.v6.start(i), db.v6.val(i)
			if v == 0 || v&valueAlias != 0 {
				continue
			}
			if !eachBlock(s, db.v6.end(i), 128, func(p u128, n int) bool {
				var b [16]byte
				putUint64(b[:8], p.hi)
				putUint64(b[8:], p.lo)
				pfx := netip.PrefixFrom(netip.AddrFrom16(b), n)
				return yield(pfx, db.record(v, pfx))
			}) {
				return
			}
		}
	}
}

// eachBlock calls f with the maximal aligned blocks that make up
// [start, end] (the canonical decomposition), in order.
func eachBlock(start, end u128, width int, f func(start u128, bits int) bool) bool {
	for {
		// Largest k such that start is aligned to 2^k and start+2^k-1 ≤ end.
		k := min(tz128(start), width)
		for k > 0 && end.less(start.or(lowMask(k))) {
			k--
		}
		if !f(start, width-k) {
			return false
		}
		last := start.or(lowMask(k))
		if last == end {
			return true
		}
		start = last.addOne()
	}
}

// SourceNames returns the sorted feed names of s. The slice is shared:
// callers must not modify it. It returns nil for 0 and for an s that does
// not belong to db.
func (db *DB) SourceNames(s SourceSet) []string {
	if int(s) >= len(db.srcSets) {
		return nil
	}
	return db.srcSets[s]
}

// Metadata returns the metadata of the MMDB the DB was built from.
func (db *DB) Metadata() Metadata { return db.meta }

// Manifest returns the ipintel build manifest stored in the metadata
// description under [schema.ManifestDescriptionKey], and reports whether
// there is a valid one. Each call parses it afresh, so the result is the
// caller's to modify.
func (db *DB) Manifest() (schema.Manifest, bool) {
	m, found, err := schema.ParseManifest(db.meta.Description)
	return m, found && err == nil
}

// Len returns the number of ranges in the engine: runs of adjacent MMDB
// networks with the same record, plus the gaps between them.
func (db *DB) Len() int { return db.v4.len() + db.v6.len() }

// Bytes returns the approximate memory held by the engine's arrays, in bytes.
func (db *DB) Bytes() int {
	n := db.v4.bytes() + db.v6.bytes()
	n += len(db.records) * int(unsafe.Sizeof(record{}))
	n += len(db.details) * int(unsafe.Sizeof(detail{}))
	n += len(db.names)
	for _, s := range db.srcSets {
		n += 24 + 16*len(s)
	}
	return n
}
