// Package rendersim is an in-memory simulator of Render's field-job API as Strike's adapter
// contract defines it (docs/render-api.md). It is a real HTTP server, so tests and `strike dev`
// drive the real adapter over real HTTP.
//
// One Server serves many Render instances on one listener, each under its own path prefix:
// instance "acme" has base URL http://host:port/acme, its own client id and secret, its own
// tokens (a token of one instance is refused by every other), jobs, change feed, faults and
// request counters.
//
// Time comes from an injected Clock. Jobs move dispatched → en_route → on_site → resolved on the
// instance's Schedule, evaluated lazily against the clock whenever the instance is touched, so a
// test that advances a ManualClock sees exactly the transitions that fell due, with updated_at
// set to when each fell due. There are no background goroutines.
//
// Faults (Faults) are switched on per instance at runtime; counted faults fire on the next N
// API requests (Always for every request) and then switch themselves off.
package rendersim
