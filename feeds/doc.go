// Package feeds parses public IP-intelligence feeds in their published
// formats and fetches them over HTTP(S) or from files.
//
// Every format of docs/design.md §3 has a parser registered under its [Format]
// name: ip-list, spamhaus-drop, ipsum, tor-exit-addresses, tor-consensus,
// onionoo, ip2asn, pyasn, asn-list, csv, ipverse-json, mmdb, json,
// proxy-list, vpn-servers, asn-names and geofeed. [Parse]
// turns a stream into normalised [Entry] values: prefixes masked, IPv4
// unmapped from IPv4-in-IPv6, ranges split into the minimal set of
// prefixes. Each parser is lenient per line and strict per file: a bad line
// becomes a [*LineError] naming the source, the line number and the text,
// and parsing goes on; the valid entries are never lost to one bad line.
// A body that is not the feed at all (empty, an HTML error page, a JSON
// document without an address) fails as a whole with [ErrNotFeed], so that
// the caller keeps its last good copy.
//
// # Guarantees
//
// Every prefix a parser emits in an [Entry] is valid, masked, never
// IPv4-mapped and never zoned (asn-list and asn-names entries carry an
// ASN and no prefix). No input makes a parser panic: each format has a
// fuzz target that checks these invariants. A parser reads only the
// [io.Reader] it is given, so the same bytes always give the same entries
// in the same order, and [Stats] counts them as `ipintel feeds check` does
// (docs/design.md §3).
//
// # Zones
//
// A zone ("fe80::1%eth0") names a link of the host that wrote it, not a
// network, so no feed can say anything about it that holds elsewhere. A
// zoned address is therefore not a public address: [ParseAddr],
// [ParsePrefix] and [ParseNet] reject it, and every parser reports a line
// holding one as a [*LineError] and goes on. The lookup package applies
// the same rule: a zoned address is never found there.
//
// # Usage
//
//	f, err := os.Open("firehol_level1.netset")
//	...
//	st, err := feeds.Parse(f, feeds.Options{Format: feeds.FormatIPList, Source: f.Name()},
//		func(e feeds.Entry) { set.AddPrefix(e.Prefix) })
//	for _, le := range lineErrors(err) { log.Print(le) } // *feeds.LineError values
//
// Input compressed with gzip is recognised by its magic bytes, whatever
// the file is called. Parsers stream: memory does not grow with the size
// of the input (the mmdb format, which needs random access, is the one
// exception: the file is read whole).
//
// # Fetching
//
// A [Fetcher] downloads feeds with conditional GET, retries, time-outs and
// a size cap into a cache directory that keeps the last good copy of every
// feed, whether it came from a URL or a file. A download is a candidate
// until the caller commits it, so a truncated or empty feed can be checked
// before it replaces the copy the previous build used.
//
// # Concurrency
//
// Parse may be called from several goroutines at once on different
// readers. A Fetcher is safe for concurrent use on different feed names.
package feeds
