// Package serve is ipintel's HTTP API as a library: the handlers behind
// "ipintel serve", their JSON answers and Prometheus metrics, and the code
// that keeps the served database current by following a file or a URL.
//
// # Endpoints
//
//	GET  /v1/ip/{addr}        the [Answer] object, as "ipintel lookup" prints it
//	POST /v1/ips              a JSON array of addresses → an array of answers
//	GET  /json/{addr}         flat drop-in shape (is_vpn, is_proxy, is_tor, …)
//	GET  /v1/reputation?ip=   {"ip":…,"security":{…},"asn":{…}}
//	ANY  /v1/auth             forward-auth: 200 allow, 401 challenge, 403 block
//	GET  /healthz, /readyz, /metrics
//
// Every answer's action comes from the record's risk score and
// Options.Policy. /v1/auth is [httpguard.Guard.ForwardAuth], and /v1/auth
// and /json/ (with no address) take the client address as
// [httpguard.ClientAddr] does, believing forwarding headers only from
// loopback and Options.TrustedProxies.
//
// # Usage
//
// To answer from a database you manage, wrap its [lookup.Handle] with
// [New] and mount [Server.Handler], under a prefix if you like:
//
//	db, err := lookup.Open("ipintel.mmdb")
//	…
//	api := serve.New(lookup.NewHandle(db), serve.Options{})
//	mux.Handle("/ipintel/", http.StripPrefix("/ipintel", api.Handler()))
//
// To follow a file or URL as "ipintel serve" does, [Open] it and run
// [Server.Watch] until shutdown; call [Server.Reload] on SIGHUP.
//
// # Guarantees
//
//   - Bad input is a 400 with a JSON error; every error, 404 and 405
//     included, is a JSON object {"error":…}. No input makes a handler
//     panic or answer 5xx, except 503 when no database is loaded.
//   - POST bodies are capped at Options.MaxBody and batches at
//     Options.MaxBatch (413 beyond).
//   - GET /v1/ip/{addr} allocates nothing of its own: the answer is
//     written without reflection into a pooled buffer, byte for byte what
//     encoding/json writes for [Answer].
//   - A database is served only if it passes the checks of "ipintel
//     verify" and holds at least one network (unless Options.AllowEmpty);
//     see [Open]. A refused reload leaves the current database serving.
//   - A reload builds the new database beside the old one and swaps it in
//     with one atomic store: every request sees one database throughout,
//     and none is dropped.
//   - Following a URL goes through [feeds.Fetcher]: conditional GET,
//     retries, a size cap, and a last good copy that is replaced only by a
//     database that passed the checks.
//
// # Concurrency
//
// A [Server] is safe for concurrent use. The package starts no goroutines:
// the caller runs [Server.Watch] and the HTTP server.
//
// # Metrics
//
// /metrics serves the Server's own Prometheus registry, so several Servers
// in one process do not collide: ipintel_lookups_total by action,
// ipintel_reloads_total, ipintel_reload_failures_total,
// ipintel_db_reload_refused_total by reason, ipintel_auth_client_address_errors_total,
// ipintel_request_duration_seconds by route, the serving database's age,
// networks, ranges and bytes, and the Go and process collectors.
package serve
