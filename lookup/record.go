package lookup

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"

	"github.com/ipintel/ipintel/internal/schema"
	"github.com/oschwald/maxminddb-golang/v2"
)

// Category is a bit set of the categories a network belongs to; it is
// [schema.Category], re-exported so callers need not import the schema.
// The zero value is the empty set.
type Category = schema.Category

// The categories, as defined by the schema.
const (
	CategoryTorExit          = schema.CategoryTorExit
	CategoryVPN              = schema.CategoryVPN
	CategoryPublicProxy      = schema.CategoryPublicProxy
	CategoryResidentialProxy = schema.CategoryResidentialProxy
	CategoryHosting          = schema.CategoryHosting
	CategoryAbuse            = schema.CategoryAbuse
	CategoryCrawler          = schema.CategoryCrawler
	CategoryAllow            = schema.CategoryAllow

	// CategoryRisk holds the categories an allowlist clears.
	CategoryRisk = schema.CategoryRisk
	// CategoryAnonymous holds the categories that set is_anonymous.
	CategoryAnonymous = schema.CategoryAnonymous
)

// SourceSet identifies a sorted list of feed names in a [DB]'s interned
// table of source lists; [DB.SourceNames] returns the names. The zero
// value means no sources. A SourceSet is only meaningful for the DB that
// returned it.
type SourceSet uint32

// Record is what [DB.Lookup] returns for an address: the matched network
// and the decoded fields of its MMDB record. It is small (64 bytes; the
// fields are ordered to avoid padding), comparable and returned by value;
// Org points into the DB's interned strings.
//
// The zero value is the record of an address that is not in the database.
type Record struct {
	// Network is the matched MMDB network, exactly as the database's search
	// tree stores it (what maxminddb-golang's Result.Prefix returns).
	Network netip.Prefix
	// Org is autonomous_system_organization, "" when absent.
	Org string
	// ASN is autonomous_system_number, 0 when absent.
	ASN uint32
	// Sources names the feeds that contributed to the record; see [DB.SourceNames].
	Sources SourceSet
	// Categories holds a bit per is_* flag of the record.
	Categories Category
	// Score is risk_score (0-100); values above 100 read as 100.
	Score uint8
	// Scored reports whether the record stores a risk_score. ipintel
	// writes one on every record a feed contributed to; third-party
	// databases (MaxMind's Anonymous IP, for one) have none, and
	// [Policy.Decide] then scores the record from its categories.
	Scored bool
}

// record is a Record as the DB stores it: 16 bytes, without the network
// (computed per lookup) and with the organisation as a slice of the DB's
// blob of distinct names, so that a table of a hundred thousand distinct
// records stays small, four records share a cache line and none
// straddles two, and a lookup reads one record and nothing else.
type record struct {
	asn    uint32
	orgOff uint32 // the organisation is DB.orgs[orgOff : orgOff+orgLen]
	orgLen uint16
	src    uint16 // a SourceSet
	cat    Category
	score  uint8
	scored bool
}

// mmdbRecord is the decoding target for one MMDB data record. The tags
// must match the keys in internal/schema; TestRecordTagsMatchSchema checks.
// Keys it does not name are skipped by the decoder; missing ones stay zero.
type mmdbRecord struct {
	schema.CategoryFlags
	ASN       uint32   `maxminddb:"autonomous_system_number"`
	Org       string   `maxminddb:"autonomous_system_organization"`
	RiskScore *uint16  `maxminddb:"risk_score"`
	Sources   []string `maxminddb:"sources"`
}

// recordTable decodes each distinct MMDB data record once and interns the
// results: records[0] is the "not found" record, organisations and source
// lists are shared between records.
type recordTable struct {
	reader   *maxminddb.Reader
	byOffset map[uintptr]uint32
	byValue  map[record]uint32
	records  []record
	orgIDs   map[string]uint32 // offset in orgs
	orgs     []byte            // distinct organisations, concatenated
	strs     map[string]string
	srcIDs   map[string]SourceSet // key: names joined by "\x00"
	srcSets  [][]string           // srcSets[0] is nil
}

func newRecordTable(r *maxminddb.Reader) *recordTable {
	return &recordTable{
		reader:   r,
		byOffset: make(map[uintptr]uint32),
		byValue:  make(map[record]uint32),
		records:  []record{{}},
		orgIDs:   map[string]uint32{"": 0},
		strs:     make(map[string]string),
		srcIDs:   make(map[string]SourceSet),
		srcSets:  [][]string{nil},
	}
}

// maxRecords bounds the distinct records of a DB: a record index must fit
// in the low bits of a range value (see valueAlias).
const maxRecords = 1 << 30

// index returns the record index of the data record at offset, decoding
// it on first sight.
func (t *recordTable) index(offset uintptr) (uint32, error) {
	if i, ok := t.byOffset[offset]; ok {
		return i, nil
	}
	var m mmdbRecord
	if err := t.reader.LookupOffset(offset).Decode(&m); err != nil {
		// A record that is not a map (some test databases hold bare
		// strings) carries none of our keys: read it as empty.
		var v any
		if _, isType := errors.AsType[maxminddb.UnmarshalTypeError](err); !isType ||
			t.reader.LookupOffset(offset).Decode(&v) != nil {
			return 0, fmt.Errorf("decode record at data offset %d: %w", offset, err)
		}
		if _, isMap := v.(map[string]any); isMap {
			return 0, fmt.Errorf("decode record at data offset %d: %w", offset, err)
		}
		m = mmdbRecord{}
	}
	if len(m.Org) > math.MaxUint16 {
		return 0, fmt.Errorf("decode record at data offset %d: organisation name of %d bytes (at most %d)", offset, len(m.Org), math.MaxUint16)
	}
	src, err := t.sourceSet(m.Sources)
	if err != nil {
		return 0, fmt.Errorf("decode record at data offset %d: %w", offset, err)
	}
	org, ok := t.orgIDs[m.Org]
	if !ok {
		if len(t.orgs)+len(m.Org) > math.MaxUint32 {
			return 0, errors.New("organisation names exceed 4 GiB")
		}
		org = uint32(len(t.orgs))
		t.orgs = append(t.orgs, m.Org...)
		t.orgIDs[m.Org] = org
	}
	var score uint8
	if m.RiskScore != nil {
		score = uint8(min(*m.RiskScore, 100))
	}
	rec := record{
		cat:    m.Categories(),
		asn:    m.ASN,
		orgOff: org,
		orgLen: uint16(len(m.Org)),
		score:  score,
		scored: m.RiskScore != nil,
		src:    uint16(src),
	}
	i, ok := t.byValue[rec]
	if !ok {
		if len(t.records) >= maxRecords {
			return 0, errors.New("too many distinct records")
		}
		i = uint32(len(t.records))
		t.records = append(t.records, rec)
		t.byValue[rec] = i
	}
	t.byOffset[offset] = i
	return i, nil
}

func (t *recordTable) intern(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := t.strs[s]; ok {
		return v
	}
	t.strs[s] = s
	return s
}

// maxSourceSets bounds the distinct source lists of a DB: a record
// stores its list's index in 16 bits.
const maxSourceSets = math.MaxUint16 + 1

func (t *recordTable) sourceSet(names []string) (SourceSet, error) {
	if len(names) == 0 {
		return 0, nil
	}
	names = slices.Clone(names)
	slices.Sort(names)
	key := strings.Join(names, "\x00")
	if id, ok := t.srcIDs[key]; ok {
		return id, nil
	}
	if len(t.srcSets) >= maxSourceSets {
		return 0, fmt.Errorf("more than %d distinct source lists", maxSourceSets-1)
	}
	for i, n := range names {
		names[i] = t.intern(n)
	}
	id := SourceSet(len(t.srcSets))
	t.srcSets = append(t.srcSets, names)
	t.srcIDs[key] = id
	return id, nil
}

// reorder renumbers the records by how many ranges use them, most used
// first (record 0, the empty record, stays first), and rewrites the
// range values to match. A lookup's last read is its record: with the
// records in this order, the few thousand that most networks share fill
// a few dozen KiB that stay in the processor's caches. On the full-size
// database this gains about 1% on IPv6 lookups and is within noise on
// IPv4; it costs a sort of the records at Open.
func (t *recordTable) reorder(lists ...rangeList) {
	uses := make([]int, len(t.records))
	for _, l := range lists {
		for _, v := range l.vals {
			if v&valueAlias == 0 {
				uses[v]++
			}
		}
	}
	order := make([]uint32, len(t.records)-1)
	for i := range order {
		order[i] = uint32(i + 1)
	}
	slices.SortStableFunc(order, func(a, b uint32) int { return uses[b] - uses[a] })
	renum := make([]uint32, len(t.records))
	recs := make([]record, len(t.records))
	for i, old := range order {
		renum[old] = uint32(i + 1)
		recs[i+1] = t.records[old]
	}
	for _, l := range lists {
		for j, v := range l.vals {
			if v&valueAlias == 0 {
				l.vals[j] = renum[v]
			}
		}
	}
	t.records = recs
}
