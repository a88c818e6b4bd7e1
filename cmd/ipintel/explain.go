package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/ipintel/ipintel/lookup"
	"github.com/ipintel/ipintel/schema"
	"github.com/ipintel/ipintel/serve"
	"github.com/oschwald/maxminddb-golang/v2"
)

func init() {
	register(&command{
		Name:      "explain",
		UsageLine: "ipintel explain -db file [-config file] [-json] addr",
		Short:     "show why an address gets its score and action",
		Long: `
Explain shows how the database classifies one address: the matched
network, its categories, ASN, provider, anonymizer confidence and first and
last seen days; every feed that contributed (with its kind and weight from
the build manifest) and, for each remaining category, its strongest feed;
what clearing feeds removed (an allowlist, a crawler's or a relay's own
ranges), which no longer counts; the noisy-OR arithmetic of the risk score
over categories, each counted once at its strongest feed's weight
(score = 100 × (1 − Π(1 − wᵢ))); and the action the default policy takes,
with the score it was decided on and whether that score is the one stored
in the file or the policy's.

With -config, the history the builder keeps in the config's state_dir is
shown too, per feed: the entries that cover the address, when they were
first and last listed, and their weight on the day of the last build
(retained entries fade; see "ipintel help history").

A file that stores no risk_score (MaxMind's, for instance) is scored by
the policy from the default weight of each category; explain then shows
that arithmetic.`,
		Flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) int {
			db := fs.String("db", "", "database `file` (required)")
			asJSON := fs.Bool("json", false, "print JSON")
			config := fs.String("config", "", "config `file` whose state_dir history to show per feed")
			return func(ctx context.Context, e *env, args []string) int {
				if *db == "" {
					return report(e, "explain", usageError("-db is required"))
				}
				if len(args) != 1 {
					return report(e, "explain", usageError("want exactly one address"))
				}
				return runExplain(e, *db, args[0], *asJSON, *config)
			}
		},
	})
}

// explanation is the output of "ipintel explain -json".
type explanation struct {
	IP         string           `json:"ip"`
	Found      bool             `json:"found"`
	Network    *string          `json:"network"`
	Categories []string         `json:"categories"`
	ASN        uint32           `json:"autonomous_system_number"`
	Org        string           `json:"autonomous_system_organization"`
	Provider   string           `json:"provider_name"`
	Confidence uint8            `json:"anonymizer_confidence"`
	LastSeen   string           `json:"network_last_seen"`
	FirstSeen  string           `json:"network_first_seen"`
	Manifest   bool             `json:"manifest"` // weights come from the build manifest
	Feeds      []explainFeed    `json:"feeds"`    // the record's sources
	Cleared    []explainCleared `json:"cleared"`  // evidence that clearing feeds outranked
	Factors    []explainFactor  `json:"factors"`  // one per remaining weighted category
	Score      explainScore     `json:"score"`
	Action     string           `json:"action"`
	Thresholds map[string]int   `json:"thresholds"`
	// History is, with -config, what the state_dir's history says per feed.
	History *addressHistory `json:"history,omitempty"`
}

type explainFeed struct {
	Name     string  `json:"name"`
	Kind     string  `json:"kind"`     // "" when the manifest does not know the feed
	Category string  `json:"category"` // the category the kind sets
	Weight   float64 `json:"weight"`
	Counted  bool    `json:"counted"` // its weight is its category's factor
	Note     string  `json:"note,omitempty"`
}

// explainCleared is one entry of the record's cleared key: feed's evidence
// for categories, which the clearing feed by outranked.
type explainCleared struct {
	Feed       string   `json:"feed"`
	Kind       string   `json:"kind"` // "" when the manifest does not know the feed
	Categories []string `json:"categories"`
	By         string   `json:"by"`
}

// explainFactor is one category's factor of the noisy-OR.
type explainFactor struct {
	Category string  `json:"category"`
	Weight   float64 `json:"weight"`
	Feed     string  `json:"feed"` // the strongest feed; "" for the category's default weight
}

type explainScore struct {
	// Source says what the action was decided on: "stored", the file's
	// risk_score, or "policy", the policy's arithmetic (the file stores
	// no score).
	Source   string `json:"source"`
	Formula  string `json:"formula"`  // "1-(1-0.9)(1-0.6)=0.96 → 96"
	Computed int    `json:"computed"` // from the formula
	Stored   *uint8 `json:"stored"`   // risk_score in the file; null when it stores none
	Decided  uint8  `json:"decided"`  // the score the action was decided on
}

func runExplain(e *env, path, raw string, asJSON bool, config string) int {
	addr, err := serve.ParseAddr(raw)
	if err != nil {
		return report(e, "explain", usageError("bad address: %v", err))
	}
	db, err := lookup.Open(path)
	if err != nil {
		return report(e, "explain", err)
	}
	x := explain(db, addr)
	if x.Found {
		cleared, err := readCleared(path, addr)
		if err != nil {
			return report(e, "explain", err)
		}
		x.setCleared(db, cleared)
	}
	if x.History, err = historyFor(config, addr); err != nil {
		return report(e, "explain", err)
	}
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

// clearedEntry is one element of an MMDB record's cleared key.
type clearedEntry struct {
	Feed     string `maxminddb:"feed"`
	Category string `maxminddb:"category"` // comma-separated category names
	By       string `maxminddb:"by"`
}

// readCleared decodes the cleared key of addr's record from the file at
// path. The lookup engine does not keep it: only explain reads it, so it
// is decoded here, off the hot path, with maxminddb-golang.
func readCleared(path string, addr netip.Addr) ([]clearedEntry, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, openError(path, err)
	}
	defer r.Close()
	var rec struct {
		Cleared []clearedEntry `maxminddb:"cleared"`
	}
	if err := r.Lookup(addr).Decode(&rec); err != nil {
		if _, isType := errors.AsType[maxminddb.UnmarshalTypeError](err); isType {
			return nil, nil // not a map, or a cleared of another shape: nothing to show
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return rec.Cleared, nil
}

// setCleared records what clearing feeds removed from the network.
func (x *explanation) setCleared(db *lookup.DB, cleared []clearedEntry) {
	m, _ := db.Manifest()
	mf := newManifestFeeds(m)
	for _, c := range cleared {
		ec := explainCleared{Feed: c.Feed, Kind: string(mf.byName[c.Feed].Kind), By: c.By, Categories: []string{}}
		for n := range strings.SplitSeq(c.Category, ",") {
			if n = strings.TrimSpace(n); n != "" {
				ec.Categories = append(ec.Categories, n)
			}
		}
		x.Cleared = append(x.Cleared, ec)
	}
}

// explain reconstructs how addr's record came about and how the default
// policy decides on it. What was cleared is not in the engine's record;
// runExplain adds it with setCleared.
func explain(db *lookup.DB, addr netip.Addr) explanation {
	rec, found := db.Lookup(addr)
	policy := lookup.DefaultPolicy()
	v := policy.Decide(rec)
	x := explanation{
		IP: addr.String(), Found: found, Network: networkPtr(rec, found),
		Categories: rec.Categories.Names(), ASN: rec.ASN, Org: rec.Org,
		Provider: rec.Provider, Confidence: rec.Confidence,
		LastSeen: rec.LastSeen.String(), FirstSeen: rec.FirstSeen.String(),
		Feeds: []explainFeed{}, Cleared: []explainCleared{}, Factors: []explainFactor{},
		Action:     v.Action.String(),
		Thresholds: map[string]int{"block": policy.BlockAt, "challenge": policy.ChallengeAt},
	}
	if x.Categories == nil {
		x.Categories = []string{}
	}
	m, hasManifest := db.Manifest()
	x.Manifest = hasManifest
	mf := newManifestFeeds(m)
	names := db.SourceNames(rec.Sources)
	strongest := mf.strongest(names, rec.Categories)
	for _, name := range names {
		x.Feeds = append(x.Feeds, mf.explainFeed(name, rec.Categories, strongest))
	}
	x.Score.Source = v.Source.String()
	x.Score.Decided = v.Score
	if rec.Scored {
		s := rec.Score
		x.Score.Stored = &s
	}
	allowed := rec.Categories&lookup.CategoryAllow != 0
	keep := 1.0
	var factors []string
	if !allowed {
		x.Factors = scoreFactors(rec, m.Weights, mf, strongest)
		for _, f := range x.Factors {
			keep *= 1 - f.Weight
			factors = append(factors, "(1-"+strconv.FormatFloat(f.Weight, 'g', -1, 64)+")")
		}
	}
	x.Score.Computed = schema.Score(keep)
	switch {
	case allowed:
		x.Score.Computed = 0
		x.Score.Formula = "allowlisted → 0"
	case len(factors) == 0:
		x.Score.Formula = "no weighted category → 0"
	default:
		x.Score.Formula = fmt.Sprintf("1-%s=%s → %d", strings.Join(factors, ""), strconv.FormatFloat(round(1-keep, 4), 'g', -1, 64), x.Score.Computed)
	}
	return x
}

// manifestFeeds indexes the build manifest's feeds by name.
type manifestFeeds struct {
	byName map[string]schema.ManifestFeed
	order  map[string]int // config order: a tie goes to the feed listed first
}

func newManifestFeeds(m schema.Manifest) manifestFeeds {
	mf := manifestFeeds{byName: map[string]schema.ManifestFeed{}, order: map[string]int{}}
	for i, f := range m.Feeds {
		mf.byName[f.Name] = f
		mf.order[f.Name] = i
	}
	return mf
}

// strongest returns the strongest of the named feeds for each category of
// cats that one of them sets: the largest weight, then the feed listed
// first in the config. An asn-list feed counts in its kind's category.
func (mf manifestFeeds) strongest(names []string, cats lookup.Category) map[lookup.Category]string {
	out := map[lookup.Category]string{}
	for _, name := range names {
		f, known := mf.byName[name]
		cat, _ := f.Kind.Category()
		if !known || cat == 0 || cats&cat == 0 {
			continue
		}
		s, ok := out[cat]
		if w := mf.byName[s].Weight; !ok || f.Weight > w || f.Weight == w && mf.order[name] < mf.order[s] {
			out[cat] = name
		}
	}
	return out
}

// explainFeed describes the part the named feed plays in a record of
// categories cats.
func (mf manifestFeeds) explainFeed(name string, cats lookup.Category, strongest map[lookup.Category]string) explainFeed {
	f, known := mf.byName[name]
	ef := explainFeed{Name: name, Kind: string(f.Kind), Weight: f.Weight}
	cat, _ := f.Kind.Category()
	ef.Category = cat.Name()
	switch {
	case !known:
		ef.Note = "not in the build manifest"
	case cat == lookup.CategoryAllow:
		ef.Note = "allowlist: clears the risk categories"
	case cat != 0 && cats&cat == 0:
		ef.Note = "its category is not set on this network"
	case cat == 0:
	case cats&lookup.CategoryAllow != 0 && cat&lookup.CategoryRisk != 0:
		ef.Note = "cleared by the allowlist"
	case strongest[cat] != name:
		ef.Note = "counted once, at " + strongest[cat] + "'s weight"
	case ef.Weight > 0:
		ef.Counted = true
		ef.Note = "strongest " + cat.Name() + " feed"
	default:
		ef.Note = cat.Name() + " weighs 0"
	}
	return ef
}

// scoreFactors returns one factor per weighted category of rec. The
// policy's own arithmetic, for a record that stores no score, uses the
// categories' default weights; the builder's uses its feeds' weights, so
// for a stored score each category gets its strongest feed's weight, or,
// when no known feed sets it, the manifest's weight of the category.
func scoreFactors(rec lookup.Record, weights map[string]float64, mf manifestFeeds, strongest map[lookup.Category]string) []explainFactor {
	out := []explainFactor{}
	for _, c := range schema.Categories() {
		if rec.Categories&c == 0 || c == lookup.CategoryAllow {
			continue
		}
		f := explainFactor{Category: c.Name(), Weight: c.DefaultWeight()}
		if rec.Scored {
			if name, ok := strongest[c]; ok {
				f.Feed, f.Weight = name, mf.byName[name].Weight
			} else if w, ok := weights[c.Name()]; ok {
				f.Weight = w
			}
		}
		if f.Weight > 0 {
			out = append(out, f)
		}
	}
	return out
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
	if x.Provider != "" {
		fmt.Fprintf(tw, "provider\t%s\n", x.Provider)
	}
	if x.Confidence != 0 {
		var anon []string
		for _, c := range x.Categories {
			if cat, _ := schema.ParseCategory(c); cat&lookup.CategoryAnonymizer != 0 {
				anon = append(anon, c)
			}
		}
		fmt.Fprintf(tw, "confidence\t%d of 99 that %s is right\n", x.Confidence, orNone(strings.Join(anon, ", ")))
	}
	if x.FirstSeen != "" || x.LastSeen != "" {
		fmt.Fprintf(tw, "seen\tfirst %s, last %s\n", orDash(x.FirstSeen), orDash(x.LastSeen))
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
			if f.Kind == "" || f.Category == lookup.CategoryAllow.Name() || f.Category == "" {
				weight = "-"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", f.Name, orDash(f.Kind), orDash(f.Category), weight, f.Note)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
	if len(x.Cleared) > 0 {
		fmt.Fprintf(w, "\ncleared (no longer counted):\n")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  feed\tkind\tcategories\tcleared by\n")
		for _, c := range x.Cleared {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.Feed, orDash(c.Kind), strings.Join(c.Categories, ", "), c.By)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
	if x.History != nil {
		fmt.Fprintln(w)
		printHistory(w, *x.History)
	}
	printScore(w, x)
	from := "stored in the file"
	if x.Score.Source == lookup.ScoreSourcePolicy.String() {
		from = "computed by the policy"
	}
	fmt.Fprintf(w, "\naction: %s (score %d, %s; block ≥ %d, challenge ≥ %d)\n",
		x.Action, x.Score.Decided, from, x.Thresholds["block"], x.Thresholds["challenge"])
	return nil
}

// printScore prints the score's arithmetic and, when the file stores a
// score, how the stored value relates to it.
func printScore(w io.Writer, x explanation) {
	stored := x.Score.Stored
	allowlisted := slices.Contains(x.Categories, lookup.CategoryAllow.Name())
	switch {
	case !x.Found:
		fmt.Fprintf(w, "\nscore: no record → 0\n")
		return
	case allowlisted && stored == nil:
		fmt.Fprintf(w, "\nscore: allowlisted → 0\n")
		return
	case allowlisted && *stored == 0:
		fmt.Fprintf(w, "\nscore: allowlisted → 0, as stored in the file\n")
		return
	case allowlisted:
		fmt.Fprintf(w, "\nscore: allowlisted → 0; the file stores %d, which the policy overrules\n", *stored)
		return
	case x.Score.Source == lookup.ScoreSourcePolicy.String() && stored == nil:
		fmt.Fprintf(w, "\nscore: the file stores none; the policy computes it from each category's default weight\n")
	case x.Score.Source == lookup.ScoreSourcePolicy.String():
		fmt.Fprintf(w, "\nscore: the policy overrules the stored risk_score %d\n", *stored)
	case x.Manifest:
		fmt.Fprintf(w, "\nscore: %d, stored in the file; the builder counts each category once, at its strongest feed's weight\n", *stored)
	default:
		fmt.Fprintf(w, "\nscore: %d, stored in the file; without a build manifest, each category at its default weight\n", *stored)
	}
	if len(x.Factors) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, f := range x.Factors {
			src := f.Feed
			switch {
			case f.Feed != "":
			case x.Manifest:
				src = "the manifest's weight of the category (no known feed sets it)"
			default:
				src = "default weight of the category"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.Category, strconv.FormatFloat(f.Weight, 'g', -1, 64), src)
		}
		_ = tw.Flush()
	}
	fmt.Fprintf(w, "  %s\n", x.Score.Formula)
	if stored != nil && x.Score.Source == lookup.ScoreSourceStored.String() && int(*stored) != x.Score.Computed {
		fmt.Fprintf(w, "note: the stored score differs from this arithmetic (a retained entry weighs less as it ages); the action uses the stored score\n")
	}
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

// networkPtr returns the matched network as a JSON string, or nil (null)
// on a miss.
func networkPtr(rec lookup.Record, found bool) *string {
	if !found {
		return nil
	}
	s := rec.Network.String()
	return &s
}
