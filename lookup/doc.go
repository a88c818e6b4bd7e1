// Package lookup answers IP intelligence queries in-process: it reads an
// MMDB (ipintel's own, or MaxMind's Anonymous-IP, Anonymous-Plus, ASN and
// ISP databases) once, flattens it into an immutable in-memory engine, and
// classifies an address in tens of nanoseconds without allocating.
//
// # Usage
//
// Open a database, look addresses up, and turn records into actions:
//
//	db, err := lookup.Open("ipintel.mmdb")
//	if err != nil {
//		return err
//	}
//	rec, ok := db.Lookup(netip.MustParseAddr("192.0.2.7"))
//	if ok && rec.Categories&lookup.CategoryTorExit != 0 {
//		fmt.Println(rec.Network, rec.ASN, rec.Org, db.SourceNames(rec.Sources))
//	}
//	switch lookup.DefaultPolicy().Decide(rec).Action {
//	case lookup.ActionBlock:
//		// …
//	}
//
// [DB.Lookup] returns the exact network the MMDB search tree stores for
// the address (what maxminddb-golang's Result.Prefix returns) and the
// decoded ipintel fields; keys a database does not have read as zero, and
// keys ipintel does not know are ignored. IPv4-mapped IPv6 addresses are
// looked up as IPv4. [DB.All] walks every network, for export and diff.
// [VerifyFile] checks a file thoroughly before it is deployed.
//
// # Concurrency
//
// A [DB] is immutable once [Open] returns and safe for concurrent use by
// any number of goroutines. A long-running service keeps its DB in a
// [Handle]: readers call [Handle.Load] once per request (one atomic load)
// and use that snapshot throughout; [Handle.Reload] builds the new DB
// beside the old one and swaps it in with one atomic store, so readers
// never block and never see a half-built database. A failed reload
// returns its error and leaves the old DB serving. The old DB is dropped,
// not closed: a reader that still holds it keeps a valid snapshot.
//
// # Performance
//
// Open walks the MMDB search tree once (reading its node records
// directly, which also reveals the aliases of the IPv4 subtree at
// ::ffff:0:0/96, 2001::/32 and 2002::/16), decodes each distinct data
// record once, and merges adjacent networks with the same record into
// ranges, as long as every network stays the largest aligned block of
// its range. That condition lets Lookup recompute the exact MMDB network
// from the range bounds with a few bit operations, so a database of two
// million networks becomes under a million ranges. IPv4 and IPv6 have
// separate tables; an alias of the IPv4 subtree is one IPv6 range that
// sends the lookup to the IPv4 table, so IPv4 data is stored once.
//
// The ranges of a family are indexed by a multibit trie in the manner of
// Poptrie (Asai and Ohara, SIGCOMM 2015):
//
//   - a direct-indexed top level on the first 19 bits for IPv4 (2 MiB)
//     and 16 bits for IPv6 (10 bits for small databases);
//   - under a slot dense with ranges, a direct-indexed level sized to the
//     slot (a word per two to four ranges), nested where still dense;
//     the word that leads to it holds its offset and width, so each hop
//     is one load;
//   - elsewhere, nodes of 6-bit strides, each two 64-bit vectors (slots
//     with a child, slots that start a run of identical leaves) and two
//     base indexes, so that a popcount finds the child or the leaf;
//   - leaves of two kinds: a record leaf, when every address of the slot
//     lies in one MMDB network or in a gap, holds the record index and
//     the prefix length (as a Poptrie leaf holds its next hop) and ends
//     the lookup; otherwise a leaf names the first range overlapping its
//     slot and how many more start inside it (at most 14), and the
//     lookup finishes by counting the sorted range starts at or below
//     the address. The trie stops descending as soon as a slot holds few
//     ranges, so its size follows the number of ranges, not the depth of
//     the networks.
//
// Every array is a flat slice of integers or of pointer-free structs, so
// the garbage collector never scans the engine, and a lookup is a short
// chain of dependent loads: the top level, a direct-level word or a node
// or two, then a record leaf or a range, a 16-byte record, and the
// 16-byte detail it shares with other records (the organisation and the
// provider, as slices of one shared string, and the first and last seen
// days). Records are numbered by how many ranges use them, and details by
// the first record that uses them, so the few thousand records that most
// networks share, and their details, sit together in cache. An IPv4
// range's start and record share one uint64; an IPv6 range keeps the
// high half of its start beside its record (16 bytes), with low halves
// stored only for the few leading starts inside ::/64 that need one,
// since ipintel widens IPv6 to /64.
// Either way the scan of a leaf's starts, the record index and the next
// start that bounds the range share cache lines. Lookup does not
// allocate, lock, call through an interface or decode; it returns the
// 88-byte Record by value.
//
// Memory: on a database built from the shared feed corpus by `ipintel
// build` (19 MB file, 1.93M networks, 763k ranges, 102k distinct records)
// the engine takes 13.4 MB: 6.9 bytes per MMDB network, 0.70 times the
// file. Open takes about 0.2 s, most of it walking the tree and decoding
// the 102k records.
//
// Speed, median ns/op of one lookup on one core of a 2-core AMD EPYC VM,
// all implementations on the same database and the same 64k precomputed
// addresses (scripts/bench.sh: go test -bench -count=6, benchstat;
// 2026-11-22):
//
//	queries  ipintel  maxminddb-golang      bart             netipx  cidranger
//	                  Lookup+Decode         Table.Lookup     Contains
//	v4rand     22.4    223  (9.96x slower)   41.3 (1.8x)      115    1574
//	v4hit      48.4    508  (10.5x)         165   (3.4x)      122    4676
//	v6         56.7    379   (6.7x)          66.8 (1.2x)      117    2213
//
// With both cores (BenchmarkLookupParallel, a separate run) ipintel does
// 11.6, 24.6 and 29.1 ns/op, 1.9 to 2.3 times its one-core throughput.
//
// Where the time goes. On this VM a chain of dependent loads costs
// about 4 ns a step within 1 MiB, 11 ns within 2 MiB, 31 ns within 8 MiB
// and 120 ns beyond 16 MiB, and a branch that waits on a load and is
// mispredicted stops the processor from overlapping one lookup with the
// next. The engine is therefore laid out to keep each lookup's first
// reads in the smaller arrays (the IPv6 top level and direct levels, the
// most used records) and to end most IPv4 lookups at the top level.
//
// For random IPv4 addresses the index is not the limit: a loop of the
// trie walk and range scan alone runs at 7 ns a lookup, 9 ns with the
// record read. The rest goes to the branch on whether there is a record
// (4 ns), building the netip.Prefix (2 ns), and reading the netip.Addr
// and building the Record (8 ns). A Record whose network is computed on
// demand, as maxminddb-golang's Result.Prefix is, measured only 7%
// faster: too little to give up Network as a plain field. Record leaves
// matter most: a variant whose every leaf named a range (one fewer
// branch, one more load) was half again as slow on random IPv4
// addresses, and a summary level in front of the IPv4 top level (one
// more branch) 18% slower.
//
// An IPv6 lookup of this database walks the top level, one to three
// direct levels under the dense /16s and sometimes a node before its
// range; each hop is a load and a branch on what it found, and the walk
// and scan take three quarters of the lookup. bart, which returns only a
// value and no network, is 1.2 times slower there.
//
// How the address is read matters as much as the index. netip.Addr.As16
// stores the address as two 8-byte halves, and its result is then copied
// as one 16-byte word: a load the processor cannot forward from the two
// stores, so it waits for them to retire, on the critical path of every
// IPv6 lookup. Reading the halves through AsSlice instead, which inlines
// and keeps its array on the stack, took 11 ns (16%) off an IPv6 lookup.
// Branch-free variants of the IPv6 walk were slower, not faster: with a
// fixed number of direct levels, no nodes and a fixed-length scan the
// walk and scan took 72 ns instead of 41, and a fixed-length scan alone
// 45 instead of 41. Their extra instructions most likely leave room for
// fewer lookups in flight while loads wait, which costs more than the
// mispredicted branches they remove.
//
// On the synthetic benchmark database (44 MB file, 5.3M networks, 1.46M
// ranges; shaped like the peer table of DESIGN.md §9) the engine takes
// 0.38 times the file (3.2 bytes per network), Open 0.19 s, and one
// lookup (-count=5):
//
//	queries  ipintel  maxminddb-golang      bart
//	v4rand     36.1    410  (11.3x slower)   49.3 (1.4x)
//	v4hit      40.7    661  (16.2x)         190   (4.7x)
//	v6         51.0    633  (12.4x)         408   (8.0x)
//
// These figures predate the IPv6 address-read fix above, which took a
// further 16% off IPv6 lookups on this database (A/B of the two builds,
// 6 runs each, p=0.004).
//
// Run the benchmarks with
//
//	go test -run='^$' -bench=BenchmarkLookup -benchmem -count=5 ./lookup
//
// and set IPINTEL_BENCH_DB to a database built by `ipintel build`; without
// it they generate, once, a deterministic synthetic database of about
// 756k prefixes (605k IPv4 with 200k abuse /32s, 151k IPv6) in
// os.TempDir().
package lookup
