package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math/bits"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"go4.org/netipx"

	"github.com/ipintel/ipintel/lookup"
	"github.com/ipintel/ipintel/schema"
)

func init() {
	register(&command{
		Name:      "export",
		UsageLine: "ipintel export -db file -format cidr|csv|jsonl|nginx-geo|ipset [-category c,...] [-set-name name]",
		Short:     "export aggregated networks for firewalls and proxies",
		Long: `
Export writes the networks of the chosen categories, aggregated into the
fewest CIDRs (adjacent and nested networks merged), in a format a firewall
or proxy reads:

	cidr       one CIDR per line, the union of the categories, IPv4 first
	csv        network,category,first_seen,last_seen rows (a header line
	           first), per category; the dates are the networks'
	           network_first_seen and network_last_seen ("" when the
	           database has none), networks of one category and dates merged
	jsonl      {"network":…,"category":…,"network_first_seen":…,
	           "network_last_seen":…} per line, likewise
	nginx-geo  a geo block for nginx's http {} context:
	             geo $ipintel_category { default ""; 192.0.2.0/24 "tor_exit,hosting"; … }
	           the value is the comma-separated categories of the client's
	           network ("" when none), so "if ($ipintel_category)" tests for
	           any and "~ tor_exit" for one; networks are split so that
	           each has exactly one value. -set-name renames the variable.
	ipset      "ipset restore" input: a hash:net set NAME (family inet) and
	           NAME-v6 (family inet6), created with -exist and flushed
	           first so the file can be applied again. -set-name sets NAME
	           (default ipintel).

-category takes a comma-separated list of categories (tor_exit, vpn,
public_proxy, residential_proxy, hosting, abuse, crawler, allow), "risk"
for the six risk categories (the default) or "all".

Every format answers as lookup does, IPv6 aliases of IPv4 included. In
an IPv6 database MMDB readers and lookup answer 6to4 addresses
(2002::/16, RFC 3056) and Teredo addresses (2001::/32, RFC 4380) from
the IPv4 network held in their 32 bits after the prefix, so each IPv4
network a.b.c.d/n is also written as 2002:aabb:ccdd::/(16+n) and
2001:0:aabb:ccdd::/(32+n). (In a Teredo address those bits are the
Teredo server's address; the client's, stored inverted in the low 32
bits, is not what readers look up, so neither is it exported.) The aliases
are written only when the database answers them. IPv4-mapped
(::ffff:0:0/96) and IPv4-compatible (::/96) forms are not written: lookup
and nginx take a mapped address as the IPv4 address it holds, packet
filters see IPv4 traffic as IPv4, and RFC 4291 deprecates the compatible
form, which no packet carries.`,
		Flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) int {
			db := fs.String("db", "", "database `file` (required)")
			format := fs.String("format", "", "output `format`: cidr, csv, jsonl, nginx-geo or ipset (required)")
			category := fs.String("category", "risk", "`categories` to export: a comma-separated list, risk or all")
			setName := fs.String("set-name", "", "ipset set `name` (default ipintel) or nginx variable name (default ipintel_category)")
			return func(ctx context.Context, e *env, args []string) int {
				if len(args) > 0 {
					return report(e, "export", usageError("unexpected arguments %q", args))
				}
				return runExport(ctx, e, *db, *format, *category, *setName)
			}
		},
	})
}

var (
	ipsetNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,28}$`) // ipset allows 31; "-v6" is appended
	nginxVarRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// parseCategories parses -category.
func parseCategories(s string) (lookup.Category, error) {
	var c lookup.Category
	for name := range strings.SplitSeq(s, ",") {
		switch name = strings.TrimSpace(name); name {
		case "risk":
			c |= lookup.CategoryRisk
		case "all":
			for _, x := range schema.Categories() {
				c |= x
			}
		default:
			x, ok := schema.ParseCategory(name)
			if !ok {
				return 0, usageError("unknown category %q", name)
			}
			c |= x
		}
	}
	return c, nil
}

func runExport(ctx context.Context, e *env, dbPath, format, category, setName string) int {
	if dbPath == "" {
		return report(e, "export", usageError("-db is required"))
	}
	cats, err := parseCategories(category)
	if err != nil {
		return report(e, "export", err)
	}
	switch format {
	case "cidr", "csv", "jsonl":
		if setName != "" {
			return report(e, "export", usageError("-set-name applies to -format ipset and nginx-geo only"))
		}
	case "ipset":
		if setName == "" {
			setName = "ipintel"
		}
		if !ipsetNameRE.MatchString(setName) {
			return report(e, "export", usageError("bad -set-name %q for ipset (letters, digits, _ . -; at most 28)", setName))
		}
	case "nginx-geo":
		if setName == "" {
			setName = "ipintel_category"
		}
		if !nginxVarRE.MatchString(setName) {
			return report(e, "export", usageError("bad -set-name %q for an nginx variable", setName))
		}
	case "":
		return report(e, "export", usageError("-format is required"))
	default:
		return report(e, "export", usageError("unknown -format %q", format))
	}
	db, err := lookup.Open(dbPath)
	if err != nil {
		return report(e, "export", err)
	}
	w := bufio.NewWriter(e.stdout)
	switch format {
	case "nginx-geo":
		err = exportNginx(ctx, w, db, cats, setName)
	case "csv", "jsonl":
		err = exportDated(ctx, w, db, cats, format)
	default:
		err = exportSets(ctx, w, db, cats, format, setName)
	}
	if err != nil {
		return report(e, "export", err)
	}
	if err := w.Flush(); err != nil {
		return report(e, "export", fmt.Errorf("write output: %w", err))
	}
	return exitOK
}

// ipv4AliasRoots are the IPv6 networks that mmdbwriter points at the
// IPv4 subtree of an IPv6 database (besides ::ffff:0:0/96; see the
// command's help): an address in one is answered from the IPv4 address
// in the 32 bits that follow the root's prefix.
var ipv4AliasRoots = []netip.Prefix{
	netip.MustParsePrefix("2002::/16"), // 6to4, RFC 3056
	netip.MustParsePrefix("2001::/32"), // Teredo, RFC 4380
}

// ipv4Alias returns the alias of the IPv4 network p under root: p's
// address in the 32 bits after root's prefix. Both roots end on a byte.
func ipv4Alias(root, p netip.Prefix) netip.Prefix {
	b := root.Addr().As16()
	v4 := p.Addr().As4()
	copy(b[root.Bits()/8:], v4[:])
	return netip.PrefixFrom(netip.AddrFrom16(b), root.Bits()+p.Bits())
}

// activeAliases returns the alias roots that db answers: for each, the
// alias of an IPv4 network must be found with that network's record and
// as that network's alias. An IPv4-only database, or one written without
// aliases, answers none; a database without IPv4 data needs none.
func activeAliases(db *lookup.DB) []netip.Prefix {
	var v4 netip.Prefix
	var rec4 lookup.Record
	for pfx, rec := range db.All() {
		if pfx.Addr().Is4() {
			v4, rec4 = pfx, rec
		}
		break
	}
	if !v4.IsValid() {
		return nil
	}
	var roots []netip.Prefix
	for _, root := range ipv4AliasRoots {
		alias := ipv4Alias(root, v4)
		rec6, ok := db.Lookup(alias.Addr())
		if !ok {
			continue
		}
		if rec6.Network == alias && rec6.Categories == rec4.Categories && rec6.Sources == rec4.Sources {
			roots = append(roots, root)
		}
	}
	return roots
}

// withAliases calls f with pfx and, for an IPv4 network, its aliases
// under roots.
func withAliases(pfx netip.Prefix, roots []netip.Prefix, f func(netip.Prefix)) {
	f(pfx)
	if pfx.Addr().Is4() {
		for _, root := range roots {
			f(ipv4Alias(root, pfx))
		}
	}
}

// categorySets aggregates the networks of each category in cats, IPv6
// aliases of IPv4 networks included.
func categorySets(ctx context.Context, db *lookup.DB, cats lookup.Category) (map[lookup.Category]*netipx.IPSet, error) {
	builders := map[lookup.Category]*netipx.IPSetBuilder{}
	for _, c := range schema.Categories() {
		if cats&c != 0 {
			builders[c] = &netipx.IPSetBuilder{}
		}
	}
	roots := activeAliases(db)
	n := 0
	for pfx, rec := range db.All() {
		if n++; n%65536 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		for c, b := range builders {
			if rec.Categories&c != 0 {
				withAliases(pfx, roots, b.AddPrefix)
			}
		}
	}
	sets := map[lookup.Category]*netipx.IPSet{}
	for c, b := range builders {
		s, err := b.IPSet()
		if err != nil {
			return nil, fmt.Errorf("aggregate %s: %w", c.Name(), err)
		}
		sets[c] = s
	}
	return sets, nil
}

func exportSets(ctx context.Context, w *bufio.Writer, db *lookup.DB, cats lookup.Category, format, setName string) error {
	sets, err := categorySets(ctx, db, cats)
	if err != nil {
		return err
	}
	switch format {
	case "cidr", "ipset":
		var u netipx.IPSetBuilder
		for _, s := range sets {
			u.AddSet(s)
		}
		all, err := u.IPSet()
		if err != nil {
			return fmt.Errorf("aggregate: %w", err)
		}
		if format == "cidr" {
			for _, p := range all.Prefixes() {
				fmt.Fprintln(w, p)
			}
			return nil
		}
		var v4, v6 []netip.Prefix
		for _, p := range all.Prefixes() {
			if p.Addr().Is4() {
				v4 = append(v4, p)
			} else {
				v6 = append(v6, p)
			}
		}
		writeIPSet(w, setName, "inet", v4)
		writeIPSet(w, setName+"-v6", "inet6", v6)
	}
	return nil
}

// datedKey groups the networks of one category with the same dates.
type datedKey struct {
	cat         lookup.Category
	first, last lookup.Date
}

// exportDated writes the csv and jsonl formats: per category, the networks
// aggregated among those with the same first and last seen dates.
func exportDated(ctx context.Context, w *bufio.Writer, db *lookup.DB, cats lookup.Category, format string) error {
	builders := map[datedKey]*netipx.IPSetBuilder{}
	roots := activeAliases(db)
	n := 0
	for pfx, rec := range db.All() {
		if n++; n%65536 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		for c := rec.Categories & cats; c != 0; c &= c - 1 {
			k := datedKey{cat: c & -c, first: rec.FirstSeen, last: rec.LastSeen}
			b, ok := builders[k]
			if !ok {
				b = &netipx.IPSetBuilder{}
				builders[k] = b
			}
			withAliases(pfx, roots, b.AddPrefix)
		}
	}
	type row struct {
		pfx         netip.Prefix
		first, last string
	}
	rows := map[lookup.Category][]row{}
	for k, b := range builders {
		s, err := b.IPSet()
		if err != nil {
			return fmt.Errorf("aggregate %s: %w", k.cat.Name(), err)
		}
		for _, p := range s.Prefixes() {
			rows[k.cat] = append(rows[k.cat], row{p, k.first.String(), k.last.String()})
		}
	}
	if format == "csv" {
		fmt.Fprintln(w, "network,category,first_seen,last_seen")
	}
	for _, c := range schema.Categories() {
		rs := rows[c]
		slices.SortFunc(rs, func(x, y row) int { return x.pfx.Addr().Compare(y.pfx.Addr()) }) // disjoint
		for _, r := range rs {
			if format == "csv" {
				fmt.Fprintf(w, "%s,%s,%s,%s\n", r.pfx, c.Name(), r.first, r.last)
			} else {
				fmt.Fprintf(w, "{\"network\":\"%s\",\"category\":\"%s\",\"network_first_seen\":\"%s\",\"network_last_seen\":\"%s\"}\n",
					r.pfx, c.Name(), r.first, r.last)
			}
		}
	}
	return nil
}

// writeIPSet writes one set in "ipset restore" syntax.
func writeIPSet(w *bufio.Writer, name, family string, ps []netip.Prefix) {
	maxelem := 65536
	if len(ps) > maxelem {
		maxelem = 1 << bits.Len(uint(len(ps)))
	}
	fmt.Fprintf(w, "create %s hash:net family %s hashsize 1024 maxelem %d -exist\n", name, family, maxelem)
	fmt.Fprintf(w, "flush %s\n", name)
	for _, p := range ps {
		fmt.Fprintf(w, "add %s %s\n", name, p)
	}
}

// exportNginx writes an nginx geo block. Each network's value is the set of
// its selected categories; networks with the same value are aggregated, and
// since different values never overlap, nginx's longest-prefix match gives
// every address exactly its own value. The IPv6 aliases of an IPv4 network
// never overlap a network of the IPv6 tree: mmdbwriter keeps the alias
// roots free of data.
func exportNginx(ctx context.Context, w *bufio.Writer, db *lookup.DB, cats lookup.Category, varName string) error {
	builders := map[lookup.Category]*netipx.IPSetBuilder{}
	roots := activeAliases(db)
	n := 0
	for pfx, rec := range db.All() {
		if n++; n%65536 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		c := rec.Categories & cats
		if c == 0 {
			continue
		}
		b, ok := builders[c]
		if !ok {
			b = &netipx.IPSetBuilder{}
			builders[c] = b
		}
		withAliases(pfx, roots, b.AddPrefix)
	}
	type entry struct {
		pfx   netip.Prefix
		value string
	}
	var entries []entry
	for c, b := range builders {
		s, err := b.IPSet()
		if err != nil {
			return fmt.Errorf("aggregate %s: %w", c, err)
		}
		for _, p := range s.Prefixes() {
			entries = append(entries, entry{p, c.String()})
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return a.pfx.Addr().Compare(b.pfx.Addr()) })
	fmt.Fprintf(w, "# ipintel export -format nginx-geo: $%s holds the comma-separated\n", varName)
	fmt.Fprintf(w, "# categories of the client's network, \"\" when it has none.\n")
	fmt.Fprintf(w, "# Include in the http {} context. Behind another proxy, use the realip\n")
	fmt.Fprintf(w, "# module so that $remote_addr is the client.\n")
	fmt.Fprintf(w, "geo $%s {\n    default \"\";\n", varName)
	for _, en := range entries {
		fmt.Fprintf(w, "    %s \"%s\";\n", en.pfx, en.value)
	}
	fmt.Fprintf(w, "}\n")
	return nil
}
