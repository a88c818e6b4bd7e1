// Package lookup answers IP intelligence queries in-process: it reads an
// MMDB (ipintel's own, or MaxMind's Anonymous-IP, ASN and ISP databases)
// once, flattens it into an immutable in-memory engine, and classifies an
// address in tens of nanoseconds without allocating.
//
// # Usage
//
//	db, err := lookup.Open("ipintel.mmdb")
//	if err != nil {
//		return err
//	}
//	rec, ok := db.Lookup(netip.MustParseAddr("203.0.113.7"))
//	if ok && rec.Categories&lookup.CategoryTorExit != 0 {
//		// …
//	}
//	verdict := lookup.DefaultPolicy().Decide(rec)
//
// # Concurrency
//
// A [DB] is immutable once [Open] returns and safe for concurrent use.
// A service holds it in a [Handle]: readers call [Handle.Load] once per
// request, and [Handle.Reload] builds a new DB beside the old one and
// swaps it in with one atomic store. A failed reload keeps the old DB.
//
// # Performance
//
// See the Performance section of the package documentation in doc.go.
package lookup
