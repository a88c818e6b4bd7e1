package builder

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/ipintel/ipintel/feeds"
	"github.com/ipintel/ipintel/schema"
)

// Config is a build configuration (docs/design.md §6), as read by [LoadConfig].
// Paths in it are resolved against Dir, the config file's directory.
type Config struct {
	Path     string // the config file, as given to LoadConfig
	Dir      string // its directory: relative paths resolve against it
	SHA256   string // hex SHA-256 of the file's bytes
	Out      string // output file, resolved; "" when not set
	CacheDir string // cache directory, resolved; "" when not set
	// StateDir holds the history (docs/design.md §4 History), resolved; ""
	// when not set: no history, no dates, nothing retained.
	StateDir string
	// HistoryHorizon is how many days the history remembers an entry after
	// it was last listed (at least every feed's retain); default
	// [DefaultHistoryHorizon].
	HistoryHorizon int
	IPv6Prefix     int    // default 64
	DatabaseType   string // default schema.DefaultDatabaseType
	KeepReserved   bool
	// Weights holds the [weights] overrides by category name.
	Weights map[string]float64
	Feeds   []FeedConfig
	// Gates are the whole-database gates of the [gates] table.
	Gates Gates
	// Outputs holds the [[output]] tables: companion files for MaxMind's
	// readers (docs/design.md §10).
	Outputs []OutputConfig
}

// OutputConfig is one [[output]] table.
type OutputConfig struct {
	Path    string  // resolved against the config file's directory
	Product Product // the file's type
	Line    int     // line of the [[output]] header in the config file
}

// Gates are the whole-database gates (docs/design.md §4 Nothing lost): a
// database with no networks is never published, nor one that loses more
// than MaxCategoryShrink of any category's networks against the previous
// build, nor one in which a category's covered addresses grow more than
// MaxCategoryGrowth times against the previous build of the same config.
type Gates struct {
	MaxCategoryShrink float64 // default 0.5; 1 switches the gate off
	MaxCategoryGrowth float64 // default 4; 0 switches the gate off
}

// Default whole-database gates.
const (
	DefaultMaxCategoryShrink = 0.5
	DefaultMaxCategoryGrowth = 4.0
)

// DefaultMaxEntrySize is the max_entry_size of a feed that sets none: an
// entry may cover at most a /8 of IPv4, and a /16 of IPv6.
const DefaultMaxEntrySize = 8

// FeedConfig is one [[feed]] table.
type FeedConfig struct {
	Name   string
	Kind   schema.Kind
	Format feeds.Format
	URL    string // as written: a URL or a path relative to the config file
	// Weight is the feed's weight override; HasWeight reports whether
	// the config set one.
	Weight    float64
	HasWeight bool
	MinCount  int // ipsum threshold; 0 means the parser default (1)
	// MinEntries is the least number of entries a fresh copy must have;
	// a copy with none always fails.
	MinEntries int
	// MaxShrink is the fraction of the previous build's entries that may
	// vanish (default DefaultMaxShrink; 1 switches the gate off).
	MaxShrink float64
	// MaxAge is the oldest a copy may be (0: no limit).
	MaxAge time.Duration
	// OnGateFailure is "fallback" (the default) or "fail".
	OnGateFailure string
	// CSV column selectors (index or header name), "" when not set.
	CIDRColumn, StartColumn, EndColumn string
	// JSONKeys keeps, in the json format, only values under these keys.
	JSONKeys []string
	// Optional feeds that have neither a fresh valid copy nor a last good
	// one are left out of the build with a warning; any other such feed
	// fails the build.
	Optional bool
	// Provider is the provider_name of entries that name none.
	Provider string
	// Confidence is the feed's confidence (1-99); see [Config.EffectiveConfidence].
	Confidence int
	// Clears is what the feed clears; nil means its kind's default ([KindClears]).
	Clears *schema.Category
	// MaxEntrySize is the shortest prefix length an IPv4 entry may have
	// (IPv6: 8 more): a line covering more, after reserved space is
	// removed, is an invalid line. Default [DefaultMaxEntrySize].
	MaxEntrySize int
	// Block inference (docs/design.md §4): 0 when off.
	InferPrefix, InferPrefix6, InferMin, InferConfidence int
	// Retain is how many days an entry that vanished from the feed keeps
	// counting, fading (docs/design.md §4 History); 0 when not set.
	Retain int
	// Line is the line of the feed's [[feed]] header in the config file.
	Line int
}

// DefaultMaxShrink is the max_shrink of a feed that sets none: a fresh copy
// with less than half the entries of the previous build's is suspect.
const DefaultMaxShrink = 0.5

// Gate failure policies.
const (
	OnGateFallback = "fallback"
	OnGateFail     = "fail"
)

// ConfigError is a problem in a config file, at a line (0 when unknown).
type ConfigError struct {
	Path string
	Line int
	Msg  string
	Err  error // the cause, if any
}

var _ error = (*ConfigError)(nil)

func (e *ConfigError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

// Unwrap returns the cause.
func (e *ConfigError) Unwrap() error { return e.Err }

// fileConfig is the TOML layout.
type fileConfig struct {
	Out          string             `toml:"out"`
	CacheDir     string             `toml:"cache_dir"`
	StateDir     string             `toml:"state_dir"`
	Horizon      string             `toml:"history_horizon"`
	IPv6Prefix   *int               `toml:"ipv6_prefix"`
	DatabaseType string             `toml:"database_type"`
	KeepReserved bool               `toml:"keep_reserved"`
	Weights      map[string]float64 `toml:"weights"`
	Feed         []fileFeed         `toml:"feed"`
	Gates        *fileGates         `toml:"gates"`
	Output       []fileOutput       `toml:"output"`
}

type fileGates struct {
	MaxCategoryShrink *float64 `toml:"max_category_shrink"`
	MaxCategoryGrowth *float64 `toml:"max_category_growth"`
}

type fileOutput struct {
	Path string `toml:"path"`
	Type string `toml:"type"`
}

type fileFeed struct {
	Name          string      `toml:"name"`
	Kind          schema.Kind `toml:"kind"`
	Format        string      `toml:"format"`
	URL           string      `toml:"url"`
	Weight        *float64    `toml:"weight"`
	MinCount      *int        `toml:"min_count"`
	MinEntries    *int        `toml:"min_entries"`
	MaxShrink     *float64    `toml:"max_shrink"`
	MaxAge        string      `toml:"max_age"`
	OnGateFailure string      `toml:"on_gate_failure"`
	CIDRColumn    any         `toml:"cidr_column"`
	StartColumn   any         `toml:"start_column"`
	EndColumn     any         `toml:"end_column"`
	JSONKeys      []string    `toml:"json_keys"`
	Optional      bool        `toml:"optional"`
	Provider      string      `toml:"provider"`
	Confidence    *int        `toml:"confidence"`
	Clears        []string    `toml:"clears"`
	MaxEntrySize  *int        `toml:"max_entry_size"`
	InferPrefix   *int        `toml:"infer_prefix"`
	InferPrefix6  *int        `toml:"infer_prefix6"`
	InferMin      *int        `toml:"infer_min"`
	InferConf     *int        `toml:"infer_confidence"`
	Retain        string      `toml:"retain"`
}

// LoadConfig reads and checks a config file. Every error is a
// *ConfigError naming the line at fault; several are joined.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return ParseConfig(data, path)
}

// ParseConfig parses config data read from path (used for messages and to
// resolve relative paths).
func ParseConfig(data []byte, path string) (*Config, error) {
	var fc fileConfig
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(&fc); err != nil {
		return nil, tomlError(path, err)
	}
	sum := sha256.Sum256(data)
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	c := &Config{
		Path:           path,
		Dir:            filepath.Dir(abs),
		SHA256:         hex.EncodeToString(sum[:]),
		HistoryHorizon: DefaultHistoryHorizon,
		IPv6Prefix:     64,
		DatabaseType:   fc.DatabaseType,
		KeepReserved:   fc.KeepReserved,
		Weights:        map[string]float64{},
		Gates:          Gates{MaxCategoryShrink: DefaultMaxCategoryShrink, MaxCategoryGrowth: DefaultMaxCategoryGrowth},
	}
	p := &configParser{path: path, pos: scanPositions(data)}
	p.topLevel(c, &fc)
	p.weights(c, fc.Weights)
	p.gates(c, fc.Gates)
	seen := map[string]int{}
	for i, ff := range fc.Feed {
		c.Feeds = append(c.Feeds, p.feed(i, &ff, seen))
	}
	c.Outputs = parseOutputs(c, fc.Output, p.pos, p.bad)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return c, nil
}

// configParser checks a decoded config file section by section. Each
// problem becomes a *ConfigError naming its line; checking goes on, so one
// run reports every problem.
type configParser struct {
	path string
	pos  *positions
	errs []error
}

func (p *configParser) bad(line int, format string, args ...any) {
	p.errs = append(p.errs, &ConfigError{Path: p.path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// topLevel checks the top-level keys and resolves the paths among them.
func (p *configParser) topLevel(c *Config, fc *fileConfig) {
	if fc.Out != "" {
		c.Out = c.Resolve(fc.Out)
	}
	if fc.CacheDir != "" {
		c.CacheDir = c.Resolve(fc.CacheDir)
	}
	if fc.StateDir != "" {
		c.StateDir = c.Resolve(fc.StateDir)
	}
	if fc.Horizon != "" {
		d, ok := parseDays(fc.Horizon)
		if !ok {
			p.bad(p.pos.key("", "history_horizon"), "history_horizon %q: want a positive whole number of days such as 90d", fc.Horizon)
		}
		c.HistoryHorizon = d
	}
	if fc.IPv6Prefix != nil {
		c.IPv6Prefix = *fc.IPv6Prefix
		if c.IPv6Prefix < 1 || c.IPv6Prefix > 128 {
			p.bad(p.pos.key("", "ipv6_prefix"), "ipv6_prefix %d outside 1-128", c.IPv6Prefix)
		}
	}
	if c.DatabaseType == "" {
		c.DatabaseType = schema.DefaultDatabaseType
	}
}

// weights checks the [weights] table: scored categories, weights in [0,1].
func (p *configParser) weights(c *Config, weights map[string]float64) {
	for _, name := range sortedKeys(weights) {
		w := weights[name]
		line := p.pos.key("weights", name)
		cat, ok := schema.ParseCategory(name)
		if !ok || cat == schema.CategoryAllow {
			p.bad(line, "[weights]: unknown category %q (want one of %s)", name, strings.Join(weightNames(), ", "))
			continue
		}
		if !validWeight(w) {
			p.bad(line, "[weights]: %s = %v outside [0,1]", name, w)
			continue
		}
		c.Weights[name] = w
	}
}

// gates checks the [gates] table of whole-database gates.
func (p *configParser) gates(c *Config, g *fileGates) {
	if g == nil {
		return
	}
	if v := g.MaxCategoryShrink; v != nil {
		if !validWeight(*v) {
			p.bad(p.pos.key("gates", "max_category_shrink"), "[gates]: max_category_shrink %v outside [0,1]", *v)
		}
		c.Gates.MaxCategoryShrink = *v
	}
	if v := g.MaxCategoryGrowth; v != nil {
		if math.IsNaN(*v) || (*v != 0 && *v < 1) {
			p.bad(p.pos.key("gates", "max_category_growth"), "[gates]: max_category_growth %v: want 0 (off) or a factor of at least 1", *v)
		}
		c.Gates.MaxCategoryGrowth = *v
	}
}

// feedParser checks the keys of one [[feed]] table.
type feedParser struct {
	*configParser
	i  int       // the table's index among the [[feed]] tables
	ff *fileFeed // as decoded
	f  *FeedConfig
}

// at returns the line of one of the feed's keys, or of its header when
// the key is not written.
func (p *feedParser) at(key string) int {
	if l := p.pos.key(p.section(), key); l > 0 {
		return l
	}
	return p.pos.header(p.i)
}

func (p *feedParser) section() string { return fmt.Sprintf("feed.%d", p.i) }

// feed checks the i-th [[feed]] table; seen maps the names of the feeds
// before it to their lines.
func (p *configParser) feed(i int, ff *fileFeed, seen map[string]int) FeedConfig {
	f := FeedConfig{
		Name:          ff.Name,
		Kind:          ff.Kind,
		Format:        feeds.Format(ff.Format),
		URL:           ff.URL,
		MaxShrink:     DefaultMaxShrink,
		OnGateFailure: OnGateFallback,
		JSONKeys:      ff.JSONKeys,
		Optional:      ff.Optional,
		Provider:      ff.Provider,
		MaxEntrySize:  DefaultMaxEntrySize,
		Line:          p.pos.header(i),
	}
	fp := &feedParser{configParser: p, i: i, ff: ff, f: &f}
	fp.identity(seen)
	fp.gateKeys()
	fp.formatKeys()
	fp.evidenceKeys()
	fp.asnKeys()
	return f
}

// identity checks what every feed must say: a unique name, a known kind
// and format, a url.
func (p *feedParser) identity(seen map[string]int) {
	ff, f := p.ff, p.f
	switch {
	case ff.Name == "":
		p.bad(f.Line, "feed without a name")
	case !feedNameRE.MatchString(ff.Name):
		p.bad(p.at("name"), "feed name %q: must match [a-z0-9_-]+", ff.Name)
	default:
		if first, dup := seen[ff.Name]; dup {
			p.bad(p.at("name"), "duplicate feed name %q (first at line %d)", ff.Name, first)
		} else {
			seen[ff.Name] = p.at("name")
		}
	}
	if _, ok := ff.Kind.Category(); !ok {
		p.bad(p.at("kind"), "feed %q: unknown kind %q (want one of %s)", ff.Name, ff.Kind, strings.Join(kindNames(), ", "))
	}
	if formats := feeds.Formats(); !slices.Contains(formats, f.Format) {
		names := make([]string, len(formats))
		for i, f := range formats {
			names[i] = string(f)
		}
		p.bad(p.at("format"), "feed %q: unknown format %q (want one of %s)", ff.Name, ff.Format, strings.Join(names, ", "))
	} else if f.Format == feeds.FormatASNList && ff.Kind == schema.KindASN {
		p.bad(p.at("format"), "feed %q: an asn-list names ASNs, not their prefixes: give it the kind it flags (hosting, vpn, abuse, …)", ff.Name)
	}
	if ff.URL == "" {
		p.bad(f.Line, "feed %q: no url", ff.Name)
	}
}

// gateKeys checks the weight, the parser threshold and the keys of the
// feed's sanity gates.
func (p *feedParser) gateKeys() {
	ff, f := p.ff, p.f
	if ff.Weight != nil {
		if !validWeight(*ff.Weight) {
			p.bad(p.at("weight"), "feed %q: weight %v outside [0,1]", ff.Name, *ff.Weight)
		}
		f.Weight, f.HasWeight = *ff.Weight, true
	}
	if ff.MinCount != nil {
		if *ff.MinCount < 1 {
			p.bad(p.at("min_count"), "feed %q: min_count %d below 1", ff.Name, *ff.MinCount)
		}
		f.MinCount = *ff.MinCount
	}
	if ff.MinEntries != nil {
		if *ff.MinEntries < 0 {
			p.bad(p.at("min_entries"), "feed %q: min_entries %d is negative", ff.Name, *ff.MinEntries)
		}
		f.MinEntries = *ff.MinEntries
	}
	if ff.MaxShrink != nil {
		if !validWeight(*ff.MaxShrink) {
			p.bad(p.at("max_shrink"), "feed %q: max_shrink %v outside [0,1]", ff.Name, *ff.MaxShrink)
		}
		f.MaxShrink = *ff.MaxShrink
	}
	if ff.MaxAge != "" {
		d, err := parseDuration(ff.MaxAge)
		if err != nil || d <= 0 {
			p.bad(p.at("max_age"), "feed %q: max_age %q: want a positive duration such as 36h or 7d", ff.Name, ff.MaxAge)
		}
		f.MaxAge = d
	}
	switch ff.OnGateFailure {
	case "", OnGateFallback:
	case OnGateFail:
		f.OnGateFailure = OnGateFail
	default:
		p.bad(p.at("on_gate_failure"), "feed %q: on_gate_failure %q: want %q or %q", ff.Name, ff.OnGateFailure, OnGateFallback, OnGateFail)
	}
}

// formatKeys checks the keys that apply to one format only.
func (p *feedParser) formatKeys() {
	ff, f := p.ff, p.f
	for _, col := range []struct {
		key string
		v   any
		dst *string
	}{{"cidr_column", ff.CIDRColumn, &f.CIDRColumn}, {"start_column", ff.StartColumn, &f.StartColumn}, {"end_column", ff.EndColumn, &f.EndColumn}} {
		if col.v == nil {
			continue
		}
		s, ok := columnValue(col.v)
		if !ok {
			p.bad(p.at(col.key), "feed %q: %s: want a column index (0, 1, …) or a header name", ff.Name, col.key)
			continue
		}
		if f.Format != feeds.FormatCSV {
			p.bad(p.at(col.key), "feed %q: %s applies to the csv format only", ff.Name, col.key)
		}
		*col.dst = s
	}
	if len(ff.JSONKeys) > 0 && f.Format != feeds.Format("json") {
		p.bad(p.at("json_keys"), "feed %q: json_keys applies to the json format only", ff.Name)
	}
}

// evidenceKeys checks what the feed's entries claim and for how long:
// confidence, clears, max_entry_size, block inference, retain.
func (p *feedParser) evidenceKeys() {
	ff, f := p.ff, p.f
	if ff.Confidence != nil {
		if *ff.Confidence < 1 || *ff.Confidence > 99 {
			p.bad(p.at("confidence"), "feed %q: confidence %d outside 1-99", ff.Name, *ff.Confidence)
		}
		f.Confidence = *ff.Confidence
	}
	if ff.Clears != nil && ff.Kind == schema.KindAllow {
		p.bad(p.at("clears"), "feed %q: an allow feed always clears every risk category; clears does not apply", ff.Name)
	}
	if ff.Clears != nil {
		var cl schema.Category
		for _, name := range ff.Clears {
			cat, ok := schema.ParseCategory(name)
			if !ok || cat == schema.CategoryAllow {
				p.bad(p.at("clears"), "feed %q: clears: unknown category %q (want some of %s)", ff.Name, name, strings.Join(weightNames(), ", "))
				continue
			}
			cl |= cat
		}
		f.Clears = &cl
	}
	if ff.MaxEntrySize != nil {
		if *ff.MaxEntrySize < 0 || *ff.MaxEntrySize > 32 {
			p.bad(p.at("max_entry_size"), "feed %q: max_entry_size %d: want an IPv4 prefix length 0-32", ff.Name, *ff.MaxEntrySize)
		}
		f.MaxEntrySize = *ff.MaxEntrySize
	}
	for _, x := range []struct {
		key    string
		v      *int
		lo, hi int
		dst    *int
	}{
		{"infer_prefix", ff.InferPrefix, 8, 32, &f.InferPrefix},
		{"infer_prefix6", ff.InferPrefix6, 16, 64, &f.InferPrefix6},
		{"infer_min", ff.InferMin, 1, 1 << 20, &f.InferMin},
		{"infer_confidence", ff.InferConf, 1, 99, &f.InferConfidence},
	} {
		if x.v == nil {
			continue
		}
		if *x.v < x.lo || *x.v > x.hi {
			p.bad(p.at(x.key), "feed %q: %s %d outside %d-%d", ff.Name, x.key, *x.v, x.lo, x.hi)
		}
		*x.dst = *x.v
	}
	if (ff.InferMin != nil || ff.InferConf != nil) && f.InferPrefix == 0 && f.InferPrefix6 == 0 {
		p.bad(p.at("infer_min"), "feed %q: infer_min and infer_confidence need infer_prefix or infer_prefix6", ff.Name)
	}
	if ff.Retain != "" {
		d, ok := parseDays(ff.Retain)
		if !ok {
			p.bad(p.at("retain"), "feed %q: retain %q: want a positive whole number of days such as 14d", ff.Name, ff.Retain)
		}
		f.Retain = d
	}
}

// asnKeys rejects, in an asn feed, the keys that speak of categories.
func (p *feedParser) asnKeys() {
	if p.ff.Kind != schema.KindASN {
		return
	}
	for _, k := range []string{"provider", "confidence", "clears", "infer_prefix", "infer_prefix6", "retain"} {
		if l := p.pos.key(p.section(), k); l > 0 {
			p.bad(l, "feed %q: %s does not apply to an asn feed", p.ff.Name, k)
		}
	}
}

// parseOutputs checks the [[output]] tables: a known type, a path that is
// neither out nor another output's.
func parseOutputs(c *Config, outs []fileOutput, pos *positions, bad func(int, string, ...any)) []OutputConfig {
	var res []OutputConfig
	seen := map[string]int{}
	for i, fo := range outs {
		line := pos.output(i)
		at := func(key string) int {
			if l := pos.key(fmt.Sprintf("output.%d", i), key); l > 0 {
				return l
			}
			return line
		}
		o := OutputConfig{Line: line}
		p, ok := ParseProduct(fo.Type)
		if !ok {
			names := make([]string, 0, 3)
			for _, p := range Products() {
				names = append(names, string(p))
			}
			bad(at("type"), "output: unknown type %q (want one of %s)", fo.Type, strings.Join(names, ", "))
		}
		o.Product = p
		if fo.Path == "" {
			bad(line, "output: no path")
			continue
		}
		o.Path = filepath.Clean(c.Resolve(fo.Path))
		switch first, dup := seen[o.Path]; {
		case c.Out != "" && o.Path == filepath.Clean(c.Out):
			bad(at("path"), "output path %q is the out file", fo.Path)
		case dup:
			bad(at("path"), "duplicate output path %q (first at line %d)", fo.Path, first)
		default:
			seen[o.Path] = at("path")
		}
		res = append(res, o)
	}
	return res
}

// Resolve returns p resolved against the config file's directory, unless
// it is absolute or a URL.
func (c *Config) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || strings.Contains(p, "://") {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// EffectiveWeight returns the score weight of a feed: its own weight,
// else the [weights] override of its kind's category, else that
// category's default. asn and allow feeds weigh nothing.
func (c *Config) EffectiveWeight(f FeedConfig) float64 {
	if f.Kind == schema.KindASN || f.Kind == schema.KindAllow {
		return 0
	}
	if f.HasWeight {
		return f.Weight
	}
	cat, _ := f.Kind.Category()
	if w, ok := c.Weights[cat.Name()]; ok {
		return w
	}
	return cat.DefaultWeight()
}

// EffectiveConfidence returns a feed's confidence (docs/design.md §4
// Confidence): its own, else 99 for a provider's own server list and the
// Tor formats, 30 for an asn-list (a whole ASN is a coarse claim), 70 for
// every other format.
func (c *Config) EffectiveConfidence(f FeedConfig) int {
	if f.Confidence > 0 {
		return f.Confidence
	}
	switch f.Format {
	case "vpn-servers", feeds.FormatTorExitAddresses, feeds.FormatTorConsensus, feeds.FormatOnionoo:
		return 99
	case feeds.FormatASNList:
		return 30
	}
	return DefaultConfidence
}

// BuilderFeed returns the declaration of a feed to a [Builder].
func (c *Config) BuilderFeed(f FeedConfig) Feed {
	return Feed{
		Name: f.Name, Kind: f.Kind, Weight: c.EffectiveWeight(f),
		Provider: f.Provider, Confidence: c.EffectiveConfidence(f), Clears: f.Clears,
		InferPrefix: f.InferPrefix, InferPrefix6: f.InferPrefix6,
		InferMin: f.InferMin, InferConfidence: f.InferConfidence,
		Retain: f.Retain,
	}
}

// CategoryWeights returns the weight in effect for every scored category.
func (c *Config) CategoryWeights() map[string]float64 {
	out := map[string]float64{}
	for _, cat := range schema.Categories() {
		if cat == schema.CategoryAllow {
			continue
		}
		w := cat.DefaultWeight()
		if o, ok := c.Weights[cat.Name()]; ok {
			w = o
		}
		out[cat.Name()] = w
	}
	return out
}

func weightNames() []string {
	var out []string
	for _, cat := range schema.Categories() {
		if cat != schema.CategoryAllow {
			out = append(out, cat.Name())
		}
	}
	return out
}

func kindNames() []string {
	var out []string
	for _, k := range schema.Kinds() {
		out = append(out, string(k))
	}
	return out
}

func validWeight(w float64) bool { return !math.IsNaN(w) && w >= 0 && w <= 1 }

func columnValue(v any) (string, bool) {
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return "", false
		}
		return strconv.FormatInt(x, 10), true
	case string:
		return x, x != ""
	}
	return "", false
}

// parseDuration accepts Go durations plus a day suffix ("7d", "1d12h").
func parseDuration(s string) (time.Duration, error) {
	if i := strings.IndexByte(s, 'd'); i > 0 {
		days, err := strconv.Atoi(s[:i])
		if err != nil {
			return 0, err
		}
		var rest time.Duration
		if s[i+1:] != "" {
			if rest, err = time.ParseDuration(s[i+1:]); err != nil {
				return 0, err
			}
		}
		return time.Duration(days)*24*time.Hour + rest, nil
	}
	return time.ParseDuration(s)
}

// parseDays parses a duration of whole days ("14d", "336h").
func parseDays(s string) (int, bool) {
	d, err := parseDuration(s)
	if err != nil || d <= 0 || d%(24*time.Hour) != 0 {
		return 0, false
	}
	return int(d / (24 * time.Hour)), true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// tomlError turns a go-toml error into ConfigErrors with line numbers.
func tomlError(path string, err error) error {
	if sm, ok := errors.AsType[*toml.StrictMissingError](err); ok {
		var errs []error
		for i := range sm.Errors {
			de := &sm.Errors[i]
			line, _ := de.Position()
			errs = append(errs, &ConfigError{Path: path, Line: line,
				Msg: fmt.Sprintf("unknown key %q", strings.Join(de.Key(), ".")), Err: de})
		}
		return errors.Join(errs...)
	}
	if de, ok := errors.AsType[*toml.DecodeError](err); ok {
		line, _ := de.Position()
		return &ConfigError{Path: path, Line: line, Msg: strings.TrimPrefix(de.Error(), "toml: "), Err: de}
	}
	return &ConfigError{Path: path, Msg: err.Error(), Err: err}
}

// positions maps the keys of a config file to their lines. go-toml gives
// lines for syntax and unknown-key errors only, so the semantic checks
// find their lines with this scan of the (already valid) document.
type positions struct {
	keys    map[string]int // "section\x00key" → line
	headers []int          // line of each [[feed]]
	outputs []int          // line of each [[output]]
}

func (p *positions) key(section, key string) int { return p.keys[section+"\x00"+key] }

func (p *positions) header(i int) int {
	if i < len(p.headers) {
		return p.headers[i]
	}
	return 0
}

func (p *positions) output(i int) int {
	if i < len(p.outputs) {
		return p.outputs[i]
	}
	return 0
}

func scanPositions(data []byte) *positions {
	p := &positions{keys: map[string]int{}}
	section := ""
	for n, line := range strings.Split(string(data), "\n") {
		s := strings.TrimSpace(line)
		switch {
		case s == "" || s[0] == '#':
		case strings.HasPrefix(s, "[["):
			name := strings.TrimSpace(strings.Trim(strings.SplitN(s, "]]", 2)[0], "[ "))
			switch name {
			case "feed":
				section = fmt.Sprintf("feed.%d", len(p.headers))
				p.headers = append(p.headers, n+1)
			case "output":
				section = fmt.Sprintf("output.%d", len(p.outputs))
				p.outputs = append(p.outputs, n+1)
			default:
				section = name
			}
		case s[0] == '[':
			section = strings.TrimSpace(strings.Trim(strings.SplitN(s, "]", 2)[0], "[ "))
		default:
			k, _, ok := strings.Cut(s, "=")
			if !ok {
				continue
			}
			k = strings.Trim(strings.TrimSpace(k), `"'`)
			if _, dup := p.keys[section+"\x00"+k]; !dup {
				p.keys[section+"\x00"+k] = n + 1
			}
		}
	}
	return p
}
