// Package schema is ipintel's public vocabulary: the MMDB record's keys,
// the categories with their names and default weights, the feed kinds, the
// gate outcomes, the default policy thresholds, and the build manifest a
// database carries (docs/design.md §2).
//
// The feeds, builder and lookup packages and their users share these
// types, so a key renamed here is renamed everywhere, and code outside the
// module can name every type those packages' signatures use.
//
// # Compatibility
//
// The spellings here are a file format: the MMDB keys, the category and
// kind names, the gate outcomes and the manifest's JSON keys are written
// into databases and configs that outlive a build. They change only
// together with [SchemaVersion]; a manifest written by an older build
// still reads ([ManifestFeed.UnmarshalJSON]). The package imports only the
// standard library and holds no state, so every function is safe for
// concurrent use.
package schema

import (
	"math"
	"strings"
)

// MMDB map keys. The first group follows MaxMind's GeoIP2 Anonymous IP and
// GeoLite2 ASN databases, so existing readers understand ipintel files.
const (
	KeyIsAnonymous        = "is_anonymous"
	KeyIsAnonymousVPN     = "is_anonymous_vpn"
	KeyIsHostingProvider  = "is_hosting_provider"
	KeyIsPublicProxy      = "is_public_proxy"
	KeyIsResidentialProxy = "is_residential_proxy"
	KeyIsTorExitNode      = "is_tor_exit_node"
	KeyASN                = "autonomous_system_number"
	KeyASOrg              = "autonomous_system_organization"

	// ipintel's own fields.
	KeyIsAbuse       = "is_abuse"
	KeyIsCrawler     = "is_crawler"
	KeyIsAllowlisted = "is_allowlisted"
	KeyIsRelay       = "is_relay"
	KeyRiskScore     = "risk_score"
	KeySources       = "sources"
	// KeyCleared lists the evidence that clearing feeds outranked (docs/design.md
	// §4 Clearing): an array of maps {"feed", "category", "by"}, where
	// category is the comma-separated names of what feed's entries set and
	// by cleared. Written only when something was cleared; explain reads it.
	KeyCleared = "cleared"

	// Fields named as in GeoIP Anonymous Plus.
	KeyProviderName         = "provider_name"
	KeyAnonymizerConfidence = "anonymizer_confidence"
	KeyNetworkLastSeen      = "network_last_seen"
	KeyNetworkFirstSeen     = "network_first_seen"
)

// Metadata written by the builder.
const (
	// DefaultDatabaseType is the MMDB database_type unless the config says otherwise.
	DefaultDatabaseType = "ipintel"
	// ManifestDescriptionKey is the metadata description "language" under
	// which the JSON build manifest is stored, so it travels inside the file.
	ManifestDescriptionKey = "ipintel-manifest"
	// SchemaVersion is bumped when the record layout changes incompatibly.
	SchemaVersion = 1
)

// Category is a bit set of the categories a network belongs to.
// The zero value is the empty set.
type Category uint16

// The categories. CategoryAllow is the allowlist marker, not a risk.
const (
	CategoryTorExit Category = 1 << iota
	CategoryVPN
	CategoryPublicProxy
	CategoryResidentialProxy
	CategoryHosting
	CategoryAbuse
	CategoryCrawler
	CategoryAllow
	CategoryRelay

	// CategoryRisk holds the categories an allowlist clears.
	CategoryRisk = CategoryTorExit | CategoryVPN | CategoryPublicProxy |
		CategoryResidentialProxy | CategoryHosting | CategoryAbuse
	// CategoryAnonymous holds the categories that set is_anonymous.
	CategoryAnonymous = CategoryVPN | CategoryPublicProxy | CategoryResidentialProxy |
		CategoryTorExit | CategoryHosting
	// CategoryAnonymizer holds the anonymizer categories: the ones
	// anonymizer_confidence speaks for, and whose feeds win the provider.
	CategoryAnonymizer = CategoryTorExit | CategoryVPN | CategoryPublicProxy | CategoryResidentialProxy
)

// categoryInfo lists every single category, in the order names are listed.
var categoryInfo = [...]struct {
	cat    Category
	name   string // as in configs, CLI flags and JSON
	key    string // the MMDB boolean key
	weight float64
}{
	{CategoryTorExit, "tor_exit", KeyIsTorExitNode, 0.9},
	{CategoryVPN, "vpn", KeyIsAnonymousVPN, 0.5},
	{CategoryPublicProxy, "public_proxy", KeyIsPublicProxy, 0.6},
	{CategoryResidentialProxy, "residential_proxy", KeyIsResidentialProxy, 0.6},
	{CategoryHosting, "hosting", KeyIsHostingProvider, 0.4},
	{CategoryAbuse, "abuse", KeyIsAbuse, 0.6},
	{CategoryCrawler, "crawler", KeyIsCrawler, 0},
	{CategoryRelay, "relay", KeyIsRelay, 0},
	{CategoryAllow, "allow", KeyIsAllowlisted, 0},
}

// Categories returns every single category, risk categories first, then
// crawler, relay and the allow marker.
func Categories() []Category {
	out := make([]Category, len(categoryInfo))
	for i, c := range categoryInfo {
		out[i] = c.cat
	}
	return out
}

// Has reports whether c contains every category of o.
func (c Category) Has(o Category) bool { return c&o == o && o != 0 }

// Name returns the name of a single category ("tor_exit"), or "" when c is
// not exactly one category.
func (c Category) Name() string {
	for _, ci := range categoryInfo {
		if ci.cat == c {
			return ci.name
		}
	}
	return ""
}

// Key returns the MMDB boolean key of a single category, or "".
func (c Category) Key() string {
	for _, ci := range categoryInfo {
		if ci.cat == c {
			return ci.key
		}
	}
	return ""
}

// DefaultWeight returns the default score weight of a single category.
func (c Category) DefaultWeight() float64 {
	for _, ci := range categoryInfo {
		if ci.cat == c {
			return ci.weight
		}
	}
	return 0
}

// Names returns the names of the categories in c, in the order of [Categories].
func (c Category) Names() []string {
	var out []string
	for _, ci := range categoryInfo {
		if c&ci.cat != 0 {
			out = append(out, ci.name)
		}
	}
	return out
}

// String returns the comma-separated names of the categories in c, or "none".
func (c Category) String() string {
	switch {
	case c == 0:
		return "none"
	default:
		return strings.Join(c.Names(), ",")
	}
}

// ParseCategory returns the category with the given name ("tor_exit", "vpn", …).
func ParseCategory(name string) (Category, bool) {
	for _, ci := range categoryInfo {
		if ci.name == name {
			return ci.cat, true
		}
	}
	return 0, false
}

// Kind is what a feed says about the networks it lists, as written in a
// config's kind key: each kind but [KindASN] sets one category (see
// [Kind.Category]); KindASN feeds give networks their ASN and organisation.
// The zero value is no kind.
type Kind string

// The feed kinds.
const (
	KindTor              Kind = "tor"
	KindVPN              Kind = "vpn"
	KindPublicProxy      Kind = "public_proxy"
	KindResidentialProxy Kind = "residential_proxy"
	KindHosting          Kind = "hosting"
	KindAbuse            Kind = "abuse"
	KindCrawler          Kind = "crawler"
	KindRelay            Kind = "relay"
	KindAllow            Kind = "allow"
	KindASN              Kind = "asn"
)

// Kinds returns every feed kind.
func Kinds() []Kind {
	return []Kind{KindTor, KindVPN, KindPublicProxy, KindResidentialProxy,
		KindHosting, KindAbuse, KindCrawler, KindRelay, KindAllow, KindASN}
}

// Category returns the category a feed of kind k sets. It returns 0, true
// for [KindASN] (which sets none) and 0, false for an unknown kind.
func (k Kind) Category() (Category, bool) {
	switch k {
	case KindTor:
		return CategoryTorExit, true
	case KindVPN:
		return CategoryVPN, true
	case KindPublicProxy:
		return CategoryPublicProxy, true
	case KindResidentialProxy:
		return CategoryResidentialProxy, true
	case KindHosting:
		return CategoryHosting, true
	case KindAbuse:
		return CategoryAbuse, true
	case KindCrawler:
		return CategoryCrawler, true
	case KindRelay:
		return CategoryRelay, true
	case KindAllow:
		return CategoryAllow, true
	case KindASN:
		return 0, true
	default:
		return 0, false
	}
}

// Gate is the outcome of a feed's sanity gates in a build, as the
// manifest records it (docs/design.md §4 Nothing lost). The zero value
// means no outcome was recorded.
type Gate string

// The gate outcomes.
const (
	GateOK       Gate = "ok"       // the fresh copy passed and was used
	GateFallback Gate = "fallback" // it failed; the last good copy was used
	GateFailed   Gate = "failed"   // it failed and no good copy was left: the feed is missing
)

// Default policy thresholds on the 0-100 risk score.
const (
	DefaultBlockThreshold     = 80
	DefaultChallengeThreshold = 50
)

// Unsigned returns v as a uint64 when it is a non-negative integer of any
// of the Go types an MMDB decoder produces for integers, and reports
// whether it was one.
func Unsigned(v any) (uint64, bool) {
	switch n := v.(type) {
	case uint64:
		return n, true
	case uint32:
		return uint64(n), true
	case uint16:
		return uint64(n), true
	case uint:
		return uint64(n), true
	case int:
		return uint64(n), n >= 0
	case int32:
		return uint64(n), n >= 0
	case int64:
		return uint64(n), n >= 0
	default:
		return 0, false
	}
}

// Score turns a noisy-OR product keep = Π(1 − wᵢ) into the 0-100 risk
// score, round(100 × (1 − keep)). The value is rounded to 1e-9 first, so
// that floating-point noise never decides a half: weights 0.1 and 0.45
// give 50.5, which rounds to 51, although the product computes
// 50.4999…. The builder, the policy and explain all score through it, so
// they agree to the point.
func Score(keep float64) int {
	v := 100 * (1 - keep)
	v = math.Round(v*1e9) / 1e9
	return int(math.Round(v))
}
