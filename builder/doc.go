// Package builder turns parsed feed entries into one MaxMind-compatible
// MMDB and runs whole builds from a config: fetch, parse, sanity gates,
// merge, whole-database gates, and an atomic write. It is the only
// ipintel package that writes MMDB files, so a service that only reads
// them (package lookup) never compiles in the writer.
//
// # Usage
//
// A build from a config file (docs/design.md §6):
//
//	cfg, err := builder.LoadConfig("ipintel.toml")
//	...
//	sum, err := builder.Run(ctx, cfg, builder.RunOptions{Out: "ipintel.mmdb"})
//
// The lower level, for entries from anywhere:
//
//	b, _ := builder.New(builder.Options{BuildEpoch: 1767225600})
//	b.AddFeed(builder.Feed{Name: "tor-exits", Kind: schema.KindTor, Weight: 0.9})
//	b.Add("tor-exits", feeds.Entry{Prefix: netip.MustParsePrefix("45.0.1.1/32")})
//	b.WriteTo(w)
//
// # Guarantees
//
// The merge implements docs/design.md §4: coverage, the ASN rule,
// IPv6 aggregation, reserved space, clearing, the score, the provider,
// confidence, block inference and history. In particular:
//
//   - Determinism. The same entries, [Options] (with BuildEpoch set) and
//     history give byte-identical files. The result does not depend on
//     the order of entries, nor on the order of feeds, except where
//     docs/design.md §4 breaks a tie by it (the ASN, the organisation,
//     the provider: the feed listed first wins).
//   - Every network is looked up as exactly one record: the sweep gives
//     each elementary interval between two boundaries one record, so the
//     networks written never overlap.
//   - Nothing lost. [Run] publishes only a database whose feeds passed
//     their sanity gates or fell back to their last good copy, and that
//     passes the whole-database gates ([Gates]); otherwise it returns a
//     [*GateError] or a [*DatabaseGateError] and the previous files stay
//     untouched. Each feed's outcome is a [schema.Gate] in the manifest
//     the file carries ([schema.Manifest]).
//   - Atomic publication. The database and its [[output]] companions
//     are written as synced temporary files and renamed together; a
//     failed, gated or cancelled build publishes nothing. The history is
//     written only after the database is published.
//
// Reserved space (see [IsReserved]) is masked out unless keep_reserved is
// set: an entry partly inside it keeps its public part. IPv6 entries
// inside the blocks an MMDB aliases to IPv4 are dropped (see [IsAliased]).
//
// # History
//
// With [Options.History] (Run: a state_dir), the merge joins each feed's
// entries with the history of the previous builds: an entry keeps the
// first build date that listed it; one that vanished counts on for its
// feed's [Feed.Retain] days at w × (1 − age/retain); every network with
// a risk category is dated with network_first_seen and network_last_seen
// from the entries still counting there. Run writes the updated history
// ([Builder.History]) only after the database is published.
//
// # Algorithm
//
// Add keeps, per feed, the spans its entries cover, and the asn entries in
// one table. WriteTo resolves the asn table to disjoint spans with a stack
// sweep over the prefixes sorted by start (prefixes nest or are disjoint),
// then sweeps once over every boundary of every feed's spans, the ASN spans
// and the reserved masks: between two boundaries nothing changes, so each
// elementary interval has one record, deduplicated by content. Adjacent
// intervals with the same record are joined, split into prefixes and
// inserted into mmdbwriter in address order; being disjoint, the inserts
// never paint over one another.
//
// # Concurrency
//
// A [Builder] is not safe for concurrent use. [Run] and [LoadConfig] may
// run concurrently for different configs and outputs; two Runs must not
// share an output file or a cache directory. Within a Run, two feeds are
// fetched and parsed ahead of the one being gated and added; the gates,
// the fallbacks and the merge stay in config order, so the result is that
// of a sequential build.
//
// # Performance
//
// The merge reads every boundary once, so its time grows with the number
// of entries and networks, not with how they overlap. Most of a build's
// time is mmdbwriter inserting the networks, which a key generator keyed
// by record identity keeps free of hashing. A full build of every bundled
// snapshot stays within the bounds of docs/design.md §9; the README's
// performance section has the measured figures, with the machine and the
// date.
package builder
