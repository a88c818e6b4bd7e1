package httpguard

import (
	"net/http"
	"strconv"

	"github.com/ipintel/ipintel/lookup"
)

// AuthOptions configures [Guard.ForwardAuth]. The zero value is ready to
// use.
type AuthOptions struct {
	// Observe, when not nil, is called once for every request, before its
	// answer is written, with the verdict answered. err is non-nil (an
	// [*AddrError]) when the client address could not be determined; the
	// request is then allowed and v is a bare allow.
	// Services count and log with it. It must be safe for concurrent use.
	Observe func(r *http.Request, v lookup.Verdict, err error)
}

// ForwardAuth returns the forward-auth handler for reverse proxies that ask
// another service whether to let a request through: nginx auth_request,
// Traefik ForwardAuth, Caddy forward_auth and Envoy ext_authz. It accepts
// any method, because nginx's subrequest keeps the method of the request it
// guards, and judges the client address of the request as [Guard.Decide]
// does.
//
// The answer is 200 for allow, 401 for challenge and 403 for block (with a
// small JSON body), never cached, with the decision in headers for the proxy
// to log or pass on:
//
//	X-Ipintel-Action        allow, challenge or block
//	X-Ipintel-Score         the score the action was decided on
//	X-Ipintel-Score-Source  whose score it is: "stored" or "policy"
//	X-Ipintel-Categories    the record's categories, e.g. "tor_exit,abuse"
//	X-Ipintel-Client        the client address judged
//	X-Ipintel-Error         set when the answer deserves a second look
//
// When the client address cannot be determined (a trusted proxy sent a
// garbled header) the answer is 200 with X-Ipintel-Action: allow and
// X-Ipintel-Error. Failing open is deliberate: nginx turns any status other
// than 2xx, 401 and 403 from auth_request into a 500 for the visitor, so a
// 400 here would take the site down over a header, and the address only
// feeds a risk signal, not an authentication. An attacker cannot reach this
// case: the trusted proxy appends the real peer, which is read first. A
// trusted proxy that forwards no client address at all is judged by its own
// address, with X-Ipintel-Error saying so.
//
// The header values are shared and precomputed: forward-auth sits in front
// of every request of the guarded site.
func (g *Guard) ForwardAuth(opts AuthOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr, rec, v, err := g.Decide(r)
		h := w.Header()
		h["Cache-Control"] = hdrNoStore
		if err != nil {
			if opts.Observe != nil {
				opts.Observe(r, lookup.Verdict{Action: lookup.ActionAllow}, err)
			}
			h["X-Ipintel-Action"] = actionHeader[lookup.ActionAllow]
			h.Set("X-Ipintel-Error", err.Error())
			w.WriteHeader(http.StatusOK)
			return
		}
		if opts.Observe != nil {
			opts.Observe(r, v, nil)
		}
		h["X-Ipintel-Action"] = actionHeader[min(int(v.Action), len(actionHeader)-1)]
		h["X-Ipintel-Score"] = scoreHeader[v.Score]
		h["X-Ipintel-Score-Source"] = scoreSourceHeader[min(int(v.Source), len(scoreSourceHeader)-1)]
		h["X-Ipintel-Categories"] = categoryHeader[rec.Categories&categoryMask]
		h["X-Ipintel-Client"] = []string{addr.String()}
		if !HasForwardingHeader(r) && g.Trusts(addr) {
			h.Set("X-Ipintel-Error", "no forwarding header from a trusted proxy: judged the proxy's own address")
		}
		switch v.Action {
		case lookup.ActionBlock:
			h["Content-Type"] = hdrJSON
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write(bodyBlocked)
		case lookup.ActionChallenge:
			h["Content-Type"] = hdrJSON
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write(bodyChallenge)
		default:
			w.WriteHeader(http.StatusOK)
		}
	})
}

// categoryMask holds every category bit, relay (bit 8) included.
const categoryMask = 1<<9 - 1

// Precomputed forward-auth header values and bodies; never modified.
var (
	actionHeader      [3][]string                // by lookup.Action
	scoreHeader       [256][]string              // by score
	scoreSourceHeader [2][]string                // by lookup.ScoreSource
	categoryHeader    [categoryMask + 1][]string // by the 9 category bits
	bodyBlocked       = []byte(`{"error":"blocked"}` + "\n")
	bodyChallenge     = []byte(`{"error":"challenge"}` + "\n")
)

func init() {
	for i := range actionHeader {
		actionHeader[i] = []string{lookup.Action(i).String()}
	}
	for i := range scoreSourceHeader {
		scoreSourceHeader[i] = []string{lookup.ScoreSource(i).String()}
	}
	for i := range scoreHeader {
		scoreHeader[i] = []string{strconv.Itoa(i)}
	}
	for i := range categoryHeader {
		categoryHeader[i] = []string{lookup.Category(i).String()}
	}
}
