package builder_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipintel/ipintel/builder"
)

const goodFeed = `
[[feed]]
name = "ipsum"
kind = "abuse"
format = "ipsum"
url = "feeds/ipsum.txt"
`

func TestParseConfig(t *testing.T) {
	t.Parallel()
	data := `out = "out/ipintel.mmdb"
cache_dir = "cache"
ipv6_prefix = 56
database_type = "GeoIP2-Anonymous-IP"
keep_reserved = true

[weights]
hosting = 0.3

[[feed]]
name = "dc"
kind = "hosting"
format = "csv"
url = "https://example.com/dc.csv"
cidr_column = "cidr"
start_column = 1
weight = 0.25
min_entries = 10
max_shrink = 0.2
max_age = "2d12h"
on_gate_failure = "fail"

[[feed]]
name = "dc2"
kind = "hosting"
format = "ip-list"
url = "dc2.txt"
`
	cfg, err := builder.ParseConfig([]byte(data), "/etc/ipintel/ipintel.toml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Out != "/etc/ipintel/out/ipintel.mmdb" || cfg.CacheDir != "/etc/ipintel/cache" {
		t.Errorf("paths = %q, %q; want them relative to the config file", cfg.Out, cfg.CacheDir)
	}
	if cfg.IPv6Prefix != 56 || cfg.DatabaseType != "GeoIP2-Anonymous-IP" || !cfg.KeepReserved {
		t.Errorf("globals = %d %q %v", cfg.IPv6Prefix, cfg.DatabaseType, cfg.KeepReserved)
	}
	f := cfg.Feeds[0]
	if f.CIDRColumn != "cidr" || f.StartColumn != "1" || !f.HasWeight || f.Weight != 0.25 ||
		f.MinEntries != 10 || f.MaxShrink != 0.2 || f.MaxAge != 60*time.Hour || f.OnGateFailure != "fail" || f.Line != 10 {
		t.Errorf("feed 0 = %+v", f)
	}
	if got := cfg.EffectiveWeight(f); got != 0.25 {
		t.Errorf("EffectiveWeight(dc) = %v, want its own 0.25", got)
	}
	g := cfg.Feeds[1]
	if got := cfg.EffectiveWeight(g); got != 0.3 {
		t.Errorf("EffectiveWeight(dc2) = %v, want the [weights] hosting 0.3", got)
	}
	if g.MaxShrink != builder.DefaultMaxShrink || g.OnGateFailure != "fallback" {
		t.Errorf("defaults = %v %q", g.MaxShrink, g.OnGateFailure)
	}
	if got := cfg.Resolve(g.URL); got != "/etc/ipintel/dc2.txt" {
		t.Errorf("Resolve(%q) = %q", g.URL, got)
	}
}

func TestParseConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, data string
		line       int
		msg        string
	}{
		{"syntax", "out = \"x\"\nipv6_prefix = = 3\n", 2, ""},
		{"unknown top key", "out = \"x\"\nouts = \"y\"\n", 2, "unknown key"},
		{"unknown feed key", goodFeed + "urls = \"z\"\n", 7, "unknown key"},
		{"wrong type", "ipv6_prefix = \"64\"\n", 1, ""},
		{"bad ipv6 prefix", "\nipv6_prefix = 129\n", 2, "ipv6_prefix"},
		{"unknown weight", "[weights]\nhostng = 0.4\n", 2, "unknown category"},
		{"weight too big", "[weights]\nvpn = 1.5\n", 2, "outside [0,1]"},
		{"duplicate name", goodFeed + goodFeed, 9, `duplicate feed name "ipsum"`},
		{"bad name", strings.Replace(goodFeed, `"ipsum"`, `"IPsum feed"`, 1), 3, "must match"},
		{"unknown kind", strings.Replace(goodFeed, `kind = "abuse"`, `kind = "spam"`, 1), 4, `unknown kind "spam"`},
		{"unknown format", strings.Replace(goodFeed, `format = "ipsum"`, `format = "ipsumm"`, 1), 5, `unknown format "ipsumm"`},
		{"asn-list as asn", strings.Replace(strings.Replace(goodFeed, `format = "ipsum"`, `format = "asn-list"`, 1), `"abuse"`, `"asn"`, 1), 5, "asn-list"},
		{"feed weight", goodFeed + "weight = -0.1\n", 7, "weight -0.1 outside [0,1]"},
		{"max_shrink", goodFeed + "max_shrink = 2\n", 7, "max_shrink"},
		{"max_age", goodFeed + "max_age = \"soon\"\n", 7, "max_age"},
		{"on_gate_failure", goodFeed + "on_gate_failure = \"panic\"\n", 7, "on_gate_failure"},
		{"min_count", goodFeed + "min_count = 0\n", 7, "min_count"},
		{"csv column on ip-list", goodFeed + "cidr_column = 0\n", 7, "csv format only"},
		{"no url", "\n[[feed]]\nname = \"a\"\nkind = \"tor\"\nformat = \"ip-list\"\n", 2, "no url"},
		{"unknown output type", "out = \"db.mmdb\"\n[[output]]\npath = \"a.mmdb\"\ntype = \"GeoIP2-City\"\n", 4, `unknown type "GeoIP2-City"`},
		{"output without type", "[[output]]\npath = \"a.mmdb\"\n", 1, `unknown type ""`},
		{"output without path", "[[output]]\ntype = \"GeoLite2-ASN\"\n", 1, "no path"},
		{"duplicate output path", "[[output]]\npath = \"a.mmdb\"\ntype = \"GeoLite2-ASN\"\n\n[[output]]\npath = \"./a.mmdb\"\ntype = \"GeoIP2-Anonymous-IP\"\n", 6, `duplicate output path "./a.mmdb" (first at line 2)`},
		{"output path is out", "out = \"db.mmdb\"\n[[output]]\npath = \"db.mmdb\"\ntype = \"GeoLite2-ASN\"\n", 3, "is the out file"},
		{"unknown output key", "[[output]]\npath = \"a.mmdb\"\nformat = \"x\"\n", 3, "unknown key"},
		{"retain in hours", goodFeed + "retain = \"36h\"\n", 7, "whole number of days"},
		{"retain zero", goodFeed + "retain = \"0d\"\n", 7, "retain"},
		{"retain on an asn feed", strings.Replace(goodFeed, `kind = "abuse"`, `kind = "asn"`, 1) + "retain = \"7d\"\n", 7, "does not apply to an asn feed"},
		{"history_horizon", "history_horizon = \"soon\"\n", 1, "history_horizon"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := builder.ParseConfig([]byte(tc.data), "test.toml")
			if err == nil {
				t.Fatalf("ParseConfig succeeded, want an error at line %d", tc.line)
			}
			ce, ok := errors.AsType[*builder.ConfigError](err)
			if !ok {
				t.Fatalf("error %v (%T) is not a *ConfigError", err, err)
			}
			if ce.Line != tc.line {
				t.Errorf("error %q at line %d, want line %d", err, ce.Line, tc.line)
			}
			if !strings.Contains(err.Error(), "test.toml:") || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not name the file and say %q", err, tc.msg)
			}
		})
	}
}

func TestLoadConfigTestdata(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"testdata/ipintel.toml", "scripts/shared-feeds.toml", "scripts/public-feeds.toml"} {
		if _, err := builder.LoadConfig(filepath.Join("..", p)); err != nil {
			t.Errorf("LoadConfig(%s): %v", p, err)
		}
	}
}

func TestParseConfigOutputs(t *testing.T) {
	t.Parallel()
	data := `out = "ipintel.mmdb"
` + goodFeed + `
[[output]]
path = "maxmind/anonymous-ip.mmdb"
type = "GeoIP2-Anonymous-IP"

[[output]]
type = "GeoIP-Anonymous-Plus"
path = "/var/lib/ipintel/anonymous-plus.mmdb"

[[output]]
path = "asn.mmdb"
type = "GeoLite2-ASN"
`
	cfg, err := builder.ParseConfig([]byte(data), "/etc/ipintel/ipintel.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := []builder.OutputConfig{
		{Path: "/etc/ipintel/maxmind/anonymous-ip.mmdb", Product: builder.ProductAnonymousIP, Line: 9},
		{Path: "/var/lib/ipintel/anonymous-plus.mmdb", Product: builder.ProductAnonymousPlus, Line: 13},
		{Path: "/etc/ipintel/asn.mmdb", Product: builder.ProductASN, Line: 17},
	}
	if len(cfg.Outputs) != len(want) {
		t.Fatalf("Outputs = %+v, want %+v", cfg.Outputs, want)
	}
	for i := range want {
		if cfg.Outputs[i] != want[i] {
			t.Errorf("Outputs[%d] = %+v, want %+v", i, cfg.Outputs[i], want[i])
		}
	}
	if len(cfg.Feeds) != 1 || cfg.Feeds[0].Line != 3 {
		t.Errorf("Feeds = %+v, want the one feed at line 3", cfg.Feeds)
	}
}

func TestParseConfigHistory(t *testing.T) {
	t.Parallel()
	cfg, err := builder.ParseConfig([]byte("state_dir = \"st\"\nhistory_horizon = \"30d\"\n"+goodFeed+"retain = \"14d\"\n"),
		filepath.Join("/etc/ipintel", "ipintel.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StateDir != filepath.Join("/etc/ipintel", "st") || cfg.HistoryHorizon != 30 || cfg.Feeds[0].Retain != 14 {
		t.Errorf("state_dir %q, history_horizon %d, retain %d; want /etc/ipintel/st, 30, 14", cfg.StateDir, cfg.HistoryHorizon, cfg.Feeds[0].Retain)
	}
	if f := cfg.BuilderFeed(cfg.Feeds[0]); f.Retain != 14 {
		t.Errorf("BuilderFeed retain = %d, want 14", f.Retain)
	}
	cfg, err = builder.ParseConfig([]byte(goodFeed), "ipintel.toml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StateDir != "" || cfg.HistoryHorizon != builder.DefaultHistoryHorizon {
		t.Errorf("defaults: state_dir %q, history_horizon %d", cfg.StateDir, cfg.HistoryHorizon)
	}
}
