package schema

import (
	"encoding/json"
	"fmt"
)

// Manifest describes how a database was built. The builder stores it as
// JSON in the MMDB metadata description under [ManifestDescriptionKey], so
// it travels inside the file and every MaxMind reader ignores it safely.
//
// It holds nothing that varies between two builds from the same inputs and
// config (no wall-clock build time beyond BuildEpoch), so rebuilding gives a
// byte-identical file.
type Manifest struct {
	Builder       string             `json:"builder"`        // "ipintel <version>"
	SchemaVersion int                `json:"schema_version"` // SchemaVersion at build time
	BuildEpoch    int64              `json:"build_epoch"`    // Unix seconds, as in the MMDB metadata
	DatabaseType  string             `json:"database_type"`
	ConfigSHA256  string             `json:"config_sha256"` // hex sha256 of the config file's bytes
	IPv6Prefix    int                `json:"ipv6_prefix"`   // IPv6 aggregation length
	Weights       map[string]float64 `json:"weights"`       // category name → weight in effect
	Block         int                `json:"block_threshold"`
	Challenge     int                `json:"challenge_threshold"`
	Feeds         []ManifestFeed     `json:"feeds"`    // in config order
	Networks      int                `json:"networks"` // networks written
	// Categories counts, per category name, the networks and addresses
	// that carry it; the next build's whole-database gates compare with it.
	Categories map[string]ManifestCategory `json:"categories,omitempty"`
	// Forced lists the gates a forced build overrode; empty otherwise.
	Forced       []string `json:"forced,omitempty"`
	Reserved     int      `json:"reserved_dropped"` // entries dropped as reserved space
	KeepReserved bool     `json:"keep_reserved,omitempty"`
}

// ManifestCategory counts one category of a database.
type ManifestCategory struct {
	Networks int    `json:"networks"`       // MMDB networks carrying it
	IPv4     uint64 `json:"ipv4_addresses"` // IPv4 addresses covered
	IPv6     uint64 `json:"ipv6_64s"`       // IPv6 /64s covered (a longer prefix counts as one)
}

// ManifestFeed is one feed's line in the [Manifest].
type ManifestFeed struct {
	Name         string  `json:"name"`
	Kind         Kind    `json:"kind"`
	Format       string  `json:"format"`
	URL          string  `json:"url"`
	Weight       float64 `json:"weight"`               // effective weight of its entries (0 for asn)
	FetchedAt    string  `json:"fetched_at,omitempty"` // RFC 3339, when the copy used was fetched
	LastModified string  `json:"last_modified,omitempty"`
	ETag         string  `json:"etag,omitempty"`
	SHA256       string  `json:"sha256"`  // of the bytes parsed
	Records      int     `json:"records"` // data records accepted
	Invalid      int     `json:"invalid"` // rejected lines
	Entries      int     `json:"entries"` // prefixes as parsed, repeats included
	ASNs         int     `json:"asns,omitempty"`
	Gate         Gate    `json:"gate"`
	GateReason   string  `json:"gate_reason,omitempty"` // why a gate failed
	FromCache    bool    `json:"from_cache,omitempty"`  // the last good cached copy was used
	Optional     bool    `json:"optional,omitempty"`    // may be left out when it has no copy
	TooLarge     int     `json:"too_large,omitempty"`   // invalid lines that covered more than max_entry_size
	Inferred     int     `json:"inferred,omitempty"`    // blocks added by block inference
}

// ParseManifest returns the manifest stored in an MMDB metadata
// description map under [ManifestDescriptionKey]. found is false when
// there is none; err reports one that is not valid JSON.
func ParseManifest(description map[string]string) (m Manifest, found bool, err error) {
	s, ok := description[ManifestDescriptionKey]
	if !ok {
		return Manifest{}, false, nil
	}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return Manifest{}, true, fmt.Errorf("manifest: %w", err)
	}
	return m, true, nil
}

// UnmarshalJSON reads a manifest line, including one written before
// "records" had its own key, when "entries" counted records and
// "prefixes" counted entries.
func (f *ManifestFeed) UnmarshalJSON(data []byte) error {
	type plain ManifestFeed
	var v struct {
		plain
		Records  *int `json:"records"`
		Prefixes *int `json:"prefixes"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*f = ManifestFeed(v.plain)
	switch {
	case v.Records != nil:
		f.Records = *v.Records
	case v.Prefixes != nil:
		f.Records, f.Entries = f.Entries, *v.Prefixes
	}
	return nil
}
