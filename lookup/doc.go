// Package lookup answers IP intelligence queries in-process: it reads an
// MMDB (ipintel's own, or MaxMind's Anonymous-IP, Anonymous-Plus, ASN and
// ISP databases) once, flattens it into an immutable in-memory engine, and
// classifies an address without allocating, locking or decoding. It is
// the part of ipintel a service embeds, so it imports maxminddb-golang and
// the standard library only: a service never compiles in the writer
// (docs/design.md §1).
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
// looked up as IPv4. A zoned address (fe80::1%eth0) is never found: a
// zone names a link, not a network (see [DB.Lookup]). [DB.All] walks
// every network, for export and diff.
// [VerifyFile] checks a file thoroughly before it is deployed.
//
// # Guarantees
//
//   - Fidelity. For every unzoned address, Lookup finds the network and the
//     record that maxminddb-golang's Reader finds in the same file,
//     following the same IPv4 aliases; the package's differential tests
//     check it against the reader and an independent oracle.
//   - Integrity. A [DB] that [Open] returns passes [DB.Verify]; a file
//     [Open] cannot flatten is an error, never a panic (FuzzOpenBytes).
//   - Atomic reloads. A [Handle] serves either the old DB or the new one,
//     whole; a failed reload leaves the old one serving.
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
//     and 16 bits for IPv6 (10 bits for small databases; the IPv4 level
//     widens, up to 24 bits, when its records need more bits);
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
// An IPv4 range is 4 bytes on the lookup path: the low bits of its start
// below the top-level slot and its record index; the absolute starts,
// which only [DB.All] and [DB.Verify] read, are kept apart. An IPv6
// range keeps the high half of its start beside its record (16 bytes),
// with low halves stored only for the few leading starts inside ::/64
// that need one, since ipintel widens IPv6 to /64.
//
// Every array is a flat slice of integers or of pointer-free structs, so
// the garbage collector never scans the engine. A lookup is a short chain
// of dependent loads: the top level, then for addresses in dense regions
// one or more direct-level words or nodes, then a record leaf or one or
// two cache lines of ranges, then a 16-byte record and the 16-byte
// detail it shares with other records (the organisation and the
// provider, as slices of one shared string, and the first and last seen
// days). An address in an alias of the IPv4 space (6to4, Teredo) is
// looked up again as IPv4. Records are numbered by how many ranges use
// them, and details by the first record that uses them, so the records
// most networks share, and their details, sit together in cache.
//
// Lookup does not allocate, lock, call through an interface or decode;
// it returns the 88-byte Record by value. [DB.LookupBatch] returns the
// same answers for many addresses at once, without allocating: it
// carries groups of addresses through the lookup's stages together, so
// that the memory reads of neighbouring lookups overlap; it pays when
// the engine's arrays are not all in cache.
//
// For an ipintel database the engine stays below the size of the file it
// was read from (docs/design.md §9); [DB.Bytes] reports it. Open costs one
// walk of the search tree and one decode per distinct record. Measured
// figures, with the machine and the date, are in the README;
// scripts/bench.sh reproduces them.
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
