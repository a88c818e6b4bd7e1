// Package httpguard is net/http middleware that classifies each request's
// client address with an ipintel database and allows, challenges or blocks
// it according to a [lookup.Policy], and the forward-auth handler that asks
// the same question for a reverse proxy ([Guard.ForwardAuth]).
//
// # Usage
//
//	h := lookup.NewHandle(db)
//	g := httpguard.New(h, httpguard.Options{
//		OnChallenge: http.RedirectHandler("/captcha", http.StatusSeeOther),
//	})
//	http.ListenAndServe("127.0.0.1:8080", g.Wrap(mux))
//
// Handlers behind the guard read the verdict with [FromContext].
//
// # Client address
//
// The client address comes from [ClientAddr]: the connection's peer, or,
// when the peer is a trusted proxy, the forwarding header it wrote, walked
// from the right past trusted hops. [Guard.ForwardAuth], the forward-auth
// handler for reverse proxies, uses the same function, so the middleware and
// the forward-auth answers agree.
//
// The address is never zoned. ipintel's rule is that a zoned address is
// not a public address: [lookup.DB.Lookup] does not find one, and parsers
// reject one as bad input. ClientAddr is the one place that meets zones
// it did not ask for: the kernel reports a link-local peer with the zone
// of the link it came in on ("[fe80::1%eth0]:443"), and a proxy on the
// same link may copy it into a header. Refusing such a request would
// fail a real client for a detail of our own host, so ClientAddr drops
// the zone and keeps the address, which trusted networks (prefixes carry
// no zone) can match. A link-local client is then looked up as the
// link-local address it is, which an ipintel database does not hold
// (docs/design.md §4 Reserved space).
//
// # Concurrency
//
// A [Guard] is safe for concurrent use. It reads the database through a
// [lookup.Handle], so a reload swaps the database under live traffic; each
// request uses one snapshot throughout.
//
// # Performance
//
// A request that passes costs one lookup (which does not allocate), the
// header walk, and the context value: two small allocations, the request copy
// [net/http.Request.WithContext] makes and the context (BenchmarkMiddleware).
package httpguard

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/ipintel/ipintel/lookup"
)

// Options configures a [Guard]. The zero value means: the default policy,
// loopback proxies only, challenged requests passed on, blocked requests
// answered 403 with a JSON body.
type Options struct {
	// Policy maps a record to an action. Nil means [lookup.DefaultPolicy].
	Policy *lookup.Policy

	// TrustedProxies are the networks whose forwarding headers are believed.
	// Nil means [Loopback]; an empty, non-nil slice trusts no proxy.
	TrustedProxies []netip.Prefix

	// OnChallenge serves requests whose action is challenge, e.g. a redirect
	// to a CAPTCHA. Nil passes them to the wrapped handler, which can read
	// the verdict with [FromContext].
	OnChallenge http.Handler

	// OnBlock serves requests whose action is block. Nil answers 403 with
	// {"error":"blocked","action":"block","score":N,"score_source":"…","categories":"…"},
	// where score is the score the action was decided on and score_source
	// says whether it is the database's ("stored") or the policy's ("policy").
	OnBlock http.Handler
}

// Guard decides, for each request, whether its client may proceed.
// Create it with [New]; the zero value is not usable. A Guard must not be
// copied after first use.
type Guard struct {
	h       *lookup.Handle
	policy  lookup.Policy
	trusted []netip.Prefix
	opts    Options
}

// New returns a Guard reading databases from h.
func New(h *lookup.Handle, opts Options) *Guard {
	g := &Guard{h: h, opts: opts, trusted: opts.TrustedProxies}
	if opts.Policy != nil {
		g.policy = *opts.Policy
	} else {
		g.policy = lookup.DefaultPolicy()
	}
	if g.trusted == nil {
		g.trusted = loopback
	}
	return g
}

// Trusts reports whether a lies in one of the Guard's trusted proxy
// networks, whose forwarding headers [ClientAddr] follows.
func (g *Guard) Trusts(a netip.Addr) bool { return contains(g.trusted, a) }

// Decide returns the client address of r, its record (the zero Record when
// the address is not in the database or no database is loaded) and the
// verdict. The error, an [*AddrError], says the client address could not be
// determined; the verdict is then the policy's verdict on the zero Record.
func (g *Guard) Decide(r *http.Request) (netip.Addr, lookup.Record, lookup.Verdict, error) {
	addr, err := ClientAddr(r, g.trusted...)
	if err != nil {
		return netip.Addr{}, lookup.Record{}, g.policy.Decide(lookup.Record{}), err
	}
	var rec lookup.Record
	if db := g.h.Load(); db != nil {
		rec, _ = db.Lookup(addr)
	}
	return addr, rec, g.policy.Decide(rec), nil
}

type ctxKey struct{}

// decisionCtx carries a decision in a request's context. It is its own
// context.Context, which saves the separate allocation context.WithValue
// would make.
type decisionCtx struct {
	context.Context
	rec lookup.Record
	v   lookup.Verdict
}

// Value returns the decisionCtx itself for ctxKey.
func (c *decisionCtx) Value(key any) any {
	if _, ok := key.(ctxKey); ok {
		return c
	}
	return c.Context.Value(key)
}

// FromContext returns the record and verdict the guard attached to a
// request's context, and reports whether there were any. The verdict's
// Score is the one its action was decided on; show it rather than the
// record's stored Score, which a database without risk_score leaves 0.
func FromContext(ctx context.Context) (lookup.Record, lookup.Verdict, bool) {
	d, ok := ctx.Value(ctxKey{}).(*decisionCtx)
	if !ok {
		return lookup.Record{}, lookup.Verdict{}, false
	}
	return d.rec, d.v, true
}

// Wrap returns middleware around next. Requests whose client cannot be
// determined (a garbled header from a trusted proxy) fail open: they are
// treated as a database miss, so a misconfigured proxy degrades protection
// rather than availability.
func (g *Guard) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, rec, v, _ := g.Decide(r)
		r = r.WithContext(&decisionCtx{Context: r.Context(), rec: rec, v: v})
		switch v.Action {
		case lookup.ActionBlock:
			if g.opts.OnBlock != nil {
				g.opts.OnBlock.ServeHTTP(w, r)
				return
			}
			blocked(w, v)
		case lookup.ActionChallenge:
			if g.opts.OnChallenge != nil {
				g.opts.OnChallenge.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// Header values shared by every blocked response; never modified.
var (
	hdrJSON    = []string{"application/json"}
	hdrNoStore = []string{"no-store"}
)

// blocked writes the default 403 JSON answer.
func blocked(w http.ResponseWriter, v lookup.Verdict) {
	b := make([]byte, 0, 128)
	b = append(b, `{"error":"blocked","action":`...)
	b = strconv.AppendQuote(b, v.Action.String())
	b = append(b, `,"score":`...)
	b = strconv.AppendUint(b, uint64(v.Score), 10)
	b = append(b, `,"score_source":`...)
	b = strconv.AppendQuote(b, v.Source.String())
	b = append(b, `,"categories":`...)
	b = strconv.AppendQuote(b, v.Reasons.String())
	b = append(b, "}\n"...)
	h := w.Header()
	h["Content-Type"] = hdrJSON
	h["Cache-Control"] = hdrNoStore
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write(b)
}
