package builder

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"go4.org/netipx"

	"github.com/ipintel/ipintel/schema"
)

// Product is a MaxMind database product that a companion file is typed as
// (docs/design.md §10). MaxMind's readers choose the lookups they allow by the
// file's database_type, so a companion carries that product's exact
// database_type, field names and field types, and only the networks the
// product holds.
type Product string

// The products [Builder.WriteCompanion] writes. Their fields:
//
//   - ProductAnonymousIP: is_anonymous, is_anonymous_vpn,
//     is_hosting_provider, is_public_proxy, is_residential_proxy,
//     is_tor_exit_node (booleans, written only when true), for the
//     networks with an anonymizer or hosting flag.
//   - ProductAnonymousPlus: those, plus anonymizer_confidence (uint16),
//     network_last_seen (string, YYYY-MM-DD) and provider_name (string),
//     each when known; the same networks.
//   - ProductASN: autonomous_system_number (uint32) and
//     autonomous_system_organization (string), for the networks with an
//     ASN.
const (
	ProductAnonymousIP   Product = "GeoIP2-Anonymous-IP"
	ProductAnonymousPlus Product = "GeoIP-Anonymous-Plus"
	ProductASN           Product = "GeoLite2-ASN"
)

// Products returns every product, in a fixed order.
func Products() []Product {
	return []Product{ProductAnonymousIP, ProductAnonymousPlus, ProductASN}
}

// ParseProduct returns the product whose database_type is s.
func ParseProduct(s string) (Product, bool) {
	for _, p := range Products() {
		if string(p) == s {
			return p, true
		}
	}
	return "", false
}

// String returns the product's database_type.
func (p Product) String() string {
	switch p {
	case ProductAnonymousIP, ProductAnonymousPlus, ProductASN:
		return string(p)
	default:
		return fmt.Sprintf("Product(%q)", string(p))
	}
}

// description is the metadata description of a product's companion: like
// MaxMind's own ("GeoIP2 Anonymous IP database"), naming its maker.
func (p Product) description() string {
	switch p {
	case ProductAnonymousIP:
		return "GeoIP2 Anonymous IP compatible database by ipintel"
	case ProductAnonymousPlus:
		return "GeoIP Anonymous Plus compatible database by ipintel"
	case ProductASN:
		return "GeoLite2 ASN compatible database by ipintel"
	default:
		return ""
	}
}

// companionRecord is what one network holds in a product's file: the
// projection of a merged record onto the product's fields. It is
// comparable, so equal neighbours can be merged and equal records written
// once.
type companionRecord struct {
	cats       schema.Category // anonymous flags only
	confidence uint16
	lastSeen   string
	provider   string
	asn        uint32
	org        string
}

// companionOf projects r onto p's fields; ok is false when p holds no
// network with r.
func companionOf(p Product, r *record) (c companionRecord, ok bool) {
	switch p {
	case ProductAnonymousIP, ProductAnonymousPlus:
		c.cats = r.cats & schema.CategoryAnonymous
		if c.cats == 0 {
			return c, false
		}
		if p == ProductAnonymousPlus {
			c.confidence, c.lastSeen, c.provider = r.confidence, r.lastSeen, r.provider
		}
		return c, true
	case ProductASN:
		if r.asn == 0 {
			return c, false
		}
		c.asn, c.org = r.asn, r.org
		return c, true
	}
	return c, false
}

// mmdbMap returns the record under MaxMind's keys and types for the
// product; booleans are written only when true, as MaxMind does.
func (c companionRecord) mmdbMap() mmdbtype.Map {
	m := mmdbtype.Map{}
	if c.cats != 0 {
		m[schema.KeyIsAnonymous] = mmdbtype.Bool(true)
		for _, cat := range schema.Categories() {
			if c.cats&cat != 0 {
				m[mmdbtype.String(cat.Key())] = mmdbtype.Bool(true)
			}
		}
	}
	if c.confidence != 0 {
		m[schema.KeyAnonymizerConfidence] = mmdbtype.Uint16(c.confidence)
	}
	if c.lastSeen != "" {
		m[schema.KeyNetworkLastSeen] = mmdbtype.String(c.lastSeen)
	}
	if c.provider != "" {
		m[schema.KeyProviderName] = mmdbtype.String(c.provider)
	}
	if c.asn != 0 {
		m[schema.KeyASN] = mmdbtype.Uint32(c.asn)
	}
	if c.org != "" {
		m[schema.KeyASOrg] = mmdbtype.String(c.org)
	}
	return m
}

// companionTree is a product's file, ready to write.
type companionTree struct {
	tree     *mmdbwriter.Tree
	networks int // networks inserted
}

// companion builds the tree of a product's file from the merge result.
//
// The merged networks are projected onto the product's fields; runs of
// adjacent networks whose projections are equal become one range, which
// is split into the fewest prefixes, so the file holds as few networks as
// the product's fields allow. Networks go in in address order and are
// disjoint, as in [Builder.WriteTo].
func (b *Builder) companion(p Product) (*companionTree, error) {
	if _, ok := ParseProduct(string(p)); !ok {
		return nil, fmt.Errorf("unknown product %q", string(p))
	}
	m, err := b.merged(context.Background())
	if err != nil {
		return nil, err
	}
	proj := make([]companionRecord, len(m.recs))
	keep := make([]bool, len(m.recs))
	for i, r := range m.recs {
		proj[i], keep[i] = companionOf(p, r)
	}

	type run struct {
		rng netipx.IPRange
		rec companionRecord
	}
	var runs []run
	for i, pfx := range m.pfxs {
		ri := m.recOf[i]
		if !keep[ri] {
			continue
		}
		rng := netipx.RangeOfPrefix(pfx)
		if n := len(runs); n > 0 {
			last := &runs[n-1]
			if last.rec == proj[ri] && last.rng.To().Next() == rng.From() {
				last.rng = netipx.IPRangeFrom(last.rng.From(), rng.To())
				continue
			}
		}
		runs = append(runs, run{rng, proj[ri]})
	}

	tree, err := mmdbwriter.New(mmdbwriter.Options{
		BuildEpoch:              m.epoch,
		DatabaseType:            string(p),
		Description:             map[string]string{"en": p.description()},
		Languages:               []string{"en"},
		IPVersion:               6,
		RecordSize:              recordSize(len(m.pfxs)),
		IncludeReservedNetworks: true, // reserved space is the merge's business
		KeyGenerator:            mapKeys{},
	})
	if err != nil {
		return nil, fmt.Errorf("new %s tree: %w", p, err)
	}
	// One Map per distinct record, shared by its networks, as mapKeys needs.
	maps := map[companionRecord]mmdbtype.Map{}
	var pfxs []netip.Prefix
	n := 0
	for _, r := range runs {
		v, ok := maps[r.rec]
		if !ok {
			v = r.rec.mmdbMap()
			maps[r.rec] = v
		}
		pfxs = r.rng.AppendPrefixes(pfxs[:0])
		for _, pfx := range pfxs {
			if err := tree.Insert(netipx.PrefixIPNet(pfx), v); err != nil {
				return nil, fmt.Errorf("insert %s into %s: %w", pfx, p, err)
			}
		}
		n += len(pfxs)
	}
	return &companionTree{tree: tree, networks: n}, nil
}

// WriteCompanion writes to w the companion file of product p (docs/design.md
// §10): p's database_type, field names and field types, and only the
// networks p holds, from the same merge as [Builder.WriteTo] and with the
// same build_epoch. It may be called before or after WriteTo, and once for
// each product; the same inputs give the same bytes.
func (b *Builder) WriteCompanion(w io.Writer, p Product) (int64, error) {
	c, err := b.companion(p)
	if err != nil {
		return 0, err
	}
	n, err := c.tree.WriteTo(w)
	if err != nil {
		return n, fmt.Errorf("write %s: %w", p, err)
	}
	return n, nil
}

// OutputSummary reports one companion file a build wrote.
type OutputSummary struct {
	Path     string  `json:"path"`
	Product  Product `json:"type"`
	Networks int     `json:"networks"`
	Size     int64   `json:"size"`
}

// writeOutputs writes the companion file of every [[output]] from b's
// merge. All files are published together or not at all: each is first
// written to a temporary file beside its path and synced, and only when
// every one has been written are they renamed over their paths. On error
// no path has been touched, unless a rename itself fails.
func writeOutputs(ctx context.Context, b *Builder, outs []OutputConfig) ([]OutputSummary, error) {
	_, sums, err := writeBuild(ctx, b, "", outs)
	return sums, err
}

// writeBuild is writeOutputs with the main database as well: when out is
// not "", b's main file is staged first and published with the
// companions, so a build replaces either all of its files or none. It
// returns the main file's size. When ctx is done before the renames,
// nothing is published and ctx's error is returned.
func writeBuild(ctx context.Context, b *Builder, out string, outs []OutputConfig) (int64, []OutputSummary, error) {
	var staged []*stagedFile
	defer func() {
		for _, s := range staged {
			s.discard()
		}
	}()
	var size int64
	if out != "" {
		s, err := stage(out, func(w io.Writer) (int64, error) { return b.writeTo(ctx, w) })
		if err != nil {
			return 0, nil, err
		}
		staged = append(staged, s)
		size = s.size
	}
	sums := make([]OutputSummary, 0, len(outs))
	for _, o := range outs {
		c, err := b.companion(o.Product)
		if err != nil {
			return 0, nil, fmt.Errorf("output %s: %w", o.Path, err)
		}
		s, err := stage(o.Path, func(w io.Writer) (int64, error) { return c.tree.WriteTo(ctxWriter{ctx, w}) })
		if err != nil {
			return 0, nil, err
		}
		staged = append(staged, s)
		sums = append(sums, OutputSummary{Path: o.Path, Product: o.Product, Networks: c.networks, Size: s.size})
	}
	if err := ctx.Err(); err != nil {
		return 0, nil, err
	}
	if err := commitStaged(staged); err != nil {
		return 0, nil, err
	}
	return size, sums, nil
}

// stagedFile is a finished, synced temporary file waiting to be renamed
// over its path.
type stagedFile struct {
	path, tmp string
	size      int64
	done      bool // renamed, or removed
}

// stage writes a temporary file beside path with write, syncs and closes
// it. Until the rename (see commitStaged) the old file is untouched.
func stage(path string, write func(io.Writer) (int64, error)) (s *stagedFile, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	n, err := write(bw)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if err = bw.Flush(); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return nil, fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return nil, fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	return &stagedFile{path: path, tmp: tmp.Name(), size: n}, nil
}

// discard removes the temporary file unless it was renamed.
func (s *stagedFile) discard() {
	if !s.done {
		os.Remove(s.tmp)
		s.done = true
	}
}

// commitStaged renames every staged file over its path, then syncs each
// directory once so the renames survive a crash; the second half of
// the build. The beforeRename hook runs for every file before the first
// rename, so a failing hook leaves every path untouched.
func commitStaged(staged []*stagedFile) error {
	if beforeRename != nil {
		for _, s := range staged {
			if err := beforeRename(s.tmp); err != nil {
				return fmt.Errorf("write %s: %w", s.path, err)
			}
		}
	}
	for _, s := range staged {
		if err := os.Rename(s.tmp, s.path); err != nil {
			return fmt.Errorf("replace %s: %w", s.path, err)
		}
		s.done = true
	}
	var errs []error
	synced := map[string]bool{}
	for _, s := range staged {
		dir := filepath.Dir(s.path)
		if synced[dir] {
			continue
		}
		synced[dir] = true
		d, err := os.Open(dir)
		if err != nil {
			continue // a directory that cannot be opened cannot be synced
		}
		if err := d.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("sync directory %s: %w", dir, err))
		}
		d.Close()
	}
	return errors.Join(errs...)
}
