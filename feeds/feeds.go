package feeds

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"

	"github.com/ipintel/ipintel/schema"
)

// Format names a feed file format, as written in the config's format key.
type Format string

// The supported formats. Each parser is described in its own file; the
// comment on each constant says what one record of the format is.
const (
	// FormatIPList is a text list of one address, CIDR or "a-b" range a
	// line, with '#' and ';' comments (FireHOL, X4BNet, ipverse …).
	FormatIPList Format = "ip-list"
	// FormatSpamhausDrop is Spamhaus DROP/EDROP/DROPv6, as text
	// ("cidr ; SBL…") or NDJSON: one CIDR a record.
	FormatSpamhausDrop Format = "spamhaus-drop"
	// FormatIPSum is stamparm's ipsum.txt, "addr<TAB>count", kept when the
	// count reaches Options.MinCount.
	FormatIPSum Format = "ipsum"
	// FormatTorExitAddresses is the TorDNSEL exit list: one ExitAddress a
	// record.
	FormatTorExitAddresses Format = "tor-exit-addresses"
	// FormatTorConsensus is a Tor network-status consensus (ns or
	// microdesc): the addresses of relays flagged Exit and not BadExit.
	FormatTorConsensus Format = "tor-consensus"
	// FormatOnionoo is an Onionoo details document: the exit addresses of
	// exit relays.
	FormatOnionoo Format = "onionoo"
	// FormatIP2ASN is iptoasn's ip2asn TSV: an inclusive range with its
	// ASN and organisation.
	FormatIP2ASN Format = "ip2asn"
	// FormatPyASN is a pyasn "prefix<TAB>asn" table.
	FormatPyASN Format = "pyasn"
	// FormatASNList is a list of AS numbers (X4BNet ASN.txt, bad-asn-list
	// CSV, Spamhaus ASN-DROP NDJSON): entries carry an ASN and no prefix.
	FormatASNList Format = "asn-list"
	// FormatCSV is a CSV of CIDRs or start,end ranges (ipcat, jhassine).
	FormatCSV Format = "csv"
	// FormatIPVerseJSON is ipverse/asn-ip's per-ASN aggregated.json.
	FormatIPVerseJSON Format = "ipverse-json"
	// FormatMMDB is a MaxMind DB file (GeoLite2-ASN, GeoIP2-Anonymous-IP).
	FormatMMDB Format = "mmdb"
	// FormatJSON is any JSON document: every string value, at any depth,
	// that is an address or CIDR is a record (AWS ip-ranges.json, GCP
	// cloud.json, Google and OpenAI crawler lists, Azure ServiceTags …).
	// Options.JSONKeys keeps only the values under the named keys.
	FormatJSON Format = "json"
	// FormatProxyList is a list of one proxy a line:
	// "[scheme://][user:pass@]host:port", "[v6]:port", or a bare address
	// or CIDR, optionally followed by '|'- or ';'-separated columns
	// (monosans, TheSpeedX, Avastel lists).
	FormatProxyList Format = "proxy-list"
	// FormatVPNServers is gluetun's servers.json: every server address of
	// every VPN provider, with the provider's name in Entry.Provider.
	FormatVPNServers Format = "vpn-servers"
	// FormatASNNames is an ASN to name table ("ASN NAME, CC" as in RIPE's
	// asn.txt and potaroo's autnums): entries carry an ASN and its
	// organisation, and no prefix.
	FormatASNNames Format = "asn-names"
	// FormatGeofeed is an RFC 8805 geofeed CSV: the prefix in the first
	// column of each row.
	FormatGeofeed Format = "geofeed"
)

// Formats returns every supported format, sorted.
func Formats() []Format {
	out := make([]Format, 0, len(parsers))
	for f := range parsers {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

// Entry is one normalised result of a feed: a prefix (masked, with IPv4
// unmapped), and for ASN formats the ASN and organisation.
//
// Entries of the asn-list and asn-names formats carry an ASN and no
// prefix: Prefix is the zero value. Entries of the vpn-servers format carry
// the VPN provider's display name in Provider. Entries of the mmdb format may carry Categories read from the
// imported record (is_tor_exit_node and so on).
type Entry struct {
	Prefix     netip.Prefix
	ASN        uint32
	Org        string
	Categories schema.Category
	Provider   string // vpn-servers: the provider, such as "Mullvad"
	Line       int    // 1-based line (or record number for binary formats)
}

// LineError reports one rejected line of a feed. Parsers skip the line and
// go on; the errors are returned joined after the valid entries.
type LineError struct {
	Source string // file name or feed name, as given in Options.Source
	Line   int    // 1-based
	Text   string // the line, truncated to maxErrorText bytes
	Err    error
}

var _ error = (*LineError)(nil)

const maxErrorText = 120

func (e *LineError) Error() string {
	src := e.Source
	if src == "" {
		src = "input"
	}
	return fmt.Sprintf("%s:%d: %v: %q", src, e.Line, e.Err, e.Text)
}

// Unwrap returns the reason the line was rejected.
func (e *LineError) Unwrap() error { return e.Err }

// Options control one Parse call. The zero value of every field means its default.
type Options struct {
	// Format is required.
	Format Format
	// Source names the input in errors (a path or a feed name).
	Source string
	// MinCount is the ipsum threshold: lines whose count is lower are
	// skipped (neither records nor invalid). Default 1.
	MinCount int
	// CIDRColumn, StartColumn and EndColumn select csv columns by 0-based
	// index or header name. With none set, a header naming a cidr, network
	// or prefix column selects it, otherwise columns 0 and 1 are a range.
	CIDRColumn, StartColumn, EndColumn string
	// JSONKeys, for the json format, keeps only the string values whose
	// object key is one of these names (the elements of an array under
	// such a key included); a kept value that is not an address or CIDR
	// is then a bad line. Default: every string value at any depth that
	// is an address or CIDR, and nothing else.
	JSONKeys []string
	// MaxLineErrors caps how many *LineError values are kept in the
	// returned error (all are counted in Stats.Invalid). Default 100.
	MaxLineErrors int
}

// Stats counts what one Parse call read.
type Stats struct {
	// Records is the number of data records accepted (lines for line
	// formats, relays for Tor formats, networks for mmdb).
	Records int
	// Invalid is the number of rejected lines or records.
	Invalid int
	// Skipped counts records deliberately left out: ipsum lines below
	// MinCount, ip2asn rows of ASN 0, Tor relays that are not exits.
	Skipped int
}

// ErrUnknownFormat is returned by Parse for a format it does not know.
var ErrUnknownFormat = errors.New("unknown feed format")

// parseFunc is the shape of every format's parser. It reads r (already
// decompressed) and calls emit for every entry and p.bad for every bad line.
type parseFunc func(r io.Reader, p *parser) error

// parsers maps each format to its parser; each format's file registers itself.
var parsers = map[Format]parseFunc{}

func register(f Format, fn parseFunc) { parsers[f] = fn }

// parser carries the state shared by all format parsers during one Parse.
type parser struct {
	opts  Options
	yield func(Entry)
	stats Stats
	errs  []error
}

// emit hands one entry to the caller.
func (p *parser) emit(e Entry) { p.yield(e) }

// bad records a rejected line.
func (p *parser) bad(line int, text []byte, err error) {
	p.stats.Invalid++
	if len(p.errs) >= p.opts.MaxLineErrors {
		return
	}
	if len(text) > maxErrorText {
		text = text[:maxErrorText]
	}
	p.errs = append(p.errs, &LineError{Source: p.opts.Source, Line: line, Text: string(text), Err: err})
}

// Parse reads a feed in opts.Format from r, which may be gzip-compressed
// (detected by its magic bytes), and calls yield for every entry in input
// order. Bad lines are skipped and returned as *LineError values joined into
// the error; an I/O error, a broken gzip stream or an unknown format is
// returned as well. Stats are valid in every case.
//
// A body that is not the feed at all, such as an HTTP error page saved in
// its place or an empty download, is a file error wrapping [ErrNotFeed]:
// see [ErrNotFeed] for what counts.
func Parse(r io.Reader, opts Options, yield func(Entry)) (Stats, error) {
	fn, ok := parsers[opts.Format]
	if !ok {
		return Stats{}, fmt.Errorf("%w %q", ErrUnknownFormat, opts.Format)
	}
	if opts.MinCount <= 0 {
		opts.MinCount = 1
	}
	if opts.MaxLineErrors <= 0 {
		opts.MaxLineErrors = 100
	}
	p := &parser{opts: opts, yield: yield}
	rd, err := decompress(r)
	if err == nil {
		rd, err = checkBody(rd, opts.Format)
	}
	if err != nil {
		return p.stats, fmt.Errorf("%s: %w", sourceName(opts.Source), err)
	}
	if err := fn(rd, p); err != nil {
		p.errs = append(p.errs, fmt.Errorf("%s: %w", sourceName(opts.Source), err))
	}
	return p.stats, errors.Join(p.errs...)
}

func sourceName(s string) string {
	if s == "" {
		return "input"
	}
	return s
}
