// Package twilio is Strike's adapter to Twilio's Programmable Voice REST API
// (2010-04-01 Calls resource), built on the official twilio-go client.
//
// Strike owns one set of main Twilio credentials; every call is placed under
// the NOC's subaccount SID (the path AccountSid), chosen per call. No NOC
// configures credentials, webhooks or call flows (DESIGN §1).
//
// What the adapter adds on top of twilio-go:
//
//   - a calls-per-second limiter per account/subaccount (golang.org/x/time/rate),
//     so one NOC's storm never delays another NOC's calls (DESIGN §3);
//   - typed errors: every failure carries one sentinel kind (ErrInvalidNumber,
//     ErrCredentials, ErrRateLimited, ...) and still wraps the
//     *client.TwilioRestError, so callers use errors.Is for the decision and
//     errors.As for the detail;
//   - bounded retries (cenkalti/backoff/v5): reads retry rate limits, 5xx and
//     transport errors; CreateCall, which Twilio documents as not idempotent,
//     retries only what proves nothing was created (429, dial errors) and
//     marks the rest MayHaveCreated, for the caller to look the call up
//     (FindCalls) before placing it again;
//   - account problems (IsAccountProblem: credentials, caller id, geo
//     permissions, closed subaccount, ...) kept apart from invalid numbers,
//     and a fail-fast hold after a credentials error so a broken subaccount
//     never makes the dialer spin;
//   - webhook tokens per account (WebhookTokens): a subaccount's webhooks are
//     signed with its own auth token, read with the main credentials from
//     the Accounts resource (FetchAccount) and cached;
//   - context propagation: twilio-go builds its requests with
//     context.Background, so each request gets an http.RoundTripper that binds
//     the caller's context (see transport.go);
//   - webhook signing/validation helpers (Sign, ValidateRequest), callback
//     parsing (ParseCallback) and the TwiML of a callout (GatherTwiML).
//
// # Pointing twilio-go at the simulator
//
// twilio-go hard-codes https://api.twilio.com in its ApiService (the field is
// unexported) and RequestHandler.BuildUrl only rewrites edge/region
// sub-domains. The supported extension point is client.BaseClient (what
// twilio.ClientParams.Client accepts): Config.BaseURL installs a BaseClient
// that wraps twilio-go's own *client.Client and, in SendRequest, replaces the
// scheme and host of the already built URL with those of BaseURL before
// delegating. Everything else — form encoding, basic auth, User-Agent, error
// decoding into *client.TwilioRestError — is twilio-go's unchanged code, so
// tests against internal/twiliosim exercise the real request path.
//
// We build the v2010 ApiService directly (openapi.NewApiService) per request
// instead of twilio.NewRestClientWithParams, which would construct ~60 API
// services per call; it is the same service the RestClient exposes as .Api.
//
// Metrics (on the Registerer given to New; nil registers nothing):
//
//	strike_twilio_cps_wait_seconds            histogram: time spent waiting on a CPS limiter
//	strike_twilio_errors_total{code}          counter: Twilio error code, "http_<status>", "transport" or "local"
//	strike_twilio_credentials_alert{account_sid} gauge: 1 while the account's credentials are rejected
//
// The auth token is never logged and never appears in an error string.
package twilio
