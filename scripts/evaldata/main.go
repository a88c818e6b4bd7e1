// Command evaldata writes labelled address lists for "ipintel eval" from
// the snapshots of the shared feed corpus:
//
//	go run ./scripts/evaldata -shared ../shared/feeds -out DIR [-holdout N]
//
// It writes, one address per line with the address's origin as a "#"
// comment:
//
//	crawler.txt           one address in each range that Google, Apple and
//	                      OpenAI publish for their crawlers and fetchers
//	vpn-servers.txt       every server address in gluetun's servers.json
//	eyeball.txt           addresses of large residential and mobile ISPs,
//	                      sampled from the prefixes the ASN tables give them
//	cloudflare-proxy.txt  Cloudflare addresses that the public proxy lists
//	                      name or, when they name none, addresses sampled
//	                      from Cloudflare's published ranges
//	icloud-relay.txt      one address in each iCloud Private Relay egress
//	                      range of X4BNet's Apple list
//
// With -holdout N (1-99), N% of the VPN server addresses, chosen by a hash
// of the address, are set aside: vpn-servers-build.json is gluetun's
// servers.json with only the other addresses (a feed for the build) and
// vpn-servers-hidden.txt lists the set-aside ones, so that eval measures
// on addresses the build never saw.
//
// Every choice is a pure function of the input files: the same corpus
// gives byte-identical outputs.
package main

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

func main() {
	var o options
	flag.StringVar(&o.shared, "shared", "../shared/feeds", "`directory` of the feed corpus")
	flag.StringVar(&o.out, "out", "", "output `directory` (required)")
	flag.IntVar(&o.holdout, "holdout", 0, "hide `N` percent of the VPN server addresses from the build (0: no split)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: evaldata -out dir [-shared dir] [-holdout N]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if o.out == "" || flag.NArg() > 0 || o.holdout < 0 || o.holdout > 99 {
		flag.Usage()
		os.Exit(2)
	}
	counts, err := run(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "evaldata: %v\n", err)
		os.Exit(1)
	}
	for _, name := range slices.Sorted(maps.Keys(counts)) {
		fmt.Fprintf(os.Stderr, "%s: %d\n", name, counts[name])
	}
}

type options struct {
	shared, out string
	holdout     int // percent
}

// labelled is one output line: an address and where it came from.
type labelled struct {
	addr netip.Addr
	note string
}

// run writes every file into o.out and returns the number of addresses
// (servers, for the build JSON) in each.
func run(o options) (map[string]int, error) {
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return nil, err
	}
	counts := map[string]int{}
	write := func(name, header string, ls []labelled) error {
		counts[name] = len(ls)
		return writeLabels(filepath.Join(o.out, name), header, ls)
	}

	crawler, err := crawlerAddrs(o.shared)
	if err != nil {
		return nil, err
	}
	if err := write("crawler.txt", "one address per range published by Google, Apple and OpenAI for their crawlers and fetchers", crawler); err != nil {
		return nil, err
	}

	gluetunPath, err := newest(o.shared, "vpn/gluetun-servers_*.json")
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(gluetunPath)
	if err != nil {
		return nil, err
	}
	servers, err := gluetunAddrs(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", gluetunPath, err)
	}
	if err := write("vpn-servers.txt", "every server address of "+filepath.Base(gluetunPath)+", all providers", servers); err != nil {
		return nil, err
	}
	if o.holdout > 0 {
		var hidden []labelled
		for _, l := range servers {
			if heldOut(l.addr, o.holdout) {
				hidden = append(hidden, l)
			}
		}
		build, n, err := gluetunSubset(raw, func(a netip.Addr) bool { return !heldOut(a, o.holdout) })
		if err != nil {
			return nil, fmt.Errorf("%s: %w", gluetunPath, err)
		}
		counts["vpn-servers-build.json"] = n
		if err := os.WriteFile(filepath.Join(o.out, "vpn-servers-build.json"), build, 0o644); err != nil {
			return nil, err
		}
		header := fmt.Sprintf("the %d%% of the server addresses of %s that vpn-servers-build.json leaves out", o.holdout, filepath.Base(gluetunPath))
		if err := write("vpn-servers-hidden.txt", header, hidden); err != nil {
			return nil, err
		}
	}

	eyeball, err := eyeballAddrs(o.shared)
	if err != nil {
		return nil, err
	}
	if err := write("eyeball.txt", "addresses of large residential and mobile ISPs, sampled from the prefixes the ASN tables give their ASNs", eyeball); err != nil {
		return nil, err
	}

	cf, listed, err := cloudflareProxyAddrs(o.shared)
	if err != nil {
		return nil, err
	}
	header := "Cloudflare addresses named by the public proxy lists"
	if !listed {
		header = "no proxy list names a Cloudflare address: addresses sampled from Cloudflare's ranges"
	}
	if err := write("cloudflare-proxy.txt", header, cf); err != nil {
		return nil, err
	}

	relayPath, err := newest(o.shared, "vpn/x4bnet-input-vpn-ips-apple_*.txt")
	if err != nil {
		return nil, err
	}
	relay, err := sampleListFile(relayPath, filepath.Base(relayPath))
	if err != nil {
		return nil, err
	}
	if err := write("icloud-relay.txt", "one address per iCloud Private Relay egress range of "+filepath.Base(relayPath), relay); err != nil {
		return nil, err
	}
	return counts, nil
}

// newest returns the last match of pattern under dir: snapshots are named
// <feed>_<date>, so the last in lexical order is the newest.
func newest(dir, pattern string) (string, error) {
	m, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		return "", err
	}
	if len(m) == 0 {
		return "", fmt.Errorf("no file matches %s in %s", pattern, dir)
	}
	slices.Sort(m)
	return m[len(m)-1], nil
}

// writeLabels writes ls, sorted by address and without duplicates (the
// first note wins), under a "#" header.
func writeLabels(path, header string, ls []labelled) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n# written by go run ./scripts/evaldata\n", header)
	for _, l := range ls {
		fmt.Fprintf(&b, "%s  # %s\n", l.addr, l.note)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// dedupe sorts ls by address and keeps the first entry of each address.
func dedupe(ls []labelled) []labelled {
	slices.SortStableFunc(ls, func(a, b labelled) int { return a.addr.Compare(b.addr) })
	return slices.CompactFunc(ls, func(a, b labelled) bool { return a.addr == b.addr })
}

// hash64 is FNV-1a of s: stable across runs, platforms and Go versions.
func hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// heldOut reports whether addr is in the hidden part of a split that
// hides percent of the addresses.
func heldOut(addr netip.Addr, percent int) bool {
	return hash64("holdout "+addr.String())%100 < uint64(percent)
}

// sampleAddr returns an address of p chosen by a hash of p and salt. In a
// block of four or more it is neither the first nor the last address
// (network and broadcast addresses carry no users); in an IPv6 network
// wider than /64 it lies in the first /64.
func sampleAddr(p netip.Prefix, salt string) netip.Addr {
	p = p.Masked()
	host := p.Addr().BitLen() - p.Bits()
	if host == 0 {
		return p.Addr()
	}
	host = min(host, 64)
	maxOff := ^uint64(0) >> (64 - host)
	off := hash64(salt+" "+p.String()) & maxOff
	if host >= 2 {
		off = min(max(off, 1), maxOff-1)
	}
	return addOffset(p.Addr(), off)
}

// addOffset adds off to the low bits of a; the caller keeps it inside
// the network, so no carry leaves the low 64 bits.
func addOffset(a netip.Addr, off uint64) netip.Addr {
	if a.Is4() {
		b := a.As4()
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		v += uint32(off)
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	b := a.As16()
	var lo uint64
	for i := 8; i < 16; i++ {
		lo = lo<<8 | uint64(b[i])
	}
	lo += off
	for i := 15; i >= 8; i-- {
		b[i] = byte(lo)
		lo >>= 8
	}
	return netip.AddrFrom16(b)
}

// crawlerFiles are the operators' own crawler range files, by snapshot
// name pattern.
var crawlerFiles = []string{
	"crawler/google-common-crawlers_*.json",
	"crawler/google-special-crawlers_*.json",
	"crawler/google-user-triggered-fetchers_*.json",
	"crawler/applebot_*.json",
	"crawler/openai-gptbot_*.json",
	"crawler/openai-searchbot_*.json",
	"crawler/openai-chatgpt-user_*.json",
}

// crawlerRanges parses the JSON layout Google, Apple and OpenAI share.
func crawlerRanges(path string) ([]netip.Prefix, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Prefixes []struct {
			IPv4 string `json:"ipv4Prefix"`
			IPv6 string `json:"ipv6Prefix"`
		} `json:"prefixes"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []netip.Prefix
	for _, p := range doc.Prefixes {
		s := p.IPv4 + p.IPv6
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, pfx.Masked())
	}
	return out, nil
}

func crawlerAddrs(shared string) ([]labelled, error) {
	var out []labelled
	for _, pat := range crawlerFiles {
		path, err := newest(shared, pat)
		if err != nil {
			return nil, err
		}
		ranges, err := crawlerRanges(path)
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		for _, p := range ranges {
			out = append(out, labelled{sampleAddr(p, "crawler"), name + " " + p.String()})
		}
	}
	return dedupe(out), nil
}

// gluetunAddrs returns every server address of a gluetun servers.json:
// {"version": n, "<provider>": {"servers": [{"ips": [...]}, ...]}, ...}.
// Strings that are not addresses are skipped.
func gluetunAddrs(raw []byte) ([]labelled, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	var out []labelled
	for _, provider := range slices.Sorted(maps.Keys(doc)) {
		var p struct {
			Servers []struct {
				IPs []string `json:"ips"`
			} `json:"servers"`
		}
		if json.Unmarshal(doc[provider], &p) != nil {
			continue // "version" and other scalars
		}
		for _, s := range p.Servers {
			for _, ip := range s.IPs {
				a, err := netip.ParseAddr(ip)
				if err != nil {
					continue // airvpn lists a few empty strings
				}
				out = append(out, labelled{a.Unmap(), provider})
			}
		}
	}
	return dedupe(out), nil
}

// gluetunSubset returns servers.json with only the server addresses keep
// accepts; a server left with none is dropped, every other field kept. It
// also returns the number of distinct addresses kept.
func gluetunSubset(raw []byte, keep func(netip.Addr) bool) ([]byte, int, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, 0, err
	}
	kept := map[netip.Addr]bool{}
	for provider, v := range doc {
		var p map[string]json.RawMessage
		if json.Unmarshal(v, &p) != nil || p["servers"] == nil {
			continue
		}
		var servers []map[string]json.RawMessage
		if err := json.Unmarshal(p["servers"], &servers); err != nil {
			return nil, 0, fmt.Errorf("%s: %w", provider, err)
		}
		var out []map[string]json.RawMessage
		for _, s := range servers {
			var ips []string
			if s["ips"] != nil {
				if err := json.Unmarshal(s["ips"], &ips); err != nil {
					return nil, 0, fmt.Errorf("%s: %w", provider, err)
				}
			}
			var left []string
			for _, ip := range ips {
				a, err := netip.ParseAddr(ip)
				if err != nil {
					continue // as gluetunAddrs does
				}
				if keep(a.Unmap()) {
					left = append(left, ip)
					kept[a.Unmap()] = true
				}
			}
			if len(left) == 0 {
				continue
			}
			b, err := json.Marshal(left)
			if err != nil {
				return nil, 0, err
			}
			s["ips"] = b
			out = append(out, s)
		}
		b, err := json.Marshal(out)
		if err != nil {
			return nil, 0, err
		}
		p["servers"] = b
		if doc[provider], err = json.Marshal(p); err != nil {
			return nil, 0, err
		}
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, 0, err
	}
	return append(b, '\n'), len(kept), nil
}

// eyeballASNs are large residential and mobile ISPs; every one has
// prefixes in the pyasn table of the corpus, and all but Vodafone UK in
// the IPv6 ip2asn table.
var eyeballASNs = []struct {
	asn  uint32
	name string
}{
	{7922, "Comcast"}, {20115, "Charter"}, {7018, "AT&T"}, {701, "Verizon"},
	{3320, "Deutsche Telekom"}, {3215, "Orange"}, {2856, "BT"}, {3352, "Telefonica Spain"},
	{3209, "Vodafone Germany"}, {12322, "Free"}, {4134, "China Telecom"}, {4837, "China Unicom"},
	{55836, "Reliance Jio"}, {9498, "Bharti Airtel"}, {4766, "Korea Telecom"}, {4713, "NTT OCN"},
	{1221, "Telstra"}, {812, "Rogers"}, {577, "Bell Canada"}, {3269, "Telecom Italia"},
	{5089, "Virgin Media"}, {22773, "Cox"}, {21928, "T-Mobile US"}, {25135, "Vodafone UK"},
	{5432, "Proximus"},
}

// Per ASN, eyeballAddrs takes this many IPv4 and IPv6 samples, spread
// over the ASN's prefixes in address order.
const (
	eyeballPerASN4 = 20
	eyeballPerASN6 = 4
)

// eyeballAddrs samples addresses of eyeballASNs: IPv4 from the pyasn
// table, IPv6 from ip2asn-v6. An address is kept only when the table's
// most specific match for it is the ASN itself, since a less specific
// prefix may hold more specific ones of other networks.
func eyeballAddrs(shared string) ([]labelled, error) {
	pyPath, err := newest(shared, "asn/pyasn-ipasn_*.dat.gz")
	if err != nil {
		return nil, err
	}
	v4, err := readPyASN(pyPath)
	if err != nil {
		return nil, err
	}
	v6Path, err := newest(shared, "asn/ip2asn-v6_*.tsv.gz")
	if err != nil {
		return nil, err
	}
	v6, err := readIP2ASN(v6Path)
	if err != nil {
		return nil, err
	}
	byASN4 := map[uint32][]netip.Prefix{}
	for p, asn := range v4 {
		byASN4[asn] = append(byASN4[asn], p)
	}
	byASN6 := map[uint32][]asnRange{}
	for _, r := range v6 {
		byASN6[r.asn] = append(byASN6[r.asn], r)
	}
	var out []labelled
	for _, isp := range eyeballASNs {
		note := fmt.Sprintf("AS%d %s", isp.asn, isp.name)
		ps := byASN4[isp.asn]
		slices.SortFunc(ps, func(a, b netip.Prefix) int { return cmp.Or(a.Addr().Compare(b.Addr()), a.Bits()-b.Bits()) })
		out = append(out, spread(len(ps), eyeballPerASN4, func(i int) (labelled, bool) {
			a := sampleAddr(ps[i], "eyeball")
			return labelled{a, note + " " + ps[i].String()}, pyASNMatch(v4, a) == isp.asn
		})...)
		rs := byASN6[isp.asn]
		out = append(out, spread(len(rs), eyeballPerASN6, func(i int) (labelled, bool) {
			p := firstBlock(rs[i].start, rs[i].end)
			a := sampleAddr(p, "eyeball")
			return labelled{a, note + " " + p.String()}, ip2asnMatch(v6, a) == isp.asn
		})...)
	}
	return dedupe(out), nil
}

// spread calls try on up to k of the indexes 0..n-1: it cuts them into
// min(n, k) equal slots and keeps, per slot, the first index try accepts.
func spread(n, k int, try func(int) (labelled, bool)) []labelled {
	var out []labelled
	slots := min(n, k)
	for s := range slots {
		for i := s * n / slots; i < (s+1)*n/slots; i++ {
			if l, ok := try(i); ok {
				out = append(out, l)
				break
			}
		}
	}
	return out
}

// readPyASN reads a pyasn ipasn.dat(.gz): "prefix<TAB>asn" lines, ";"
// comments.
func readPyASN(path string) (map[netip.Prefix]uint32, error) {
	m := map[netip.Prefix]uint32{}
	err := eachLine(path, func(line string) error {
		if line == "" || line[0] == ';' {
			return nil
		}
		pfx, asn, ok := strings.Cut(line, "\t")
		if !ok {
			return fmt.Errorf("no tab in %q", line)
		}
		p, err := netip.ParsePrefix(pfx)
		if err != nil {
			return err
		}
		n, err := strconv.ParseUint(strings.TrimSpace(asn), 10, 32)
		if err != nil {
			return err
		}
		m[p.Masked()] = uint32(n)
		return nil
	})
	return m, err
}

// pyASNMatch returns the ASN of the most specific prefix of m holding a.
func pyASNMatch(m map[netip.Prefix]uint32, a netip.Addr) uint32 {
	for bits := a.BitLen(); bits >= 0; bits-- {
		p, _ := a.Prefix(bits)
		if asn, ok := m[p]; ok {
			return asn
		}
	}
	return 0
}

// asnRange is one ip2asn row: an inclusive range and its ASN.
type asnRange struct {
	start, end netip.Addr
	asn        uint32
}

// readIP2ASN reads an ip2asn TSV(.gz): start, end, ASN, country, name.
func readIP2ASN(path string) ([]asnRange, error) {
	var out []asnRange
	err := eachLine(path, func(line string) error {
		f := strings.Split(line, "\t")
		if len(f) < 3 {
			return nil
		}
		s, err1 := netip.ParseAddr(f[0])
		e, err2 := netip.ParseAddr(f[1])
		n, err3 := strconv.ParseUint(f[2], 10, 32)
		if err := errors.Join(err1, err2, err3); err != nil {
			return err
		}
		out = append(out, asnRange{s, e, uint32(n)})
		return nil
	})
	return out, err
}

// ip2asnMatch returns the ASN of the narrowest range of rs holding a (the
// table's ranges overlap in places).
func ip2asnMatch(rs []asnRange, a netip.Addr) uint32 {
	var best *asnRange
	for i := range rs {
		r := &rs[i]
		if r.start.Compare(a) <= 0 && a.Compare(r.end) <= 0 {
			if best == nil || r.start.Compare(best.start) >= 0 && r.end.Compare(best.end) <= 0 {
				best = r
			}
		}
	}
	if best == nil {
		return 0
	}
	return best.asn
}

// firstBlock returns the largest aligned network that starts at start and
// ends at or before end.
func firstBlock(start, end netip.Addr) netip.Prefix {
	for bits := 0; bits <= start.BitLen(); bits++ {
		p := netip.PrefixFrom(start, bits)
		if p.Masked().Addr() != start {
			continue
		}
		if last := lastAddr(p); last.Compare(end) <= 0 {
			return p
		}
	}
	return netip.PrefixFrom(start, start.BitLen())
}

// lastAddr returns the last address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// eachLine calls f with each line of path, gunzipped when the name ends
// in .gz; an error from f names the line.
func eachLine(path string, f func(string) error) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	var r io.Reader = file
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(file)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if err := f(sc.Text()); err != nil {
			return fmt.Errorf("%s:%d: %w", path, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// readPrefixList reads one CIDR or address per line, skipping blank and
// "#" lines and lines that hold neither (an error page saved as data).
func readPrefixList(path string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	err := eachLine(path, func(line string) error {
		line = strings.TrimSpace(line)
		if p, err := netip.ParsePrefix(line); err == nil {
			out = append(out, p.Masked())
		} else if a, err := netip.ParseAddr(line); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
		return nil
	})
	return out, err
}

// sampleListFile returns one sampled address per network of a CIDR list.
func sampleListFile(path, note string) ([]labelled, error) {
	ps, err := readPrefixList(path)
	if err != nil {
		return nil, err
	}
	var out []labelled
	for _, p := range ps {
		out = append(out, labelled{sampleAddr(p, "list"), note + " " + p.String()})
	}
	return dedupe(out), nil
}

// dottedQuad finds IPv4 addresses in free text, leading zeros allowed
// (TheSpeedX writes 103.250.166.04).
var dottedQuad = regexp.MustCompile(`(?:^|[^0-9.])([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})(?:[^0-9.]|$)`)

// textIPv4s returns the IPv4 addresses written in line.
func textIPv4s(line string) []netip.Addr {
	var out []netip.Addr
	for _, m := range dottedQuad.FindAllStringSubmatch(line, -1) {
		var b [4]byte
		ok := true
		for i := range 4 {
			n, err := strconv.Atoi(m[i+1])
			if err != nil || n > 255 {
				ok = false
				break
			}
			b[i] = byte(n)
		}
		if ok {
			out = append(out, netip.AddrFrom4(b))
		}
	}
	return out
}

// cloudflarePerRange is how many addresses cloudflareProxyAddrs samples
// per Cloudflare range when the proxy lists name none.
const cloudflarePerRange = 4

// cloudflareProxyAddrs returns the addresses of the proxy lists in
// proxy/ that fall in Cloudflare's published IPv4 ranges, and true. When
// the lists name none (they name WARP and relay egress addresses, which
// are outside the published ranges), it samples cloudflarePerRange
// addresses per Cloudflare range instead and returns false.
func cloudflareProxyAddrs(shared string) ([]labelled, bool, error) {
	cfPath, err := newest(shared, "cloud/cloudflare-ips-v4_*.txt")
	if err != nil {
		return nil, false, err
	}
	cf, err := readPrefixList(cfPath)
	if err != nil {
		return nil, false, err
	}
	lists, err := filepath.Glob(filepath.Join(shared, "proxy", "*"))
	if err != nil {
		return nil, false, err
	}
	slices.Sort(lists)
	var out []labelled
	for _, path := range lists {
		name := filepath.Base(path)
		err := eachLine(path, func(line string) error {
			for _, a := range textIPv4s(line) {
				for _, p := range cf {
					if p.Contains(a) {
						out = append(out, labelled{a, name + " in " + p.String()})
						break
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, false, err
		}
	}
	if len(out) > 0 {
		return dedupe(out), true, nil
	}
	for _, p := range cf {
		for i := range cloudflarePerRange {
			salt := "cloudflare " + strconv.Itoa(i)
			out = append(out, labelled{sampleAddr(p, salt), filepath.Base(cfPath) + " " + p.String()})
		}
	}
	return dedupe(out), false, nil
}
