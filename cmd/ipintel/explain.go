package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/ipintel/ipintel/internal/schema"
	"github.com/ipintel/ipintel/lookup"
)

func init() {
	register(&command{
		Name:      "explain",
		UsageLine: "ipintel explain -db file [-json] addr",
		Short:     "show why an address gets its score and action",
		Long: `
Explain shows how the database classifies one address: the matched
network, its categories and ASN, every feed that contributed (with its kind
and weight from the build manifest), the allowlist feed that suppressed
which risk categories, the noisy-OR arithmetic of the risk score
(score = 100 × (1 − Π(1 − wᵢ)) over the contributing feeds), and the action
the default policy takes with its thresholds.

Databases without an ipintel manifest (MaxMind's, for instance) are
explained with the default weight of each category.`,
		Flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) int {
			db := fs.String("db", "", "database `file` (required)")
			asJSON := fs.Bool("json", false, "print JSON")
			return func(ctx context.Context, e *env, args []string) int {
				if *db == "" {
					return report(e, "explain", usageError("-db is required"))
				}
				if len(args) != 1 {
					return report(e, "explain", usageError("want exactly one address"))
				}
				return runExplain(e, *db, args[0], *asJSON)
			}
		},
	})
}

// explanation is the output of "ipintel explain -json".
type explanation struct {
	IP            string         `json:"ip"`
	Found         bool           `json:"found"`
	Network       *string        `json:"network"`
	Categories    []string       `json:"categories"`
	ASN           uint32         `json:"autonomous_system_number"`
	Org           string         `json:"autonomous_system_organization"`
	Manifest      bool           `json:"manifest"` // weights come from the build manifest
	Feeds         []explainFeed  `json:"feeds"`
	AllowlistedBy []string       `json:"allowlisted_by"`
	Suppressed    []string       `json:"suppressed"` // risk categories an allow feed cleared
	Score         explainScore   `json:"score"`
	Action        string         `json:"action"`
	Thresholds    map[string]int `json:"thresholds"`
}

type explainFeed struct {
	Name     string  `json:"name"`
	Kind     string  `json:"kind"`     // "" when the manifest does not know the feed
	Category string  `json:"category"` // the category the kind sets
	Weight   float64 `json:"weight"`
	Counted  bool    `json:"counted"` // part of the score
	Note     string  `json:"note,omitempty"`
}

type explainScore struct {
	Formula  string `json:"formula"`  // "1-(1-0.9)(1-0.6)=0.96 → 96"
	Computed int    `json:"computed"` // from the formula
	Stored   uint8  `json:"stored"`   // risk_score in the database
	Policy   uint8  `json:"policy"`   // what the policy decided on
}

func runExplain(e *env, path, raw string, asJSON bool) int {
	addr, err := parseQueryAddr(raw)
	if err != nil {
		return report(e, "explain", usageError("bad address: %v", err))
	}
	db, err := lookup.Open(path)
	if err != nil {
		return report(e, "explain", err)
	}
	x := explain(db, addr)
	if asJSON {
		b, err := marshalIndent(x)
		if err != nil {
			return report(e, "explain", err)
		}
		return report(e, "explain", writeAll(e.stdout, b))
	}
	var buf bytes.Buffer
	if err := printExplanation(&buf, x); err != nil {
		return report(e, "explain", err)
	}
	return report(e, "explain", writeAll(e.stdout, trimTrailingSpace(buf.Bytes())))
}

// trimTrailingSpace removes the spaces tabwriter leaves at line ends.
func trimTrailingSpace(b []byte) []byte {
	lines := bytes.Split(b, []byte("\n"))
	for i, l := range lines {
		lines[i] = bytes.TrimRight(l, " ")
	}
	return bytes.Join(lines, []byte("\n"))
}

// explain reconstructs how addr's record came about.
func explain(db *lookup.DB, addr netip.Addr) explanation {
	rec, found := db.Lookup(addr)
	policy := lookup.DefaultPolicy()
	v := policy.Decide(rec)
	x := explanation{
		IP: addr.String(), Found: found, Network: networkPtr(rec, found),
		Categories: rec.Categories.Names(), ASN: rec.ASN, Org: rec.Org,
		Feeds: []explainFeed{}, AllowlistedBy: []string{}, Suppressed: []string{},
		Action:     v.Action.String(),
		Thresholds: map[string]int{"block": policy.BlockAt, "challenge": policy.ChallengeAt},
	}
	if x.Categories == nil {
		x.Categories = []string{}
	}
	m, hasManifest := db.Manifest()
	x.Manifest = hasManifest
	feeds := map[string]schema.ManifestFeed{}
	for _, f := range m.Feeds {
		feeds[f.Name] = f
	}
	allowed := rec.Categories&lookup.CategoryAllow != 0
	var suppressed lookup.Category
	keep := 1.0
	var factors []string
	count := func(w float64) {
		keep *= 1 - w
		factors = append(factors, "(1-"+strconv.FormatFloat(w, 'g', -1, 64)+")")
	}
	names := db.SourceNames(rec.Sources)
	for _, name := range names {
		f, known := feeds[name]
		ef := explainFeed{Name: name, Kind: f.Kind, Weight: f.Weight}
		cat, _ := schema.KindCategory(f.Kind)
		ef.Category = cat.Name()
		switch {
		case !known:
			ef.Note = "not in the build manifest"
		case cat == lookup.CategoryAllow:
			x.AllowlistedBy = append(x.AllowlistedBy, name)
			ef.Note = "allowlist: clears the risk categories"
		case allowed && cat&lookup.CategoryRisk != 0:
			suppressed |= cat
			ef.Note = "suppressed by the allowlist"
		case cat != 0 && rec.Categories&cat == 0:
			ef.Note = "its category is not set on this network"
		case ef.Weight > 0:
			ef.Counted = true
			count(ef.Weight)
		}
		x.Feeds = append(x.Feeds, ef)
	}
	if !hasManifest && !allowed {
		// Without a manifest, one factor per category at its default weight.
		for _, c := range schema.Categories() {
			if rec.Categories&c != 0 && c.DefaultWeight() > 0 {
				x.Feeds = append(x.Feeds, explainFeed{Category: c.Name(), Weight: c.DefaultWeight(), Counted: true,
					Note: "default weight of the category (no build manifest)"})
				count(c.DefaultWeight())
			}
		}
	}
	if s := suppressed.Names(); s != nil {
		x.Suppressed = s
	}
	score := 1 - keep
	x.Score.Computed = schema.Score(keep)
	switch {
	case allowed:
		x.Score.Computed = 0
		x.Score.Formula = "allowlisted → 0"
	case len(factors) == 0:
		x.Score.Formula = "no weighted category → 0"
	default:
		x.Score.Formula = fmt.Sprintf("1-%s=%s → %d", strings.Join(factors, ""), strconv.FormatFloat(round(score, 4), 'g', -1, 64), x.Score.Computed)
	}
	x.Score.Stored = rec.Score
	x.Score.Policy = v.Score
	return x
}

func round(f float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(f*p) / p
}

func printExplanation(w io.Writer, x explanation) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "address\t%s\n", x.IP)
	if !x.Found {
		fmt.Fprintf(tw, "network\tnone: the address is in no network of the database\n")
	} else {
		fmt.Fprintf(tw, "network\t%s\n", *x.Network)
	}
	fmt.Fprintf(tw, "categories\t%s\n", orNone(strings.Join(x.Categories, ", ")))
	if x.ASN != 0 || x.Org != "" {
		fmt.Fprintf(tw, "asn\tAS%d %s\n", x.ASN, x.Org)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	if len(x.Feeds) > 0 {
		fmt.Fprintf(w, "\ncontributing feeds:\n")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  feed\tkind\tcategory\tweight\t\n")
		for _, f := range x.Feeds {
			weight := strconv.FormatFloat(f.Weight, 'g', -1, 64)
			if !f.Counted && f.Weight == 0 {
				weight = "-"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", orDash(f.Name), orDash(f.Kind), orDash(f.Category), weight, f.Note)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
	if len(x.AllowlistedBy) > 0 {
		fmt.Fprintf(w, "\nallowlist: %s cleared %s\n", strings.Join(x.AllowlistedBy, ", "), orNone(strings.Join(x.Suppressed, ", ")))
	}
	fmt.Fprintf(w, "\nscore: %s\n", x.Score.Formula)
	fmt.Fprintf(w, "stored risk_score: %d\n", x.Score.Stored)
	if int(x.Score.Stored) != x.Score.Computed {
		fmt.Fprintf(w, "note: the stored score differs from the arithmetic above; the policy uses the stored score\n")
	}
	fmt.Fprintf(w, "\naction: %s (score %d; block ≥ %d, challenge ≥ %d)\n", x.Action, x.Score.Policy, x.Thresholds["block"], x.Thresholds["challenge"])
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
