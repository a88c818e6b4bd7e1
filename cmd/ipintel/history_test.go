package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// historyConfig writes a config with a state_dir and two feeds, builds it
// on day 0 and, with 45.1.1.1 gone from the abuse feed, on day 3, keeping
// the day-0 database as old.mmdb.
func historyConfig(t *testing.T) (dir, cfg string) {
	t.Helper()
	dir = t.TempDir()
	cfg = filepath.Join(dir, "ipintel.toml")
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ipintel.toml", `
out = "ipintel.mmdb"
cache_dir = "cache"
state_dir = "state"

[gates]
max_category_shrink = 1

[[feed]]
name = "abuse"
kind = "abuse"
format = "ip-list"
url = "abuse.txt"
retain = "14d"
max_shrink = 1

[[feed]]
name = "vpn"
kind = "vpn"
format = "ip-list"
url = "vpn.txt"
`)
	write("abuse.txt", "45.1.1.1\n45.1.1.2\n")
	write("vpn.txt", "45.1.2.0/24\n")
	const day0 = 1767225600 // 2026-01-01
	if code, _, stderr := runBuildCmd(t, context.Background(), "-config", cfg, "-quiet", "-epoch", strconv.Itoa(day0)); code != 0 {
		t.Fatalf("build day 0: exit %d: %s", code, stderr)
	}
	if err := os.Rename(filepath.Join(dir, "ipintel.mmdb"), filepath.Join(dir, "old.mmdb")); err != nil {
		t.Fatal(err)
	}
	write("abuse.txt", "45.1.1.2\n")
	if code, _, stderr := runBuildCmd(t, context.Background(), "-config", cfg, "-quiet", "-epoch", strconv.Itoa(day0+3*86400)); code != 0 {
		t.Fatalf("build day 3: exit %d: %s", code, stderr)
	}
	return dir, cfg
}

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr strings.Builder
	code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestHistoryCommand(t *testing.T) {
	t.Parallel()
	dir, cfg := historyConfig(t)

	code, out, stderr := runCmd(t, "history", "-config", cfg, "-json", "45.1.1.1")
	if code != 0 {
		t.Fatalf("history -json: exit %d: %s", code, stderr)
	}
	var h addressHistory
	if err := json.Unmarshal([]byte(out), &h); err != nil {
		t.Fatal(err)
	}
	want := historyFeed{Feed: "abuse", Kind: "abuse", Entries: []string{"45.1.1.1/32"}, FirstSeen: "2026-01-01",
		LastSeen: "2026-01-01", State: "retained", Weight: 0.6 * (1 - 3.0/14), RetainDays: 14}
	if h.Date != "2026-01-04" || len(h.Feeds) != 1 || !sameHistoryFeed(h.Feeds[0], want) {
		t.Errorf("history -json 45.1.1.1 = %+v, want date 2026-01-04 and %+v", h, want)
	}

	code, out, _ = runCmd(t, "history", "-config", cfg, "45.1.2.7")
	if code != 0 || !strings.Contains(out, "vpn") || !strings.Contains(out, "listed") || !strings.Contains(out, "45.1.2.0/24") {
		t.Errorf("history 45.1.2.7: exit %d, output\n%s", code, out)
	}
	code, out, _ = runCmd(t, "history", "-config", cfg, "45.9.9.9")
	if code != 0 || !strings.Contains(out, "no feed listed it") {
		t.Errorf("history 45.9.9.9: exit %d, output\n%s", code, out)
	}

	// explain -config shows the history per feed.
	code, out, stderr = runCmd(t, "explain", "-db", filepath.Join(dir, "ipintel.mmdb"), "-config", cfg, "-json", "45.1.1.1")
	if code != 0 {
		t.Fatalf("explain: exit %d: %s", code, stderr)
	}
	var x explanation
	if err := json.Unmarshal([]byte(out), &x); err != nil {
		t.Fatal(err)
	}
	if x.LastSeen != "2026-01-01" || x.FirstSeen != "2026-01-01" || x.History == nil || len(x.History.Feeds) != 1 ||
		x.History.Feeds[0].State != "retained" || x.Score.Stored == nil || *x.Score.Stored != 47 {
		t.Errorf("explain -json 45.1.1.1 = %s", out)
	}

	// Exports carry the dates.
	code, out, _ = runCmd(t, "export", "-db", filepath.Join(dir, "ipintel.mmdb"), "-format", "csv", "-category", "abuse")
	if code != 0 || !strings.Contains(out, "45.1.1.1/32,abuse,2026-01-01,2026-01-01\n") ||
		!strings.Contains(out, "45.1.1.2/32,abuse,2026-01-01,2026-01-04\n") {
		t.Errorf("export csv: exit %d, output\n%s", code, out)
	}
	code, out, _ = runCmd(t, "export", "-db", filepath.Join(dir, "ipintel.mmdb"), "-format", "jsonl", "-category", "vpn")
	if code != 0 || !strings.Contains(out, `"network_first_seen":"2026-01-01","network_last_seen":"2026-01-04"`) {
		t.Errorf("export jsonl: exit %d, output\n%s", code, out)
	}

	// diff counts what the new database retained rather than listed.
	code, out, stderr = runCmd(t, "diff", "-json", filepath.Join(dir, "old.mmdb"), filepath.Join(dir, "ipintel.mmdb"))
	if code != 0 {
		t.Fatalf("diff: exit %d: %s", code, stderr)
	}
	var d diffJSON
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatal(err)
	}
	if d.New.Retained == nil || *d.New.Retained != 1 || d.New.RetainedA.IPv4 != 1 || d.New.Dated != 3 {
		t.Errorf("diff -json: new = %+v", d.New)
	}
	code, out, _ = runCmd(t, "diff", filepath.Join(dir, "old.mmdb"), filepath.Join(dir, "ipintel.mmdb"))
	if code != 0 || !strings.Contains(out, "1 of 3 dated networks retained") {
		t.Errorf("diff: exit %d, output\n%s", code, out)
	}
}

func sameHistoryFeed(a, b historyFeed) bool {
	return a.Feed == b.Feed && a.Kind == b.Kind && strings.Join(a.Entries, " ") == strings.Join(b.Entries, " ") &&
		a.FirstSeen == b.FirstSeen && a.LastSeen == b.LastSeen && a.State == b.State &&
		a.Weight == b.Weight && a.RetainDays == b.RetainDays
}

func TestHistoryCommandErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	noState := filepath.Join(dir, "ipintel.toml")
	if err := os.WriteFile(noState, []byte("[[feed]]\nname = \"a\"\nkind = \"abuse\"\nformat = \"ip-list\"\nurl = \"a.txt\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no address", []string{"history", "-config", noState}, 2, "want exactly one address"},
		{"two addresses", []string{"history", "-config", noState, "1.2.3.4", "5.6.7.8"}, 2, "want exactly one address"},
		{"bad address", []string{"history", "-config", noState, "1.2.3"}, 2, "bad address"},
		{"bad flag", []string{"history", "-nope", "1.2.3.4"}, 2, "flag provided but not defined"},
		{"no state_dir", []string{"history", "-config", noState, "1.2.3.4"}, 1, "has no state_dir"},
		{"no config", []string{"history", "-config", filepath.Join(dir, "missing.toml"), "1.2.3.4"}, 1, "read config"},
	} {
		code, _, stderr := runCmd(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and %q", tc.name, code, stderr, tc.code, tc.want)
		}
	}
}
