package schema

// CategoryFlags holds the boolean category keys of an MMDB record as a
// maxminddb-golang decoding target. Embed it in a record struct: the
// decoder fills the embedded fields, and Categories turns them into a
// Category. It is the one place that maps a record's flags to categories.
type CategoryFlags struct {
	IsTorExitNode      bool `maxminddb:"is_tor_exit_node"`
	IsAnonymousVPN     bool `maxminddb:"is_anonymous_vpn"`
	IsPublicProxy      bool `maxminddb:"is_public_proxy"`
	IsResidentialProxy bool `maxminddb:"is_residential_proxy"`
	IsHostingProvider  bool `maxminddb:"is_hosting_provider"`
	IsAbuse            bool `maxminddb:"is_abuse"`
	IsCrawler          bool `maxminddb:"is_crawler"`
	IsAllowlisted      bool `maxminddb:"is_allowlisted"`
	IsRelay            bool `maxminddb:"is_relay"`
}

// Categories returns the categories whose flags are set.
func (f CategoryFlags) Categories() Category {
	var c Category
	for _, x := range [...]struct {
		set bool
		cat Category
	}{
		{f.IsTorExitNode, CategoryTorExit},
		{f.IsAnonymousVPN, CategoryVPN},
		{f.IsPublicProxy, CategoryPublicProxy},
		{f.IsResidentialProxy, CategoryResidentialProxy},
		{f.IsHostingProvider, CategoryHosting},
		{f.IsAbuse, CategoryAbuse},
		{f.IsCrawler, CategoryCrawler},
		{f.IsAllowlisted, CategoryAllow},
		{f.IsRelay, CategoryRelay},
	} {
		if x.set {
			c |= x.cat
		}
	}
	return c
}
