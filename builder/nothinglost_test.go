package builder_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipintel/ipintel/builder"
)

// nlEnv builds from local files in one directory, into one output.
type nlEnv struct {
	dir, out string
}

func newNLEnv(t *testing.T) *nlEnv {
	dir := t.TempDir()
	return &nlEnv{dir: dir, out: filepath.Join(dir, "ipintel.mmdb")}
}

func (e *nlEnv) file(t *testing.T, name, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(e.dir, name), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// build writes the config and runs a build with it.
func (e *nlEnv) build(t *testing.T, config string, opts builder.RunOptions) (*builder.Summary, error) {
	t.Helper()
	path := filepath.Join(e.dir, "ipintel.toml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := builder.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	opts.Out = e.out
	opts.CacheDir = filepath.Join(e.dir, "cache")
	if opts.Epoch == 0 {
		opts.Epoch = 1767225600
	}
	return builder.Run(context.Background(), cfg, opts)
}

func (e *nlEnv) bytes(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(e.out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func addrs(prefix string, n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%s.%d\n", prefix, i)
	}
	return b.String()
}

const twoAbuseFeeds = `
[[feed]]
name = "a"
kind = "abuse"
format = "ip-list"
url = "a.txt"

[[feed]]
name = "b"
kind = "abuse"
format = "ip-list"
url = "b.txt"
`

func TestDatabaseGates(t *testing.T) {
	t.Parallel()
	t.Run("no networks", func(t *testing.T) {
		t.Parallel()
		e := newNLEnv(t)
		e.file(t, "a.txt", addrs("45.1.1", 20))
		if _, err := e.build(t, twoAbuseFeeds[:strings.Index(twoAbuseFeeds, "[[feed]]\nname = \"b\"")], builder.RunOptions{}); err != nil {
			t.Fatal(err)
		}
		before := e.bytes(t)
		_, err := e.build(t, "# no feeds\n", builder.RunOptions{})
		if dg, ok := errors.AsType[*builder.DatabaseGateError](err); !ok || !strings.Contains(dg.Error(), "no networks") {
			t.Fatalf("build with no feeds = %v; want a DatabaseGateError saying no networks", err)
		}
		if !bytes.Equal(e.bytes(t), before) {
			t.Error("a gated build changed the published database")
		}
		sum, err := e.build(t, "# no feeds\n", builder.RunOptions{Force: true})
		if err != nil {
			t.Fatalf("forced: %v", err)
		}
		m, _, err := builder.ReadManifest(e.out)
		if err != nil || len(m.Forced) == 0 || len(sum.Forced) == 0 {
			t.Errorf("forced build manifest %+v (%v), summary forced %v: want the overridden gate listed", m, err, sum.Forced)
		}
	})
	t.Run("category shrink", func(t *testing.T) {
		t.Parallel()
		e := newNLEnv(t)
		e.file(t, "a.txt", addrs("45.1.1", 20))
		e.file(t, "b.txt", "46.1.1.1\n")
		if _, err := e.build(t, twoAbuseFeeds, builder.RunOptions{}); err != nil {
			t.Fatal(err)
		}
		before := e.bytes(t)
		// Feed a dropped from the config: the per-feed gates cannot see it.
		onlyB := twoAbuseFeeds[strings.Index(twoAbuseFeeds, "[[feed]]\nname = \"b\""):]
		_, err := e.build(t, onlyB, builder.RunOptions{})
		if dg, ok := errors.AsType[*builder.DatabaseGateError](err); !ok || !strings.Contains(dg.Error(), "abuse") ||
			!strings.Contains(dg.Error(), "max_category_shrink") {
			t.Fatalf("build losing most abuse networks = %v; want a DatabaseGateError naming abuse and max_category_shrink", err)
		}
		if !bytes.Equal(e.bytes(t), before) {
			t.Error("a gated build changed the published database")
		}
		// Off in the config: published.
		if _, err := e.build(t, "[gates]\nmax_category_shrink = 1\n"+onlyB, builder.RunOptions{}); err != nil {
			t.Errorf("with the gate off: %v", err)
		}
	})
	t.Run("category growth", func(t *testing.T) {
		t.Parallel()
		e := newNLEnv(t)
		e.file(t, "a.txt", addrs("45.1.1", 20))
		e.file(t, "b.txt", "46.1.1.1\n")
		if _, err := e.build(t, twoAbuseFeeds, builder.RunOptions{}); err != nil {
			t.Fatal(err)
		}
		before := e.bytes(t)
		// A /9 passes the line gate (max_entry_size /8) but multiplies the
		// abuse space: the same config's previous build says it is wrong.
		e.file(t, "b.txt", "46.0.0.0/9\n")
		_, err := e.build(t, twoAbuseFeeds, builder.RunOptions{})
		if dg, ok := errors.AsType[*builder.DatabaseGateError](err); !ok || !strings.Contains(dg.Error(), "max_category_growth") {
			t.Fatalf("build with a /9 in an abuse list = %v; want a DatabaseGateError naming max_category_growth", err)
		}
		if !bytes.Equal(e.bytes(t), before) {
			t.Error("a gated build changed the published database")
		}
		if _, err := e.build(t, twoAbuseFeeds, builder.RunOptions{Force: true}); err != nil {
			t.Errorf("forced: %v", err)
		}
	})
}

// One 0.0.0.0/0 in an abuse list, or a /1 in an allowlist, is an invalid
// line: it neither flags nor clears the Internet.
func TestPoisonedLines(t *testing.T) {
	t.Parallel()
	e := newNLEnv(t)
	e.file(t, "a.txt", "0.0.0.0/0\n::/0\n2000::/3\n45.1.1.1\n8.0.0.0/7\n10.0.0.0/8\n0.0.0.0/7\n")
	e.file(t, "allow.txt", "0.0.0.0/1\n45.1.1.1\n")
	cfg := `
[[feed]]
name = "a"
kind = "abuse"
format = "ip-list"
url = "a.txt"

[[feed]]
name = "allow"
kind = "allow"
format = "ip-list"
url = "allow.txt"

[[feed]]
name = "big"
kind = "hosting"
format = "ip-list"
url = "big.txt"
max_entry_size = 6
`
	e.file(t, "big.txt", "8.0.0.0/7\n")
	sum, err := e.build(t, cfg, builder.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// 0.0.0.0/0, ::/0, 2000::/3 and 8.0.0.0/7 are too large; 10.0.0.0/8
	// is reserved (dropped, not invalid) and 0.0.0.0/7 holds only one
	// public /8 once 0.0.0.0/8 is removed.
	if f := sum.Feeds[0]; f.TooLarge != 4 || f.Invalid != 4 || f.Records != 3 {
		t.Errorf("abuse feed %+v; want 4 lines too large (and invalid), 3 entries", f)
	}
	if f := sum.Feeds[1]; f.TooLarge != 1 || f.Records != 1 {
		t.Errorf("allow feed %+v; want its /1 too large", f)
	}
	if f := sum.Feeds[2]; f.TooLarge != 0 || f.Records != 1 {
		t.Errorf("feed with max_entry_size 6 = %+v; want its /7 kept", f)
	}
	for addr, want := range map[string]bool{"8.8.8.8": false, "45.1.1.1": false, "1.2.3.4": true} {
		if got := isAbuse(t, e.out, addr); got != want {
			t.Errorf("%s is_abuse = %v, want %v", addr, got, want)
		}
	}
}

// A cancelled build stops at its next stage, publishes nothing and
// returns the context's error.
func TestRunCancelled(t *testing.T) {
	t.Parallel()
	for _, stage := range []string{"start", "parsing", "merging", "writing"} {
		t.Run(stage, func(t *testing.T) {
			t.Parallel()
			e := newNLEnv(t)
			e.file(t, "a.txt", addrs("45.1.1", 20))
			e.file(t, "b.txt", "46.1.1.1\n")
			if _, err := e.build(t, twoAbuseFeeds, builder.RunOptions{}); err != nil {
				t.Fatal(err)
			}
			before := e.bytes(t)
			e.file(t, "b.txt", "46.1.1.1\n47.1.1.1\n")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if stage == "start" {
				cancel()
			}
			path := filepath.Join(e.dir, "ipintel.toml")
			cfg, err := builder.LoadConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = builder.Run(ctx, cfg, builder.RunOptions{
				Out: e.out, CacheDir: filepath.Join(e.dir, "cache"), Epoch: 1767225600,
				Progress: func(p builder.Progress) {
					if p.Stage == stage {
						cancel()
					}
				},
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Run cancelled at %s = %v, want context.Canceled", stage, err)
			}
			if !bytes.Equal(e.bytes(t), before) {
				t.Error("a cancelled build changed the published database")
			}
			tmps, _ := filepath.Glob(filepath.Join(e.dir, ".ipintel.mmdb.*"))
			if len(tmps) > 0 {
				t.Errorf("temporary files left: %v", tmps)
			}
		})
	}
}

// An IPv6 entry wholly inside space the database does not hold is dropped
// before it is widened: ::1 must not flag ::/64, nor 2001:db8::1 its /64.
func TestReservedBeforeWidening(t *testing.T) {
	t.Parallel()
	e := newNLEnv(t)
	e.file(t, "a.txt", "::1\n2001:db8::1\n2a00:1450::1\n")
	cfg := "[[feed]]\nname = \"a\"\nkind = \"abuse\"\nformat = \"ip-list\"\nurl = \"a.txt\"\n"
	sum, err := e.build(t, cfg, builder.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Networks != 1 {
		t.Errorf("%d networks, want only 2a00:1450::/64", sum.Networks)
	}
	for addr, want := range map[string]bool{"::1:0:5": false, "::1:2:3:4": false, "2001:db8::5": false, "2a00:1450::77": true} {
		if got := isAbuse(t, e.out, addr); got != want {
			t.Errorf("%s is_abuse = %v, want %v", addr, got, want)
		}
	}
}
