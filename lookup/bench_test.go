package lookup

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gaissmai/bart"
	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/oschwald/maxminddb-golang/v2"
	"github.com/yl2chen/cidranger"
	"go4.org/netipx"

	"github.com/ipintel/ipintel/schema"
)

// synthVersion names the synthetic benchmark database; change it when
// the generator changes so a stale cached file is not reused.
const synthVersion = "v2"

// benchPath returns the MMDB the benchmarks run on: $IPINTEL_BENCH_DB, or
// a deterministic synthetic full-size database cached in os.TempDir().
func benchPath(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("IPINTEL_BENCH_DB"); p != "" {
		return p
	}
	synthOnce.Do(func() {
		synthFile = filepath.Join(os.TempDir(), "ipintel-lookup-synth-"+synthVersion+".mmdb")
		if _, err := os.Stat(synthFile); err == nil {
			return
		}
		synthErr = writeSynthDB(synthFile)
	})
	if synthErr != nil {
		tb.Fatalf("synthetic database: %v", synthErr)
	}
	return synthFile
}

var (
	synthOnce sync.Once
	synthFile string
	synthErr  error
)

// synthNet is one network of the synthetic database and its record.
type synthNet struct {
	pfx netip.Prefix
	rec int
}

// synthRecords returns the distinct records of the synthetic database:
// a few hundred combinations of ASN, organisation, categories and
// sources, as a full build from the shared feeds produces.
func synthRecords(rng *rand.Rand) []mmdbtype.Map {
	kinds := []struct {
		key, src string
		w        float64
	}{
		{schema.KeyIsTorExitNode, "tor-exits", 0.9},
		{schema.KeyIsAnonymousVPN, "x4b-vpn", 0.5},
		{schema.KeyIsPublicProxy, "proxies", 0.6},
		{schema.KeyIsResidentialProxy, "resi", 0.6},
		{schema.KeyIsHostingProvider, "datacenters", 0.4},
		{schema.KeyIsAbuse, "firehol-level1", 0.6},
		{schema.KeyIsCrawler, "crawlers", 0},
	}
	recs := make([]mmdbtype.Map, 0, 400)
	for i := range 400 {
		m := mmdbtype.Map{
			schema.KeyASN:   mmdbtype.Uint32(1000 + rng.IntN(60000)),
			schema.KeyASOrg: mmdbtype.String(fmt.Sprintf("Synthetic Networks %d", i%120)),
		}
		keep := 1.0
		srcs := mmdbtype.Slice{mmdbtype.String("iptoasn")}
		anon := false
		// The first 300 records are ASN-only, hosting or VPN; the last
		// 100 are abuse records for the scattered /32s.
		switch {
		case i >= 300:
			m[schema.KeyIsAbuse] = mmdbtype.Bool(true)
			keep *= 0.4
			srcs = append(srcs, mmdbtype.String("firehol-level1"))
		case i%3 == 1:
			k := kinds[rng.IntN(len(kinds))]
			m[mmdbtype.String(k.key)] = mmdbtype.Bool(true)
			keep *= 1 - k.w
			srcs = append(srcs, mmdbtype.String(k.src))
			anon = k.key != schema.KeyIsAbuse && k.key != schema.KeyIsCrawler
		}
		if anon {
			m[schema.KeyIsAnonymous] = mmdbtype.Bool(true)
		}
		slices.SortFunc(srcs, func(a, b mmdbtype.DataType) int {
			return cmp.Compare(a.(mmdbtype.String), b.(mmdbtype.String))
		})
		m[schema.KeySources] = srcs
		m[schema.KeyRiskScore] = mmdbtype.Uint16(100*(1-keep) + 0.5)
		recs = append(recs, m)
	}
	return recs
}

// synthNets returns the networks of the synthetic database, shaped like
// docs/design.md §9: ≈605k IPv4 networks /8-/32 (200k of them abuse /32s) and
// ≈151k IPv6 networks, sorted less specific first so that more specific
// networks paint over the ones containing them.
func synthNets(rng *rand.Rand) []synthNet {
	var nets []synthNet
	v4len := func() int {
		switch r := rng.IntN(1000); {
		case r < 2:
			return 8 + rng.IntN(8)
		case r < 100:
			return 16 + rng.IntN(5)
		case r < 350:
			return 21 + rng.IntN(3)
		default:
			return 24
		}
	}
	for range 405_000 {
		a := netip.AddrFrom4([4]byte{byte(1 + rng.IntN(223)), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
		p, _ := a.Prefix(v4len())
		nets = append(nets, synthNet{p, rng.IntN(300)})
	}
	// Abuse /32s: half cluster inside the networks above (hosting
	// ranges), half anywhere.
	listed := len(nets)
	for i := range 200_000 {
		a := netip.AddrFrom4([4]byte{byte(1 + rng.IntN(223)), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
		if i%2 == 0 {
			a = randomIn(rng, nets[rng.IntN(listed)].pfx)
		}
		nets = append(nets, synthNet{netip.PrefixFrom(a, 32), 300 + rng.IntN(100)})
	}
	// IPv6: allocations cluster in a few hundred /16s of 2000::/3.
	tops := make([]uint16, 0, 300)
	for range 300 {
		tops = append(tops, []uint16{0x2003, 0x2400, 0x2600, 0x2800, 0x2a00, 0x2c0f}[rng.IntN(6)]+uint16(rng.IntN(16)))
	}
	v6len := func() int {
		switch r := rng.IntN(100); {
		case r < 10:
			return 19 + rng.IntN(13)
		case r < 40:
			return 32
		case r < 60:
			return 33 + rng.IntN(15)
		case r < 80:
			return 48
		default:
			return 64
		}
	}
	for range 151_000 {
		var b [16]byte
		top := tops[rng.IntN(len(tops))]
		b[0], b[1] = byte(top>>8), byte(top)
		for i := 2; i < 8; i++ {
			b[i] = byte(rng.Uint32())
		}
		p, _ := netip.AddrFrom16(b).Prefix(v6len())
		rec := rng.IntN(300)
		if p.Bits() == 64 {
			rec = 300 + rng.IntN(100)
		}
		nets = append(nets, synthNet{p, rec})
	}
	slices.SortStableFunc(nets, func(a, b synthNet) int {
		return netipx.ComparePrefix(a.pfx, b.pfx)
	})
	slices.SortStableFunc(nets, func(a, b synthNet) int { return cmp.Compare(a.pfx.Bits(), b.pfx.Bits()) })
	return nets
}

// writeSynthDB writes the synthetic benchmark database to path.
func writeSynthDB(path string) error {
	rng := rand.New(rand.NewPCG(42, 42))
	recs := synthRecords(rng)
	nets := synthNets(rng)
	w, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            schema.DefaultDatabaseType,
		BuildEpoch:              1_700_000_000,
		IncludeReservedNetworks: true,
		RecordSize:              28,
		KeyGenerator:            indexKeys{},
	})
	if err != nil {
		return err
	}
	for _, n := range nets {
		if err := w.Insert(netipx.PrefixIPNet(n.pfx), recs[n.rec]); err != nil {
			return fmt.Errorf("insert %v: %w", n.pfx, err)
		}
	}
	tmp := path + ".tmp" + fmt.Sprint(os.Getpid())
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := w.WriteTo(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// indexKeys is an mmdbwriter.KeyGenerator for the synthetic records: the
// ASN, organisation and risk score tell the 400 records apart.
type indexKeys struct{}

func (indexKeys) Key(v mmdbtype.DataType) ([]byte, error) {
	m := v.(mmdbtype.Map)
	return fmt.Appendf(nil, "%d|%s|%d|%d", m[schema.KeyASN], m[schema.KeyASOrg], m[schema.KeyRiskScore], len(m)), nil
}

// benchEnv is the shared state of the lookup benchmarks: the database,
// its networks and the query sets, built once per process.
type benchEnv struct {
	path    string
	file    []byte
	db      *DB
	reader  *maxminddb.Reader
	nets    []netip.Prefix // every network with data, as All yields them
	queries map[string][]netip.Addr
}

const queryCount = 1 << 16

var (
	envOnce sync.Once
	env     *benchEnv
	envErr  error
)

func getBenchEnv(tb testing.TB) *benchEnv {
	tb.Helper()
	path := benchPath(tb)
	envOnce.Do(func() {
		e := &benchEnv{path: path, queries: map[string][]netip.Addr{}}
		if e.file, envErr = os.ReadFile(path); envErr != nil {
			return
		}
		if e.db, envErr = OpenBytes(e.file); envErr != nil {
			return
		}
		if e.reader, envErr = maxminddb.OpenBytes(e.file); envErr != nil {
			return
		}
		var v4, v6 []netip.Prefix
		for p := range e.db.All() {
			e.nets = append(e.nets, p)
			if p.Addr().Is4() {
				v4 = append(v4, p)
			} else {
				v6 = append(v6, p)
			}
		}
		rng := rand.New(rand.NewPCG(7, 7))
		for range queryCount {
			var b [4]byte
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			e.queries["v4rand"] = append(e.queries["v4rand"], netip.AddrFrom4(b))
			if len(v4) > 0 {
				e.queries["v4hit"] = append(e.queries["v4hit"], randomIn(rng, v4[rng.IntN(len(v4))]))
			}
			if len(v6) > 0 {
				e.queries["v6"] = append(e.queries["v6"], randomIn(rng, v6[rng.IntN(len(v6))]))
			}
		}
		env = e
	})
	if envErr != nil {
		tb.Fatalf("benchmark database %s: %v", path, envErr)
	}
	return env
}

// randomIn returns a random address inside p.
func randomIn(rng *rand.Rand, p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	r, _ := netip.AddrFromSlice(b)
	return mergeAddr(p, r)
}

// mergeAddr returns the address with the network bits of p and the host bits of r.
func mergeAddr(p netip.Prefix, r netip.Addr) netip.Addr {
	pb, rb := p.Addr().AsSlice(), r.AsSlice()
	bitsLeft := p.Bits()
	for i := range pb {
		switch {
		case bitsLeft >= 8:
			rb[i] = pb[i]
			bitsLeft -= 8
		case bitsLeft > 0:
			m := byte(0xFF) << (8 - bitsLeft)
			rb[i] = pb[i]&m | rb[i]&^m
			bitsLeft = 0
		}
	}
	a, _ := netip.AddrFromSlice(rb)
	return a
}

// peers builds the other implementations lazily: each costs seconds and
// hundreds of MiB, so only the ones a run selects are built.
var (
	bartOnce, bartRecOnce, ipsetOnce, rangerOnce sync.Once
	bartTable                                    *bart.Table[uint32]
	bartRec                                      *bart.Table[uint32]
	bartRecs                                     []Record
	ipset                                        *netipx.IPSet
	ranger                                       cidranger.Ranger
)

func (e *benchEnv) bart() *bart.Table[uint32] {
	bartOnce.Do(func() {
		bartTable = new(bart.Table[uint32])
		for p, r := range e.db.All() {
			bartTable.Insert(p, r.ASN)
		}
	})
	return bartTable
}

// bartRecord builds the fair bart peer: a table whose value is an index
// into a slice of distinct records (Network unset), so that a lookup
// returns what DB.Lookup returns.
func (e *benchEnv) bartRecord() (*bart.Table[uint32], []Record) {
	bartRecOnce.Do(func() {
		bartRec = new(bart.Table[uint32])
		index := map[Record]uint32{}
		for p, r := range e.db.All() {
			r.Network = netip.Prefix{}
			i, ok := index[r]
			if !ok {
				i = uint32(len(bartRecs))
				index[r] = i
				bartRecs = append(bartRecs, r)
			}
			bartRec.Insert(p, i)
		}
	})
	return bartRec, bartRecs
}

// bartLookup answers addr as DB.Lookup does, with bart: the longest
// matching prefix and its record index, then the record.
func bartLookup(t *bart.Table[uint32], recs []Record, addr netip.Addr) (Record, bool) {
	addr = addr.Unmap()
	if addr.Zone() != "" {
		return Record{}, false
	}
	pfx, i, ok := t.LookupPrefixLPM(netip.PrefixFrom(addr, addr.BitLen()))
	if !ok {
		return Record{}, false
	}
	r := recs[i]
	r.Network = pfx
	return r, true
}

func (e *benchEnv) ipset(tb testing.TB) *netipx.IPSet {
	ipsetOnce.Do(func() {
		var b netipx.IPSetBuilder
		for _, p := range e.nets {
			b.AddPrefix(p)
		}
		var err error
		if ipset, err = b.IPSet(); err != nil {
			tb.Fatal(err)
		}
	})
	return ipset
}

func (e *benchEnv) ranger(tb testing.TB) cidranger.Ranger {
	rangerOnce.Do(func() {
		ranger = cidranger.NewPCTrieRanger()
		for _, p := range e.nets {
			if err := ranger.Insert(cidranger.NewBasicRangerEntry(*netipx.PrefixIPNet(p))); err != nil {
				tb.Fatal(err)
			}
		}
	})
	return ranger
}

// benchImpl is one implementation under benchmark: prepare returns the
// function that looks up queries[i].
type benchImpl struct {
	name    string
	prepare func(tb testing.TB, e *benchEnv, queries []netip.Addr) func(i int) bool
}

var benchImpls = []benchImpl{
	{"ipintel", func(_ testing.TB, e *benchEnv, q []netip.Addr) func(int) bool {
		db := e.db
		return func(i int) bool {
			_, ok := db.Lookup(q[i])
			return ok
		}
	}},
	{"ipintel-batch", func(_ testing.TB, e *benchEnv, q []netip.Addr) func(int) bool {
		// One LookupBatch of batchBench addresses every batchBench
		// calls, so ns/op is the time per address.
		db := e.db
		out := make([]Record, batchBench)
		return func(i int) bool {
			if i%batchBench == 0 {
				db.LookupBatch(q[i:i+batchBench], out)
			}
			return out[i%batchBench].Network.IsValid()
		}
	}},
	{"maxminddb", func(_ testing.TB, e *benchEnv, q []netip.Addr) func(int) bool {
		r := e.reader
		return func(i int) bool {
			var rec mmdbRecord
			res := r.Lookup(q[i])
			_ = res.Decode(&rec)
			return res.Found()
		}
	}},
	{"bart", func(_ testing.TB, e *benchEnv, q []netip.Addr) func(int) bool {
		t := e.bart()
		return func(i int) bool {
			_, ok := t.Lookup(q[i])
			return ok
		}
	}},
	{"bart-record", func(_ testing.TB, e *benchEnv, q []netip.Addr) func(int) bool {
		t, recs := e.bartRecord()
		return func(i int) bool {
			r, ok := bartLookup(t, recs, q[i])
			return ok && r.Network.IsValid()
		}
	}},
	{"netipx", func(tb testing.TB, e *benchEnv, q []netip.Addr) func(int) bool {
		s := e.ipset(tb)
		return func(i int) bool { return s.Contains(q[i]) }
	}},
	{"cidranger", func(tb testing.TB, e *benchEnv, q []netip.Addr) func(int) bool {
		r := e.ranger(tb)
		ips := make([]net.IP, len(q))
		for i, a := range q {
			ips[i] = net.IP(a.AsSlice())
		}
		return func(i int) bool {
			nets, _ := r.ContainingNetworks(ips[i])
			return len(nets) > 0
		}
	}},
}

// batchBench is the batch size of the ipintel-batch benchmark; it
// divides queryCount.
const batchBench = 64

// parallelSafe reports whether an implementation's lookup function may
// be called from several goroutines (ipintel-batch keeps its results in
// one buffer).
func parallelSafe(name string) bool { return name != "ipintel-batch" }

var querySets = []string{"v4rand", "v4hit", "v6"}

var sink bool

// BenchmarkLookup measures one lookup per iteration for every
// implementation and query set, on the same database and the same
// precomputed addresses.
func BenchmarkLookup(b *testing.B) {
	for _, impl := range benchImpls {
		b.Run(impl.name, func(b *testing.B) {
			for _, qs := range querySets {
				b.Run(qs, func(b *testing.B) {
					e := getBenchEnv(b)
					q := e.queries[qs]
					if len(q) == 0 {
						b.Skip("no networks for this query set")
					}
					f := impl.prepare(b, e, q)
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						sink = f(i & (queryCount - 1))
						i++
					}
				})
			}
		})
	}
}

// BenchmarkLookupParallel is BenchmarkLookup on every available core.
func BenchmarkLookupParallel(b *testing.B) {
	for _, impl := range benchImpls {
		if !parallelSafe(impl.name) {
			continue
		}
		b.Run(impl.name, func(b *testing.B) {
			for _, qs := range querySets {
				b.Run(qs, func(b *testing.B) {
					e := getBenchEnv(b)
					q := e.queries[qs]
					if len(q) == 0 {
						b.Skip("no networks for this query set")
					}
					f := impl.prepare(b, e, q)
					b.ReportAllocs()
					var seed sync.Mutex
					next := 0
					b.RunParallel(func(pb *testing.PB) {
						seed.Lock()
						i := next * 7919
						next++
						seed.Unlock()
						found := false
						for pb.Next() {
							found = f(i&(queryCount-1)) != found
							i++
						}
						if found {
							sink = found
						}
					})
				})
			}
		})
	}
}

// BenchmarkOpen measures building the engine from the file's bytes, and
// reports the engine's size per MMDB network and relative to the file.
func BenchmarkOpen(b *testing.B) {
	e := getBenchEnv(b)
	b.ReportAllocs()
	var db *DB
	for b.Loop() {
		var err error
		if db, err = OpenBytes(e.file); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(db.Bytes())/float64(len(e.nets)), "bytes/network")
	b.ReportMetric(float64(db.Bytes())/float64(len(e.file)), "engine/file")
	b.ReportMetric(float64(len(e.nets)), "networks")
	b.ReportMetric(float64(db.Len()), "ranges")
}

// BenchmarkDependentLoad measures the machine's latency of a chain of
// dependent loads (a pointer chase through a random cyclic permutation,
// one 64-byte line per step) at working sets from L1 to DRAM. Absolute
// lookup times move 2-4x between machines with these latencies, so
// scripts/bench.sh prints them beside the lookup results.
func BenchmarkDependentLoad(b *testing.B) {
	for _, kib := range []int{32, 256, 1024, 2048, 4096, 8192, 32768} {
		b.Run(fmt.Sprintf("%dKiB", kib), func(b *testing.B) {
			const line = 8 // uint64s per 64-byte line
			n := kib << 10 / 64
			next := make([]uint64, n*line)
			perm := rand.New(rand.NewPCG(1, 1)).Perm(n)
			for i := range n {
				next[perm[i]*line] = uint64(perm[(i+1)%n] * line)
			}
			p := uint64(0)
			for b.Loop() {
				p = next[p]
			}
			sinkU64 = p
		})
	}
}

var sinkU64 uint64

// TestInterleaved compares the implementations of BenchmarkLookup on a
// noisy machine: in each round every implementation looks up the same
// slice of a query set, in a rotating order, so that all of them share
// the round's conditions, and the ratio of each to ipintel is taken per
// round; each warms its caches on 8192 other queries before its timed
// pass. It prints the median time per lookup and the median ratio with
// its spread (10th to 90th percentile over rounds). It runs only when
// IPINTEL_INTERLEAVE is set to the number of rounds (scripts/bench.sh
// sets it); IPINTEL_INTERLEAVE_IMPLS, a regular expression, selects the
// implementations.
func TestInterleaved(t *testing.T) {
	rounds, _ := strconv.Atoi(os.Getenv("IPINTEL_INTERLEAVE"))
	if rounds <= 0 {
		t.Skip("set IPINTEL_INTERLEAVE to the number of rounds")
	}
	sel := regexp.MustCompile(os.Getenv("IPINTEL_INTERLEAVE_IMPLS"))
	var impls []benchImpl
	for _, impl := range benchImpls {
		if sel.MatchString(impl.name) {
			impls = append(impls, impl)
		}
	}
	e := getBenchEnv(t)
	const pass, warm = 8192, 8192
	for _, qs := range querySets {
		q := e.queries[qs]
		if len(q) == 0 {
			continue
		}
		fs := make([]func(int) bool, len(impls))
		for i, impl := range impls {
			fs[i] = impl.prepare(t, e, q)
		}
		ns := make([][]float64, len(impls)) // per implementation, per round
		for r := range rounds {
			off := r * pass & (queryCount - 1)
			for k := range impls {
				i := (k + r) % len(impls)
				f := fs[i]
				// Warm the implementation's caches on other queries
				// first: the previous one's pass evicted them.
				for j := off + pass; j < off+pass+warm; j++ {
					sink = f(j & (queryCount - 1))
				}
				start := time.Now()
				for j := off; j < off+pass; j++ {
					sink = f(j)
				}
				ns[i] = append(ns[i], float64(time.Since(start).Nanoseconds())/pass)
			}
		}
		var sb strings.Builder
		fmt.Fprintf(&sb, "%s, %d rounds of %d lookups: median ns/lookup; ratio to %s per round, median [p10-p90]\n", qs, rounds, pass, impls[0].name)
		for i, impl := range impls {
			ratios := make([]float64, rounds)
			for r := range rounds {
				ratios[r] = ns[i][r] / ns[0][r]
			}
			fmt.Fprintf(&sb, "  %-14s %8.1f  %7.2fx [%.2f-%.2f]\n", impl.name, quantile(ns[i], 0.5),
				quantile(ratios, 0.5), quantile(ratios, 0.1), quantile(ratios, 0.9))
		}
		t.Log("\n" + sb.String())
	}
}

// quantile returns the q-quantile of x (nearest rank).
func quantile(x []float64, q float64) float64 {
	x = slices.Sorted(slices.Values(x))
	return x[min(len(x)-1, int(q*float64(len(x))))]
}
