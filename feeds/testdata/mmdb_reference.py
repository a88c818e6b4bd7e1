#!/usr/bin/python3
# Reference counts for TestCorpusMMDB (feeds/mmdb_test.go), independent of
# maxminddb-golang. Needs Debian python3-maxminddb (its pure Python reader).
# Usage: /usr/bin/python3 mmdb_reference.py "../shared/feeds/mmdb-testdata/test-data/*.mmdb"
# Independent walk of an MMDB search tree with python3-maxminddb's pure
# Python reader: count networks with data, split map/non-map, distinct
# prefixes (IPv4 networks of the ::/96 subtree unmapped; aliases skipped).
import sys, glob, os, ipaddress
import maxminddb.reader as R
CATS = ["is_tor_exit_node","is_anonymous_vpn","is_public_proxy","is_residential_proxy","is_hosting_provider","is_abuse","is_crawler","is_allowlisted"]
for fn in sorted(glob.glob(sys.argv[1])):
    r = R.Reader(fn)
    md = r.metadata(); nc = md.node_count
    bits = 128 if md.ip_version == 6 else 32
    v4start = r._start_node(32) if md.ip_version == 6 else None
    stack = [(0, 0, 0)]
    recs = 0; skipped = 0; pfx = set(); asns = set(); cats = {c: 0 for c in CATS}
    while stack:
        node, val, depth = stack.pop()
        if node == nc:
            continue
        if node > nc:
            rec = r._resolve_data_pointer(node)
            if md.ip_version == 6:
                net = ipaddress.IPv6Network((val << (128 - depth), depth))
                if depth >= 96 and val >> (depth - 96) == 0:
                    net = ipaddress.IPv4Network(((val & ((1 << (depth - 96)) - 1)) << (128 - depth), depth - 96))
            else:
                net = ipaddress.IPv4Network((val << (32 - depth), depth))
            # A network counts when it carries something ipintel reads: an
            # ASN, an organisation, a category, or any data at all in a
            # residential-proxy database (the type implies the category).
            useful = isinstance(rec, dict) and (
                "Residential-Proxy" in md.database_type
                or rec.get("autonomous_system_number")
                or any(rec.get(k) for k in ("autonomous_system_organization", "organization", "isp"))
                or any(rec.get(c) is True for c in CATS))
            if not useful:
                skipped += 1
                continue
            recs += 1
            pfx.add(net)
            a = rec.get("autonomous_system_number")
            if a: asns.add(a)
            for c in CATS:
                if rec.get(c): cats[c] += 1
            continue
        if md.ip_version == 6 and node == v4start and val != 0:
            continue  # an alias of the IPv4 subtree (::ffff:0:0/96, 2001::/32, 2002::/16)
        if depth >= bits:
            raise SystemExit("tree deeper than address in " + fn)
        stack.append((r._read_node(node, 1), (val << 1) | 1, depth + 1))
        stack.append((r._read_node(node, 0), val << 1, depth + 1))
    v4 = sum(1 for n in pfx if n.version == 4)
    c = ",".join("%d" % cats[k] for k in CATS)
    print('{"%s", %d, %d, %d, %d, %d, %d, [8]int{%s}},' % (os.path.basename(fn), recs, len(pfx), v4, len(pfx) - v4, len(asns), skipped, c))
