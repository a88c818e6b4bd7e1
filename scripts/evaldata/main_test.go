package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ipintel/ipintel/internal/testenv"
)

// TestRealCorpus runs evaldata on the shared corpus and checks each
// file against a computation of its own: every VPN server address once,
// one address per crawler range inside it, eyeball addresses whose most
// specific pyasn or ip2asn match is the ISP named, a holdout that
// partitions the servers, and identical bytes on a second run.
func TestRealCorpus(t *testing.T) {
	shared := testenv.SharedFeeds(t)
	t.Parallel()
	out := t.TempDir()
	counts, err := run(options{shared: shared, out: out, holdout: 20})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]fileLine{}
	for _, name := range []string{"crawler.txt", "vpn-servers.txt", "vpn-servers-hidden.txt", "eyeball.txt", "cloudflare-proxy.txt", "icloud-relay.txt"} {
		files[name] = readLabelFile(t, filepath.Join(out, name))
		if len(files[name]) != counts[name] {
			t.Errorf("%s: %d lines, run reported %d", name, len(files[name]), counts[name])
		}
		if len(files[name]) == 0 {
			t.Errorf("%s is empty", name)
		}
	}

	t.Run("vpn-servers", func(t *testing.T) {
		raw, err := os.ReadFile(filepath.Join(shared, "vpn", "gluetun-servers_2023-04-20.json"))
		if err != nil {
			t.Fatal(err)
		}
		want := serverAddrs(t, raw)
		got := addrSet(files["vpn-servers.txt"])
		if len(got) != len(files["vpn-servers.txt"]) || !sameSet(got, want) {
			t.Errorf("vpn-servers.txt: %d lines, %d distinct; gluetun has %d distinct server addresses", len(files["vpn-servers.txt"]), len(got), len(want))
		}
		build, err := os.ReadFile(filepath.Join(out, "vpn-servers-build.json"))
		if err != nil {
			t.Fatal(err)
		}
		kept := serverAddrs(t, build)
		hidden := addrSet(files["vpn-servers-hidden.txt"])
		for a := range kept {
			if hidden[a] {
				t.Errorf("%v is both in the build and hidden", a)
			}
		}
		if len(kept)+len(hidden) != len(want) || counts["vpn-servers-build.json"] != len(kept) {
			t.Errorf("build %d (reported %d) + hidden %d != %d servers", len(kept), counts["vpn-servers-build.json"], len(hidden), len(want))
		}
		if share := float64(len(hidden)) / float64(len(want)); share < 0.17 || share > 0.23 {
			t.Errorf("hidden share %.3f, want about 0.20", share)
		}
	})

	t.Run("crawler", func(t *testing.T) {
		ranges := map[netip.Prefix]bool{}
		for _, f := range []string{"google-common-crawlers_2026-08-21.json", "google-special-crawlers_2026-08-21.json",
			"google-user-triggered-fetchers_2026-08-21.json", "applebot_2026-09-15.json", "openai-gptbot_2025-10-30.json",
			"openai-searchbot_2026-01-02.json", "openai-chatgpt-user_2026-04-29.json"} {
			raw, err := os.ReadFile(filepath.Join(shared, "crawler", f))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range jsonStrings(t, raw, "Prefix") {
				ranges[netip.MustParsePrefix(s).Masked()] = true
			}
		}
		if len(files["crawler.txt"]) != len(ranges) {
			t.Errorf("crawler.txt: %d addresses, the operators publish %d distinct ranges", len(files["crawler.txt"]), len(ranges))
		}
		checkInNotedPrefix(t, files["crawler.txt"])
	})

	t.Run("icloud-relay", func(t *testing.T) {
		n := countDataLines(t, filepath.Join(shared, "vpn", "x4bnet-input-vpn-ips-apple_2026-08-22.txt"))
		if len(files["icloud-relay.txt"]) != n {
			t.Errorf("icloud-relay.txt: %d addresses, the list has %d ranges", len(files["icloud-relay.txt"]), n)
		}
		checkInNotedPrefix(t, files["icloud-relay.txt"])
	})

	t.Run("cloudflare-proxy", func(t *testing.T) {
		n := countDataLines(t, filepath.Join(shared, "cloud", "cloudflare-ips-v4_2024-10-29.txt"))
		if got := len(files["cloudflare-proxy.txt"]); got != n*cloudflarePerRange {
			t.Errorf("cloudflare-proxy.txt: %d addresses, want %d per each of %d ranges", got, cloudflarePerRange, n)
		}
		checkInNotedPrefix(t, files["cloudflare-proxy.txt"])
	})

	t.Run("eyeball", func(t *testing.T) {
		v4 := bruteTable(t, filepath.Join(shared, "asn", "pyasn-ipasn_2014-05-13.dat.gz"), true)
		v6 := bruteTable(t, filepath.Join(shared, "asn", "ip2asn-v6_2023-12-08.tsv.gz"), false)
		perASN := map[uint32]int{}
		for _, l := range files["eyeball.txt"] {
			asn64, err := strconv.ParseUint(strings.TrimPrefix(strings.Fields(l.note)[0], "AS"), 10, 32)
			if err != nil {
				t.Fatalf("eyeball.txt: note %q names no ASN", l.note)
			}
			asn := uint32(asn64)
			table := v4
			if l.addr.Is6() {
				table = v6
			}
			if got := table.match(l.addr); got != asn {
				t.Errorf("eyeball.txt: %v is AS%d by its table, noted AS%d", l.addr, got, asn)
			}
			perASN[asn]++
		}
		for _, isp := range eyeballASNs {
			if n := perASN[isp.asn]; n == 0 || n > eyeballPerASN4+eyeballPerASN6 {
				t.Errorf("eyeball.txt: %d addresses of AS%d %s", n, isp.asn, isp.name)
			}
		}
	})

	t.Run("deterministic", func(t *testing.T) {
		again := t.TempDir()
		if _, err := run(options{shared: shared, out: again, holdout: 20}); err != nil {
			t.Fatal(err)
		}
		ents, err := os.ReadDir(out)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			a, _ := os.ReadFile(filepath.Join(out, e.Name()))
			b, err := os.ReadFile(filepath.Join(again, e.Name()))
			if err != nil || !bytes.Equal(a, b) {
				t.Errorf("%s differs between two runs (%v)", e.Name(), err)
			}
		}
	})
}

type fileLine struct {
	addr netip.Addr
	note string
}

func readLabelFile(t *testing.T, path string) []fileLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []fileLine
	for line := range strings.Lines(string(b)) {
		if strings.HasPrefix(line, "#") {
			continue
		}
		addr, note, _ := strings.Cut(line, "#")
		a, err := netip.ParseAddr(strings.TrimSpace(addr))
		if err != nil {
			t.Fatalf("%s: %q: %v", path, line, err)
		}
		out = append(out, fileLine{a, strings.TrimSpace(note)})
	}
	return out
}

func addrSet(ls []fileLine) map[netip.Addr]bool {
	m := map[netip.Addr]bool{}
	for _, l := range ls {
		m[l.addr] = true
	}
	return m
}

func sameSet(a, b map[netip.Addr]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// serverAddrs walks a servers.json without a schema: every string in an
// "ips" array of an object in a "servers" array.
func serverAddrs(t *testing.T, raw []byte) map[netip.Addr]bool {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	m := map[netip.Addr]bool{}
	for _, v := range doc {
		p, _ := v.(map[string]any)
		servers, _ := p["servers"].([]any)
		for _, s := range servers {
			ips, _ := s.(map[string]any)["ips"].([]any)
			for _, ip := range ips {
				if a, err := netip.ParseAddr(ip.(string)); err == nil {
					m[a.Unmap()] = true
				}
			}
		}
	}
	return m
}

// jsonStrings returns every string value whose key ends in suffix.
func jsonStrings(t *testing.T, raw []byte, suffix string) []string {
	t.Helper()
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && strings.HasSuffix(k, suffix) {
					out = append(out, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	return out
}

// checkInNotedPrefix checks that each address lies in the network that
// ends its note.
func checkInNotedPrefix(t *testing.T, ls []fileLine) {
	t.Helper()
	for _, l := range ls {
		f := strings.Fields(l.note)
		p, err := netip.ParsePrefix(f[len(f)-1])
		if err != nil || !p.Contains(l.addr) {
			t.Errorf("%v is not in the network of its note %q", l.addr, l.note)
		}
	}
}

func countDataLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for line := range strings.Lines(string(b)) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			n++
		}
	}
	return n
}

// table is a slow longest-match table: ranges scanned one by one.
type table []struct {
	lo, hi netip.Addr
	asn    uint32
}

func (tb table) match(a netip.Addr) uint32 {
	best, bestLo, bestHi := uint32(0), netip.Addr{}, netip.Addr{}
	for _, r := range tb {
		if r.lo.Compare(a) <= 0 && a.Compare(r.hi) <= 0 &&
			(!bestLo.IsValid() || r.lo.Compare(bestLo) >= 0 && r.hi.Compare(bestHi) <= 0) {
			best, bestLo, bestHi = r.asn, r.lo, r.hi
		}
	}
	return best
}

// bruteTable reads pyasn ("prefix<TAB>asn") or ip2asn ("start<TAB>end<TAB>asn…").
func bruteTable(t *testing.T, path string, pyasn bool) table {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var tb table
	sc := bufio.NewScanner(gz)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if strings.HasPrefix(sc.Text(), ";") || len(f) < 2 {
			continue
		}
		var lo, hi netip.Addr
		var asnField string
		if pyasn {
			p := netip.MustParsePrefix(f[0]).Masked()
			lo, asnField = p.Addr(), f[1]
			hi = lastOf(p)
		} else {
			lo, hi, asnField = netip.MustParseAddr(f[0]), netip.MustParseAddr(f[1]), f[2]
		}
		n, err := strconv.ParseUint(asnField, 10, 32)
		if err != nil {
			t.Fatal(err)
		}
		tb = append(tb, struct {
			lo, hi netip.Addr
			asn    uint32
		}{lo, hi, uint32(n)})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return tb
}

// lastOf returns the last address of p, bit by bit.
func lastOf(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < 8*len(b); i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
