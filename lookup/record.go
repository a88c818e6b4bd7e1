package lookup

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"

	"github.com/ipintel/ipintel/schema"
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
	CategoryRelay            = schema.CategoryRelay
	CategoryAllow            = schema.CategoryAllow

	// CategoryRisk holds the categories an allowlist clears.
	CategoryRisk = schema.CategoryRisk
	// CategoryAnonymous holds the categories that set is_anonymous.
	CategoryAnonymous = schema.CategoryAnonymous
	// CategoryAnonymizer holds the anonymizer categories, the ones
	// [Record.Confidence] speaks for.
	CategoryAnonymizer = schema.CategoryAnonymizer
)

// SourceSet identifies a sorted list of feed names in a [DB]'s interned
// table of source lists; [DB.SourceNames] returns the names. The zero
// value means no sources. A SourceSet is only meaningful for the DB that
// returned it.
type SourceSet uint32

// Record is what [DB.Lookup] returns for an address: the matched network
// and the decoded fields of its MMDB record. It is small (88 bytes; the
// fields are ordered to avoid padding), comparable and returned by value;
// Org and Provider point into the DB's interned strings.
//
// The zero value is the record of an address that is not in the database.
type Record struct {
	// Network is the matched MMDB network, exactly as the database's search
	// tree stores it (what maxminddb-golang's Result.Prefix returns).
	Network netip.Prefix
	// Org is autonomous_system_organization, "" when absent.
	Org string
	// Provider is provider_name, the named operator of the network (a VPN
	// provider, a proxy service, a cloud, a crawler's operator), "" when
	// absent.
	Provider string
	// ASN is autonomous_system_number, 0 when absent.
	ASN uint32
	// Sources names the feeds that contributed to the record; see [DB.SourceNames].
	Sources SourceSet
	// FirstSeen and LastSeen are network_first_seen and network_last_seen:
	// the first and the last build day on which a feed listed the network
	// with a risk category. Zero when absent.
	FirstSeen, LastSeen Date
	// Categories holds a bit per is_* flag of the record.
	Categories Category
	// Score is risk_score (0-100); values above 100 read as 100.
	Score uint8
	// Scored reports whether the record stores a risk_score. ipintel
	// writes one on every record a feed contributed to; third-party
	// databases (MaxMind's Anonymous IP, for one) have none, and
	// [Policy.Decide] then scores the record from its categories.
	Scored bool
	// Confidence is anonymizer_confidence (1-99): how sure the anonymizer
	// flags are. 0 when absent; values above 99 read as 99.
	Confidence uint8
}

// record is a Record as the DB stores it: 16 bytes, without the network
// (computed per lookup) and with the strings and dates in a detail, so
// that a table of a hundred thousand distinct records stays small, four
// records share a cache line and none straddles two.
type record struct {
	asn    uint32
	det    uint32 // index in DB.details
	src    uint16 // a SourceSet
	cat    Category
	score  uint8
	scored bool
	conf   uint8
}

// detail holds the parts of a record that many records share: the
// organisation and the provider, as slices of the DB's blob of distinct
// names, and the dates. details[0] is the empty detail. Distinct details
// are far fewer than records (an organisation is shared by every record
// of its ASN), and they are numbered in the order the most used records
// first use them, so the second load of a lookup mostly hits the cache.
type detail struct {
	orgOff  uint32 // the organisation is DB.names[orgOff : orgOff+orgLen]
	provOff uint32 // the provider is DB.names[provOff : provOff+provLen]
	orgLen  uint16
	provLen uint16
	first   Date
	last    Date
}

// mmdbRecord is the decoding target for one MMDB data record. The tags
// must match the keys in package schema; TestRecordTagsMatchSchema checks.
// Keys it does not name are skipped by the decoder; missing ones stay zero.
type mmdbRecord struct {
	schema.CategoryFlags
	ASN        uint32   `maxminddb:"autonomous_system_number"`
	Org        string   `maxminddb:"autonomous_system_organization"`
	RiskScore  *uint16  `maxminddb:"risk_score"`
	Sources    []string `maxminddb:"sources"`
	Provider   string   `maxminddb:"provider_name"`
	Confidence uint16   `maxminddb:"anonymizer_confidence"`
	FirstSeen  string   `maxminddb:"network_first_seen"`
	LastSeen   string   `maxminddb:"network_last_seen"`
}

// recordTable decodes each distinct MMDB data record once and interns the
// results: records[0] is the "not found" record, organisations and source
// lists are shared between records.
type recordTable struct {
	reader   *maxminddb.Reader
	byOffset map[uintptr]uint32
	byValue  map[record]uint32
	records  []record
	details  []detail
	detIDs   map[detail]uint32
	nameOffs map[string]uint32 // offset in names
	names    []byte            // distinct organisations and providers, concatenated
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
		details:  []detail{{}},
		detIDs:   map[detail]uint32{{}: 0},
		nameOffs: map[string]uint32{"": 0},
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
	det, err := t.detail(&m)
	if err != nil {
		return 0, fmt.Errorf("decode record at data offset %d: %w", offset, err)
	}
	src, err := t.sourceSet(m.Sources)
	if err != nil {
		return 0, fmt.Errorf("decode record at data offset %d: %w", offset, err)
	}
	var score uint8
	if m.RiskScore != nil {
		score = uint8(min(*m.RiskScore, 100))
	}
	rec := record{
		cat:    m.Categories(),
		asn:    m.ASN,
		det:    det,
		score:  score,
		scored: m.RiskScore != nil,
		conf:   uint8(min(m.Confidence, 99)),
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

// detail returns the index of the detail of m, adding it on first sight.
func (t *recordTable) detail(m *mmdbRecord) (uint32, error) {
	var d detail
	var err error
	if d.first, err = parseDate(m.FirstSeen); err != nil {
		return 0, fmt.Errorf("%s: %w", schema.KeyNetworkFirstSeen, err)
	}
	if d.last, err = parseDate(m.LastSeen); err != nil {
		return 0, fmt.Errorf("%s: %w", schema.KeyNetworkLastSeen, err)
	}
	if d.orgOff, d.orgLen, err = t.name(m.Org); err != nil {
		return 0, fmt.Errorf("organisation name of %d bytes: %w", len(m.Org), err)
	}
	if d.provOff, d.provLen, err = t.name(m.Provider); err != nil {
		return 0, fmt.Errorf("provider name of %d bytes: %w", len(m.Provider), err)
	}
	i, ok := t.detIDs[d]
	if !ok {
		i = uint32(len(t.details))
		t.details = append(t.details, d)
		t.detIDs[d] = i
	}
	return i, nil
}

// name returns where s is in the blob of distinct names, adding it on
// first sight.
func (t *recordTable) name(s string) (off uint32, n uint16, err error) {
	if len(s) > math.MaxUint16 {
		return 0, 0, fmt.Errorf("at most %d", math.MaxUint16)
	}
	off, ok := t.nameOffs[s]
	if !ok {
		if len(t.names)+len(s) > math.MaxUint32 {
			return 0, 0, errors.New("names exceed 4 GiB")
		}
		off = uint32(len(t.names))
		t.names = append(t.names, s...)
		t.nameOffs[s] = off
	}
	return off, uint16(len(s)), nil
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
// a few dozen KiB that stay in the processor's caches. It costs a sort
// of the records at Open.
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
	// Number the details in the order the records, most used first,
	// first use them, so the details of the hot records sit together.
	drenum := make([]uint32, len(t.details))
	dets := make([]detail, 1, len(t.details))
	for i := range recs[1:] {
		r := &recs[i+1]
		if r.det != 0 && drenum[r.det] == 0 {
			drenum[r.det] = uint32(len(dets))
			dets = append(dets, t.details[r.det])
		}
		r.det = drenum[r.det]
	}
	t.details = dets
}
