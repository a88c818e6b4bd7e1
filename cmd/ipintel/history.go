package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ipintel/ipintel/builder"
	"github.com/ipintel/ipintel/lookup"
	"github.com/ipintel/ipintel/serve"
)

func init() {
	register(&command{
		Name:      "history",
		UsageLine: "ipintel history [-config file] [-json] addr",
		Short:     "show when each feed listed an address's network",
		Long: `
History reads the history the builder keeps in the config's state_dir
(default config ipintel.toml) and shows, per feed, the entries that cover
the address (and, when the config's out database gives the address an
ASN, the asn-list entries naming it): when a build first listed them, when
one last did, and what they weigh on the day of the last build: listed
(the feed's weight), retained (weight × (1 − age/retain), age in whole
days since last seen) or expired (weight 0: no longer counted, but still
remembered until history_horizon).

-json prints the same as one JSON object.

Exit status: 0 (also when no feed ever listed the address), 1 when the
config or the history cannot be read, 2 for a usage error.`,
		Flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) int {
			config := fs.String("config", "ipintel.toml", "config `file`")
			asJSON := fs.Bool("json", false, "print JSON")
			return func(ctx context.Context, e *env, args []string) int {
				if len(args) != 1 {
					return report(e, "history", usageError("want exactly one address"))
				}
				addr, err := serve.ParseAddr(args[0])
				if err != nil {
					return report(e, "history", usageError("bad address: %v", err))
				}
				cfg, err := builder.LoadConfig(*config)
				if err != nil {
					return report(e, "history", err)
				}
				h, err := addrHistory(cfg, addr)
				if err != nil {
					return report(e, "history", err)
				}
				if *asJSON {
					b, err := marshalIndent(h)
					if err != nil {
						return report(e, "history", err)
					}
					return report(e, "history", writeAll(e.stdout, b))
				}
				var buf bytes.Buffer
				printHistory(&buf, h)
				return report(e, "history", writeAll(e.stdout, trimTrailingSpace(buf.Bytes())))
			}
		},
	})
}

// addressHistory is the output of "ipintel history -json".
type addressHistory struct {
	IP    string        `json:"ip"`
	Date  string        `json:"history_date"` // the build that wrote the history; "" when there is none
	ASN   uint32        `json:"autonomous_system_number,omitempty"`
	Feeds []historyFeed `json:"feeds"`
}

// historyFeed is what one feed's history says about the address.
type historyFeed struct {
	Feed      string   `json:"feed"`
	Kind      string   `json:"kind"` // "" for a feed no longer in the config
	Entries   []string `json:"entries"`
	FirstSeen string   `json:"first_seen"`
	LastSeen  string   `json:"last_seen"`
	// State is "listed" (last seen on the history's date), "retained" or
	// "expired".
	State      string  `json:"state"`
	Weight     float64 `json:"weight"` // on the history's date
	RetainDays int     `json:"retain_days"`
}

// addrHistory reads the history of cfg's state_dir for addr.
func addrHistory(cfg *builder.Config, addr netip.Addr) (addressHistory, error) {
	out := addressHistory{IP: addr.String(), Feeds: []historyFeed{}}
	if cfg.StateDir == "" {
		return out, fmt.Errorf("config %s has no state_dir: the builder keeps no history", cfg.Path)
	}
	h, err := builder.ReadHistory(cfg.StateDir)
	if err != nil {
		return out, err
	}
	if h.Len() == 0 {
		return out, nil
	}
	on := h.Date()
	out.Date = on.Format(time.DateOnly)
	if cfg.Out != "" {
		// The ASN that asn-list feeds match comes from the database.
		db, err := lookup.Open(cfg.Out)
		switch {
		case err == nil:
			if rec, ok := db.Lookup(addr); ok {
				out.ASN = rec.ASN
			}
		case !errors.Is(err, fs.ErrNotExist):
			return out, err
		}
	}
	feedConfigs := map[string]builder.FeedConfig{}
	for _, fc := range cfg.Feeds {
		feedConfigs[fc.Name] = fc
	}
	for _, s := range h.Covering(addr, out.ASN) {
		n := len(out.Feeds)
		if n == 0 || out.Feeds[n-1].Feed != s.Feed {
			fc, known := feedConfigs[s.Feed]
			hf := historyFeed{Feed: s.Feed, RetainDays: fc.Retain, State: "expired"}
			if known {
				hf.Kind = string(fc.Kind)
			}
			out.Feeds = append(out.Feeds, hf)
			n++
		}
		hf := &out.Feeds[n-1]
		entry := "AS" + strconv.FormatUint(uint64(s.ASN), 10)
		if s.Prefix.IsValid() {
			entry = s.Prefix.String()
		}
		hf.Entries = append(hf.Entries, entry)
		first, last := s.First.Format(time.DateOnly), s.Last.Format(time.DateOnly)
		if hf.FirstSeen == "" || first < hf.FirstSeen {
			hf.FirstSeen = first
		}
		if last > hf.LastSeen {
			hf.LastSeen = last
		}
		fc, known := feedConfigs[s.Feed]
		if !known {
			continue
		}
		if w, ok := cfg.RetainedWeight(fc, s.Last, on); ok {
			state := "retained"
			if !s.Last.Before(on) {
				state = "listed"
			}
			if hf.State != "listed" {
				hf.State = state
			}
			hf.Weight = max(hf.Weight, w)
		}
	}
	return out, nil
}

func printHistory(w io.Writer, h addressHistory) {
	if h.Date == "" {
		fmt.Fprintf(w, "%s: no history yet\n", h.IP)
		return
	}
	fmt.Fprintf(w, "%s: history of the build of %s\n", h.IP, h.Date)
	if len(h.Feeds) == 0 {
		fmt.Fprintf(w, "no feed listed it\n")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "feed\tkind\tfirst seen\tlast seen\tstate\tweight\tentries\n")
	for _, f := range h.Feeds {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Feed, orDash(f.Kind), f.FirstSeen, f.LastSeen,
			historyState(f), strconv.FormatFloat(round(f.Weight, 4), 'g', -1, 64), strings.Join(f.Entries, " "))
	}
	tw.Flush()
}

func historyState(f historyFeed) string {
	if f.State == "retained" {
		return fmt.Sprintf("retained (%dd)", f.RetainDays)
	}
	return f.State
}

// historyFor returns addr's history when configPath names a config with a
// state_dir, for explain; nil without one.
func historyFor(configPath string, addr netip.Addr) (*addressHistory, error) {
	if configPath == "" {
		return nil, nil
	}
	if _, err := os.Stat(configPath); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := builder.LoadConfig(configPath)
	if err != nil {
		return nil, err
	}
	if cfg.StateDir == "" {
		return nil, nil
	}
	h, err := addrHistory(cfg, addr)
	if err != nil {
		return nil, err
	}
	return &h, nil
}
