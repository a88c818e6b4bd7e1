package feeds

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/ipintel/ipintel/schema"
)

// The mmdb format imports a MaxMind DB file written by someone else:
// GeoLite2-ASN, GeoIP2-ISP, GeoIP2-Anonymous-IP, GeoIP-Anonymous-Plus,
// GeoIP-Residential-Proxy, or a database ipintel built. One record is one
// network of the search tree whose data ipintel can use; it yields one
// Entry with:
//
//	Prefix      the network; IPv4 networks of an IPv6 database come out once,
//	            as IPv4 (the ::ffff:0:0/96, 2001::/32 and 2002::/16 aliases
//	            of the IPv4 subtree are not walked)
//	ASN, Org    autonomous_system_number, autonomous_system_organization
//	            (GeoIP2-ISP: organization, then isp, when the latter is absent)
//	Categories  is_tor_exit_node, is_anonymous_vpn, is_public_proxy,
//	            is_residential_proxy, is_hosting_provider, is_abuse,
//	            is_crawler, is_allowlisted; every network of a
//	            GeoIP-Residential-Proxy database is a residential proxy
//
// Other keys are ignored. A network that yields none of these (MaxMind's
// databases fill the gaps between networks with empty maps; a City database
// has none of the keys; test databases hold bare strings) is counted in
// Stats.Skipped rather than emitted, so that a feed's kind is never applied
// to filler. A map whose known keys have other types is a bad record,
// reported with its network number as the line. Line is the 1-based number
// of the network in walk order, skipped networks included.
//
// This is the one format that is not streamed: an MMDB is a search tree
// with pointers into a data section and its metadata sits at the end, so it
// needs random access to the whole file, which is read into memory. Each
// distinct data record is decoded once (records are shared by many
// networks). A corrupt file is an error, never a panic: the database must
// open and pass maxminddb's Reader.Verify (the library's advice before
// decoding an untrusted file; it also requires a non-empty description in
// the metadata), and a first walk of the tree, decoding nothing, must end
// within the leaves its node count allows; only then are entries emitted.

func init() { register(FormatMMDB, parseMMDB) }

var (
	errMMDBRecord      = errors.New("record field of the wrong type")
	errMMDBSharedNodes = errors.New("search tree has more leaves than nodes allow (shared nodes)")
)

// mmdbRecord is the part of a record ipintel understands.
type mmdbRecord struct {
	schema.CategoryFlags
	ASN          uint32 `maxminddb:"autonomous_system_number"`
	ASOrg        string `maxminddb:"autonomous_system_organization"`
	Organization string `maxminddb:"organization"`
	ISP          string `maxminddb:"isp"`
}

// mmdbDecoded is what one data record turns into.
type mmdbDecoded struct {
	entry Entry // Prefix and Line unset
	skip  bool  // nothing ipintel reads
	err   error
}

var mmdbRecordType = reflect.TypeFor[mmdbRecord]()

func parseMMDB(r io.Reader, p *parser) error {
	buf, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read mmdb: %w", err)
	}
	db, err := maxminddb.OpenBytes(buf)
	if err != nil {
		return fmt.Errorf("open mmdb: %w", err)
	}
	if err := db.Verify(); err != nil {
		return fmt.Errorf("verify mmdb: %w", err)
	}
	var implied schema.Category
	if strings.Contains(db.Metadata.DatabaseType, "Residential-Proxy") {
		implied = schema.CategoryResidentialProxy
	}
	cache := make(map[uintptr]mmdbDecoded)
	if err := mmdbCheckLeaves(db); err != nil {
		return err
	}
	n := 0
	for res := range db.Networks() {
		if err := res.Err(); err != nil {
			return fmt.Errorf("walk mmdb at record %d: %w", n+1, err)
		}
		n++
		pfx := ip2asnUnmap(res.Prefix())
		if !pfx.IsValid() {
			p.bad(n, nil, fmt.Errorf("invalid network %v", res.Prefix()))
			continue
		}
		d, ok := cache[res.Offset()]
		if !ok {
			var rec mmdbRecord
			err := res.Decode(&rec)
			if te, ok := errors.AsType[maxminddb.UnmarshalTypeError](err); ok && te.Type == mmdbRecordType {
				d.skip = true
			} else if err != nil {
				d.err = fmt.Errorf("%w: %w", errMMDBRecord, err)
			} else {
				d.entry = rec.entry()
				d.entry.Categories |= implied
				d.skip = d.entry.ASN == 0 && d.entry.Org == "" && d.entry.Categories == 0
			}
			cache[res.Offset()] = d
		}
		switch {
		case d.skip:
			p.stats.Skipped++
			continue
		case d.err != nil:
			p.bad(n, []byte(pfx.String()), d.err)
			continue
		}
		e := d.entry
		e.Prefix, e.Line = pfx, n
		p.stats.Records++
		p.emit(e)
	}
	return nil
}

// mmdbCheckLeaves walks the tree once without decoding anything, so that a
// tree the walk could not finish is rejected before any entry is emitted.
// Verify memoises the nodes it has seen, so a tree whose nodes are shared by
// several parents passes it, yet walking every path of such a tree takes up
// to 2^128 steps. A tree of n nodes has at most n+1 leaves when each node is
// reached once (Networks reaches the IPv4 subtree once, through ::/96), so
// the walk counts leaves, empty ones included, and gives up past that bound.
func mmdbCheckLeaves(db *maxminddb.Reader) error {
	maxLeaves := db.Metadata.NodeCount + 1
	var leaves uint
	for res := range db.Networks(maxminddb.IncludeNetworksWithoutData()) {
		if err := res.Err(); err != nil {
			return fmt.Errorf("walk mmdb: %w", err)
		}
		if leaves++; leaves > maxLeaves {
			return fmt.Errorf("walk mmdb: %w", errMMDBSharedNodes)
		}
	}
	return nil
}

// entry maps a decoded record onto an Entry.
func (rec *mmdbRecord) entry() Entry {
	e := Entry{ASN: rec.ASN, Org: rec.ASOrg}
	if e.Org == "" {
		e.Org = rec.Organization
	}
	if e.Org == "" {
		e.Org = rec.ISP
	}
	e.Categories = rec.Categories()
	return e
}
