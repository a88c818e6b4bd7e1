package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ipintel/ipintel/lookup"
	"github.com/ipintel/ipintel/schema"
)

func init() {
	register(&command{
		Name:      "info",
		UsageLine: "ipintel info -db file [-json]",
		Short:     "show a database's metadata, manifest and counts",
		Long: `
Info prints a database's MMDB metadata, its ipintel build manifest (feeds,
weights, thresholds) when it has one, the size of the in-memory engine, and
per category the networks and the addresses they cover: IPv4 in addresses,
IPv6 in /64s (a network longer than /64 counts as one /64).

With -json the same is one JSON object.`,
		Flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) int {
			db := fs.String("db", "", "database `file` (required)")
			asJSON := fs.Bool("json", false, "print JSON")
			return func(ctx context.Context, e *env, args []string) int {
				if *db == "" {
					return report(e, "info", usageError("-db is required"))
				}
				if len(args) > 0 {
					return report(e, "info", usageError("unexpected arguments %q", args))
				}
				return runInfo(ctx, e, *db, *asJSON)
			}
		},
	})
}

// infoJSON is the output of "ipintel info -json".
type infoJSON struct {
	Metadata   metadataJSON         `json:"metadata"`
	Manifest   *schema.Manifest     `json:"manifest"` // null without one
	Engine     engineJSON           `json:"engine"`
	Networks   countJSON            `json:"networks"`
	Categories map[string]countJSON `json:"categories"` // by category name
	Sources    map[string]countJSON `json:"sources"`    // by feed name
	Actions    map[string]countJSON `json:"actions"`    // by default-policy action
	ASNs       int                  `json:"asns"`       // distinct autonomous systems
}

type metadataJSON struct {
	DatabaseType string            `json:"database_type"`
	IPVersion    uint              `json:"ip_version"`
	RecordSize   uint              `json:"record_size"`
	NodeCount    uint              `json:"node_count"`
	BuildEpoch   int64             `json:"build_epoch"`
	BuildTime    string            `json:"build_time"`
	Format       string            `json:"binary_format"`
	Languages    []string          `json:"languages"`
	Description  map[string]string `json:"description"` // without the manifest
}

type engineJSON struct {
	Ranges int `json:"ranges"`
	Bytes  int `json:"bytes"`
}

// countJSON counts networks and the address space they cover.
type countJSON struct {
	Networks      int    `json:"networks"`
	IPv4Addresses uint64 `json:"ipv4_addresses"`
	IPv6Slash64s  uint64 `json:"ipv6_64s"`
}

func (c *countJSON) add(pfx netip.Prefix) {
	v4, v6 := prefixCount(pfx)
	c.Networks++
	c.IPv4Addresses = satAdd(c.IPv4Addresses, v4)
	c.IPv6Slash64s = satAdd(c.IPv6Slash64s, v6)
}

func satAdd(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return 1<<64 - 1
}

func runInfo(ctx context.Context, e *env, path string, asJSON bool) int {
	db, err := lookup.Open(path)
	if err != nil {
		return report(e, "info", err)
	}
	info, err := collectInfo(ctx, db)
	if err != nil {
		return report(e, "info", err)
	}
	if asJSON {
		b, err := marshalIndent(info)
		if err != nil {
			return report(e, "info", err)
		}
		return report(e, "info", writeAll(e.stdout, b))
	}
	var buf bytes.Buffer
	if err := printInfo(&buf, info); err != nil {
		return report(e, "info", err)
	}
	return report(e, "info", writeAll(e.stdout, trimTrailingSpace(buf.Bytes())))
}

func collectInfo(ctx context.Context, db *lookup.DB) (*infoJSON, error) {
	md := db.Metadata()
	info := &infoJSON{
		Metadata: metadataJSON{
			DatabaseType: md.DatabaseType,
			IPVersion:    md.IPVersion,
			RecordSize:   md.RecordSize,
			NodeCount:    md.NodeCount,
			BuildEpoch:   md.BuildEpoch.Unix(),
			BuildTime:    md.BuildEpoch.UTC().Format(time.RFC3339),
			Format:       fmt.Sprintf("%d.%d", md.BinaryFormatMajorVersion, md.BinaryFormatMinorVersion),
			Languages:    md.Languages,
			Description:  map[string]string{},
		},
		Engine:     engineJSON{Ranges: db.Len(), Bytes: db.Bytes()},
		Categories: map[string]countJSON{},
		Sources:    map[string]countJSON{},
		Actions:    map[string]countJSON{},
	}
	if info.Metadata.Languages == nil {
		info.Metadata.Languages = []string{}
	}
	for k, v := range md.Description {
		if k != schema.ManifestDescriptionKey {
			info.Metadata.Description[k] = v
		}
	}
	if m, ok := db.Manifest(); ok {
		info.Manifest = &m
	}
	policy := lookup.DefaultPolicy()
	asns := map[uint32]bool{}
	n := 0
	for pfx, rec := range db.All() {
		if n++; n%65536 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		info.Networks.add(pfx)
		for _, c := range schema.Categories() {
			if rec.Categories&c != 0 {
				cnt := info.Categories[c.Name()]
				cnt.add(pfx)
				info.Categories[c.Name()] = cnt
			}
		}
		for _, s := range db.SourceNames(rec.Sources) {
			cnt := info.Sources[s]
			cnt.add(pfx)
			info.Sources[s] = cnt
		}
		a := policy.Decide(rec).Action.String()
		cnt := info.Actions[a]
		cnt.add(pfx)
		info.Actions[a] = cnt
		if rec.ASN != 0 {
			asns[rec.ASN] = true
		}
	}
	info.ASNs = len(asns)
	return info, nil
}

func printInfo(w io.Writer, info *infoJSON) error {
	md := info.Metadata
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "database_type\t%s\n", md.DatabaseType)
	fmt.Fprintf(tw, "ip_version\t%d\n", md.IPVersion)
	fmt.Fprintf(tw, "build_epoch\t%d (%s)\n", md.BuildEpoch, md.BuildTime)
	fmt.Fprintf(tw, "record_size\t%d bits, %d nodes, format %s\n", md.RecordSize, md.NodeCount, md.Format)
	for _, k := range slices.Sorted(maps.Keys(md.Description)) {
		fmt.Fprintf(tw, "description[%s]\t%s\n", k, md.Description[k])
	}
	fmt.Fprintf(tw, "networks\t%d (%s IPv4 addresses, %s IPv6 /64s)\n", info.Networks.Networks,
		fmtCount(info.Networks.IPv4Addresses), fmtCount(info.Networks.IPv6Slash64s))
	fmt.Fprintf(tw, "asns\t%d\n", info.ASNs)
	fmt.Fprintf(tw, "engine\t%d ranges, %d bytes\n", info.Engine.Ranges, info.Engine.Bytes)
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}

	fmt.Fprintf(w, "\ncategories:\n")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  category\tnetworks\tIPv4 addresses\tIPv6 /64s\n")
	for _, c := range schema.Categories() {
		cnt := info.Categories[c.Name()]
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\n", c.Name(), cnt.Networks, fmtCount(cnt.IPv4Addresses), fmtCount(cnt.IPv6Slash64s))
	}
	for _, a := range []lookup.Action{lookup.ActionAllow, lookup.ActionChallenge, lookup.ActionBlock} {
		cnt := info.Actions[a.String()]
		fmt.Fprintf(tw, "  action %s\t%d\t%s\t%s\n", a, cnt.Networks, fmtCount(cnt.IPv4Addresses), fmtCount(cnt.IPv6Slash64s))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}

	m := info.Manifest
	if m == nil {
		fmt.Fprintf(w, "\nmanifest: none (not built by ipintel)\n")
		return nil
	}
	fmt.Fprintf(w, "\nmanifest:\n")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  builder\t%s (schema v%d)\n", m.Builder, m.SchemaVersion)
	fmt.Fprintf(tw, "  config_sha256\t%s\n", m.ConfigSHA256)
	fmt.Fprintf(tw, "  ipv6_prefix\t/%d\n", m.IPv6Prefix)
	fmt.Fprintf(tw, "  thresholds\tblock ≥ %d, challenge ≥ %d\n", m.Block, m.Challenge)
	var ws []string
	for _, k := range slices.Sorted(maps.Keys(m.Weights)) {
		ws = append(ws, k+"="+strconv.FormatFloat(m.Weights[k], 'g', -1, 64))
	}
	fmt.Fprintf(tw, "  weights\t%s\n", strings.Join(ws, " "))
	fmt.Fprintf(tw, "  networks written\t%d (%d reserved entries dropped)\n", m.Networks, m.Reserved)
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	fmt.Fprintf(w, "\nfeeds:\n")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	// The manifest's entries are the records accepted and its prefixes the
	// prefix entries: the words of "ipintel build" and "feeds check".
	fmt.Fprintf(tw, "name\tkind\tformat\tweight\trecords\tinvalid\tentries\tnetworks\tgate\tfetched\tsha256\n")
	for _, f := range m.Feeds {
		fetched := f.FetchedAt
		if fetched == "" {
			fetched = "-"
		}
		if f.FromCache {
			fetched += " (cache)"
		}
		gate := string(f.Gate)
		if f.GateReason != "" {
			gate += ": " + f.GateReason
		}
		sum := f.SHA256
		if len(sum) > 12 {
			sum = sum[:12]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", f.Name, f.Kind, f.Format,
			strconv.FormatFloat(f.Weight, 'g', -1, 64), f.Records, f.Invalid, f.Entries,
			info.Sources[f.Name].Networks, gate, fetched, sum)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// fmtCount prints a count, saturated counts as "≥ 2^64".
func fmtCount(n uint64) string {
	if n == 1<<64-1 {
		return "≥2^64"
	}
	return strconv.FormatUint(n, 10)
}
