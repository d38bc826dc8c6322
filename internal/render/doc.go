// Package render is Strike's adapter to an OSP's Render instance (Render Networks' field
// operations platform). Render's endpoint list is not public, so the adapter implements the
// contract written in docs/render-api.md, and every Render-specific shape stays behind the API
// interface: when the real endpoints are known, only this package changes, not the poller or
// the dispatch.
//
// One Client talks to one instance with that instance's own credentials (OAuth2 client
// credentials, exchanged for short-lived bearer tokens). It bounds every HTTP attempt with a
// timeout, retries 5xx, timeouts and network errors with exponential backoff, honours 429
// Retry-After within the caller's context, refreshes a token the server rejects early, and
// reports a malformed or truncated answer as ErrMalformed, never a panic and never a silent
// skip. Neither the client secret nor a token ever appears in an error or a log line.
package render
