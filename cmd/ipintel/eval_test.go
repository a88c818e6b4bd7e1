package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipintel/ipintel/internal/testenv"
	"github.com/ipintel/ipintel/lookup"
	"github.com/ipintel/ipintel/schema"
)

// evalStdin is the label file of the eval golden cases: hits of every
// kind, a miss, a CIDR, a mapped address, comments and two bad lines.
const evalStdin = `# sample label file
192.0.2.10        # tor exit, hosting, abuse
192.0.2.0/24      # counts as 192.0.2.0: hosting
::ffff:192.0.2.10
198.51.100.200
198.51.100.7
203.0.113.9

2001:db8:1::5
2001:db8:2::1
10.1.2.3
not-an-address
fe80::1%eth0
`

// TestEvalGoldenLabels runs eval with several label files and compares
// the output with testdata/eval-labels*.golden.
func TestEvalGoldenLabels(t *testing.T) {
	dir := t.TempDir()
	db := sampleDB(t)
	files := map[string]string{
		"tor.txt":     "192.0.2.10\n2001:db8:2::1\n",
		"vpn.txt":     "198.51.100.1\n198.51.100.2\n198.51.100.129\n",
		"clean.txt":   "10.0.0.1\n10.0.0.2\n10.0.0.3\n10.0.0.4\n",
		"empty.txt":   "# nothing here\n",
		"crawler.txt": "203.0.113.0/24\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"eval-labels", []string{"eval", "-db", db, "tor=" + dir + "/tor.txt", "vpn=" + dir + "/vpn.txt", "clean=" + dir + "/clean.txt", "crawler=" + dir + "/crawler.txt", "empty=" + dir + "/empty.txt"}},
		{"eval-labels-json", []string{"eval", "-db", db, "-json", "tor=" + dir + "/tor.txt", "empty=" + dir + "/empty.txt"}},
		{"eval-labels-twice", []string{"eval", "-db", db, "tor=" + dir + "/tor.txt", "tor=" + dir + "/vpn.txt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, strings.NewReader(""), &stdout, &stderr)
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				args[i] = strings.ReplaceAll(strings.ReplaceAll(a, db, "$DB"), dir, "$TMP")
			}
			got := renderRun(args, code, strings.ReplaceAll(stdout.String(), db, "$DB"), strings.ReplaceAll(stderr.String(), db, "$DB"), dir, "")
			path := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s (run with -update to accept)\n--- got ---\n%s--- want ---\n%s", path, got, want)
			}
		})
	}
}

// TestEvalBuiltDatabase runs eval on a database the builder wrote from
// small excerpts of real feeds, with labels taken from those feeds, and
// checks every figure against lookups counted here one by one.
func TestEvalBuiltDatabase(t *testing.T) {
	path := builtDB(t)
	dir := t.TempDir()
	feedDir := filepath.Join(testenv.RepoRoot(), "testdata", "feeds")
	// tor: the exit addresses; vpn: the X4BNet VPN ranges (one address
	// each); clean: addresses of the ASN table outside every listed range.
	tor := grepAddrs(t, filepath.Join(feedDir, "tor-exit-addresses.txt"), func(line string) string {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "ExitAddress" {
			return f[1]
		}
		return ""
	})
	vpn := grepAddrs(t, filepath.Join(feedDir, "x4bnet-vpn-ipv4.txt"), strings.TrimSpace)
	if len(tor) == 0 || len(vpn) == 0 {
		t.Fatalf("no addresses in the excerpts: %d tor, %d vpn", len(tor), len(vpn))
	}
	mixed := append(append([]string{"192.0.2.1", "8.8.8.8", "2001:4860:4860::8888"}, tor[:len(tor)/2]...), vpn[:len(vpn)/2]...)
	labels := map[string][]string{"tor": tor, "vpn": vpn, "mixed": mixed}
	args := []string{"eval", "-db", path, "-json"}
	for _, name := range []string{"tor", "vpn", "mixed"} {
		file := filepath.Join(dir, name+".txt")
		if err := os.WriteFile(file, []byte(strings.Join(labels[name], "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, name+"="+file)
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr); code != exitOK {
		t.Fatalf("eval: exit %d\n%s", code, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("eval wrote to stderr:\n%s", stderr.String())
	}
	var rep evalReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("eval -json: %v\n%s", err, stdout.String())
	}
	db, err := lookup.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	policy := lookup.DefaultPolicy()
	for _, res := range rep.Labels {
		addrs := labels[res.Label]
		want := map[string]int{}
		for _, s := range addrs {
			addr, err := netip.ParseAddr(s)
			if err != nil { // a CIDR counts as its first address
				addr = netip.MustParsePrefix(s).Masked().Addr()
			}
			rec, found := db.Lookup(addr)
			if found {
				want["found"]++
			}
			for _, c := range schema.Categories() {
				if rec.Categories&c != 0 {
					want["category "+evalCategoryName(c)]++
				}
			}
			want["action "+policy.Decide(rec).Action.String()]++
			if hasProvider(rec) {
				want["provider_name"]++
			}
			for _, f := range db.SourceNames(rec.Sources) {
				want["feed "+f]++
			}
		}
		got := map[string]int{"found": res.Found.Count}
		if res.Provider.Count > 0 {
			got["provider_name"] = res.Provider.Count
		}
		for k, v := range res.Categories {
			if v.Count > 0 {
				got["category "+k] = v.Count
			}
		}
		for k, v := range res.Actions {
			if v.Count > 0 {
				got["action "+k] = v.Count
			}
		}
		for k, v := range res.Feeds {
			if v.Count > 0 {
				got["feed "+k] = v.Count
			}
		}
		if res.Addresses != len(addrs) || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("label %s: %d addresses, counts %v\nwant %d addresses, counts %v", res.Label, res.Addresses, got, len(addrs), want)
		}
	}
	if tc := rep.Labels[0]; tc.Label != "tor" || tc.Categories["tor_exit"].Count == 0 {
		t.Errorf("tor label: %+v, want Tor exits flagged", tc)
	}
}

// grepAddrs returns the non-empty results of pick over the lines of path,
// skipping "#" comments.
func grepAddrs(t *testing.T, path string, pick func(string) string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		if s := pick(sc.Text()); s != "" {
			out = append(out, s)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
