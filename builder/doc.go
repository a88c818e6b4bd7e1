// Package builder merges parsed feed entries into one MaxMind-compatible
// MMDB (docs/design.md §4) and runs whole builds from a config (§6): fetch,
// parse, sanity gates, merge, and an atomic write.
//
// # Usage
//
// A build from a config file:
//
//	cfg, err := builder.LoadConfig("ipintel.toml")
//	...
//	sum, err := builder.Run(ctx, cfg, builder.RunOptions{Out: "ipintel.mmdb"})
//
// The lower level, for entries from anywhere:
//
//	b, _ := builder.New(builder.Options{BuildEpoch: 1767225600})
//	b.AddFeed(builder.Feed{Name: "tor-exits", Kind: "tor", Weight: 0.9})
//	b.Add("tor-exits", feeds.Entry{Prefix: netip.MustParsePrefix("45.0.1.1/32")})
//	b.WriteTo(w)
//
// # Semantics
//
// Every address gets the union of the categories of the entries covering
// it; its ASN and organisation come from the most specific prefix of the
// asn feeds (ties to the feed declared first, then the lowest ASN, then
// the smallest organisation); asn-list feeds flag the addresses whose own
// ASN they list; allow feeds clear the risk categories, set
// is_allowlisted and a score of 0, keeping the ASN and is_crawler. sources
// names every feed that set a category (asn-list and allow feeds included;
// feeds whose category an allowlist cleared stay listed, so explain can
// show what was suppressed), never asn feeds. risk_score is the noisy-OR
// 100 × (1 − Π(1 − wᵢ)) over the contributing feeds, each counted once
// with its effective weight, rounded half up (see [Score]). IPv6 entries
// longer than the ipv6_prefix are widened to it, for every kind of feed.
// Reserved space (see [IsReserved]) is masked out of the output unless
// keep_reserved is set: an entry partly inside it keeps its public part,
// and an ASN prefix straddling it keeps its length for the most-specific
// rule. IPv6 entries inside the blocks an MMDB aliases to IPv4 are dropped
// (see [IsAliased]).
//
// The result does not depend on the order of entries, nor on the order of
// feeds other than asn feeds (whose order breaks ties).
//
// # History
//
// With [Options.History] (Run: a state_dir), the merge joins each feed's
// entries with the history of the previous builds: an entry keeps the
// first build date that listed it; one that vanished counts on for its
// feed's [Feed.Retain] days at w × (1 − age/retain); every network with
// a risk category is dated with network_first_seen and network_last_seen
// from the entries still counting there. Each entry also goes into a date
// layer of its feed, keyed by its categories, dates and fade, so the
// sweep knows its dates without multiplying the category layers. Run
// writes the updated history ([Builder.History]) only after the database
// is published.
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
// share an output file or a cache directory.
//
// # Performance
//
// The full corpus of ../shared/feeds (scripts/shared-feeds.toml: 43 feeds,
// 1.01M records, 1.16M prefixes, 1.93M networks written, a 19 MB file)
// builds in about 6 s on two cores (5.5-6 CPU seconds) with a peak RSS
// under 500 MiB. Two feeds are fetched and parsed ahead while the previous
// one is gated and added; most of the time is mmdbwriter inserting the
// networks, which a KeyGenerator keyed by record identity keeps free of
// hashing.
package builder
