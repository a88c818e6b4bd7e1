// Package mmdbcheck checks an MMDB file against the record schema of
// docs/design.md §2: what "ipintel verify" reports and what the HTTP
// service refuses to serve.
package mmdbcheck

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/ipintel/ipintel/schema"
)

// boolKeys are the MMDB keys that hold booleans.
var boolKeys = []string{
	schema.KeyIsAnonymous, schema.KeyIsAnonymousVPN, schema.KeyIsHostingProvider,
	schema.KeyIsPublicProxy, schema.KeyIsResidentialProxy, schema.KeyIsTorExitNode,
	schema.KeyIsAbuse, schema.KeyIsCrawler, schema.KeyIsAllowlisted,
}

// Schema decodes every distinct record of the file with maxminddb-golang
// (independently of ipintel's engine) and returns the schema problems
// found, the number of networks and of distinct records, and the ipintel
// manifest, nil when the file has none.
func Schema(ctx context.Context, path string) (problems []string, networks, records int, m *schema.Manifest, err error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, 0, 0, nil, openError(path, err)
	}
	defer r.Close()
	manifest, strict, err := schema.ParseManifest(r.Metadata.Description)
	if err != nil {
		problems = append(problems, err.Error())
		strict = false
	}
	feeds := map[string]bool{}
	if strict {
		if manifest.SchemaVersion != schema.SchemaVersion {
			problems = append(problems, fmt.Sprintf("manifest: schema_version %d, want %d", manifest.SchemaVersion, schema.SchemaVersion))
		}
		if got := uint64(r.Metadata.BuildEpoch); manifest.BuildEpoch != int64(got) {
			problems = append(problems, fmt.Sprintf("manifest: build_epoch %d, metadata says %d", manifest.BuildEpoch, got))
		}
		for _, f := range manifest.Feeds {
			if feeds[f.Name] {
				problems = append(problems, fmt.Sprintf("manifest: duplicate feed %q", f.Name))
			}
			feeds[f.Name] = true
			if _, ok := f.Kind.Category(); !ok {
				problems = append(problems, fmt.Sprintf("manifest: feed %q: unknown kind %q", f.Name, f.Kind))
			}
		}
	}
	seen := map[uintptr][]string{} // offset → problems of that record
	for res := range r.Networks() {
		if err := ctx.Err(); err != nil {
			return nil, 0, 0, nil, err
		}
		if err := res.Err(); err != nil {
			return nil, 0, 0, nil, fmt.Errorf("walk %s: %w", path, err)
		}
		networks++
		off := res.Offset()
		ps, ok := seen[off]
		if !ok {
			var m map[string]any
			if err := res.Decode(&m); err != nil {
				ps = []string{fmt.Sprintf("decode: %v", err)}
			} else {
				ps = checkRecord(m, strict, feeds)
			}
			seen[off] = ps
		}
		for _, p := range ps {
			problems = append(problems, fmt.Sprintf("network %s: %s", res.Prefix(), p))
		}
	}
	if strict {
		m = &manifest
	}
	return problems, networks, len(seen), m, nil
}

// checkRecord returns the schema problems of one decoded record.
func checkRecord(m map[string]any, strict bool, feeds map[string]bool) []string {
	var ps []string
	flags := map[string]bool{}
	for _, k := range boolKeys {
		v, ok := m[k]
		if !ok {
			continue
		}
		b, isBool := v.(bool)
		switch {
		case !isBool:
			ps = append(ps, fmt.Sprintf("%s: %T, want bool", k, v))
		case !b:
			ps = append(ps, fmt.Sprintf("%s: false is written; booleans are stored only when true", k))
		default:
			flags[k] = true
		}
	}
	score, hasScore := uint64(0), false
	if v, ok := m[schema.KeyRiskScore]; ok {
		n, isUint := schema.Unsigned(v)
		switch {
		case !isUint:
			ps = append(ps, fmt.Sprintf("%s: %T, want an unsigned integer", schema.KeyRiskScore, v))
		case n > 100:
			ps = append(ps, fmt.Sprintf("%s: %d, want 0-100", schema.KeyRiskScore, n))
		default:
			score, hasScore = n, true
		}
	}
	if v, ok := m[schema.KeyASN]; ok {
		if n, isUint := schema.Unsigned(v); !isUint || n > 1<<32-1 {
			ps = append(ps, fmt.Sprintf("%s: %v (%T), want uint32", schema.KeyASN, v, v))
		}
	}
	if v, ok := m[schema.KeyASOrg]; ok {
		if _, isStr := v.(string); !isStr {
			ps = append(ps, fmt.Sprintf("%s: %T, want string", schema.KeyASOrg, v))
		}
	}
	var sources []string
	if v, ok := m[schema.KeySources]; ok {
		arr, isArr := v.([]any)
		if !isArr {
			ps = append(ps, fmt.Sprintf("%s: %T, want array of strings", schema.KeySources, v))
		}
		for _, x := range arr {
			s, isStr := x.(string)
			if !isStr {
				ps = append(ps, fmt.Sprintf("%s: element %T, want string", schema.KeySources, x))
				continue
			}
			sources = append(sources, s)
		}
		if !slices.IsSorted(sources) || len(slices.Compact(slices.Clone(sources))) != len(sources) {
			ps = append(ps, fmt.Sprintf("%s: %q not sorted and unique", schema.KeySources, sources))
		}
	}
	if !strict {
		return ps
	}
	anon := flags[schema.KeyIsAnonymousVPN] || flags[schema.KeyIsPublicProxy] || flags[schema.KeyIsResidentialProxy] ||
		flags[schema.KeyIsTorExitNode] || flags[schema.KeyIsHostingProvider]
	if anon != flags[schema.KeyIsAnonymous] {
		ps = append(ps, fmt.Sprintf("%s is %t but the flags it summarises say %t", schema.KeyIsAnonymous, flags[schema.KeyIsAnonymous], anon))
	}
	if flags[schema.KeyIsAllowlisted] {
		for _, k := range []string{schema.KeyIsAnonymous, schema.KeyIsAnonymousVPN, schema.KeyIsHostingProvider,
			schema.KeyIsPublicProxy, schema.KeyIsResidentialProxy, schema.KeyIsTorExitNode, schema.KeyIsAbuse} {
			if flags[k] {
				ps = append(ps, fmt.Sprintf("allowlisted but %s is set", k))
			}
		}
		if hasScore && score != 0 {
			ps = append(ps, fmt.Sprintf("allowlisted but %s is %d", schema.KeyRiskScore, score))
		}
	}
	for _, s := range sources {
		if !feeds[s] {
			ps = append(ps, fmt.Sprintf("source %q is not a feed of the manifest", s))
		}
	}
	return ps
}

// openError names path in err unless err already does.
func openError(path string, err error) error {
	if _, ok := errors.AsType[*fs.PathError](err); ok {
		return err
	}
	return fmt.Errorf("open %s: %w", path, err)
}
